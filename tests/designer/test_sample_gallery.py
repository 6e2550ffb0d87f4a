"""File > Open Sample: every sample with its title and description, in teaching order."""
from __future__ import annotations

import json

from netdesigner.designer.main_window import SAMPLES_DIR, SampleGallery


def _visible(gallery) -> list[str]:
    return [gallery.list.item(i).data(0x0100).split("/")[-1]
            for i in range(gallery.list.count()) if not gallery.list.item(i).isHidden()]


def test_the_gallery_lists_every_sample_in_the_readme_order(qtbot, tmp_path):
    gallery = SampleGallery()
    qtbot.addWidget(gallery)
    names = _visible(gallery)
    assert sorted(names) == sorted(p.name for p in SAMPLES_DIR.glob("*.graph"))
    readme = (SAMPLES_DIR / "README.md").read_text()
    positions = [readme.index(f"`{n}`") for n in names]
    assert positions == sorted(positions)                      # perceptron first, GAN later
    first = gallery.list.item(0).text()
    title = json.loads((SAMPLES_DIR / names[0]).read_text())["metadata"]["title"]
    assert first.startswith(title + "\n")
    gallery.show()
    gallery.grab().save(str(tmp_path / "gallery.png"))


def test_the_filter_keeps_matching_samples(qtbot):
    gallery = SampleGallery()
    qtbot.addWidget(gallery)
    gallery.filter.setText("autoencoder")
    shown = _visible(gallery)
    assert "sparse_autoencoder.graph" in shown and "vae_digits.graph" in shown
    assert "mlp_digits.graph" not in shown
    gallery.filter.setText("")
    assert len(_visible(gallery)) == gallery.list.count()
