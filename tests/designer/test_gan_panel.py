"""GAN mode from the designer: the Generated tab shows the generator's points live."""
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from netdesigner.graph import fileformat

ROOT = Path(__file__).resolve().parents[2]


def test_a_gan_run_shows_generated_points_over_the_real_ones(window, qtbot, tmp_path):
    g = fileformat.load(ROOT / "samples" / "gan_moons.graph")
    path = tmp_path / "gan_moons.graph"
    fileformat.save(g, path)
    assert window.open_file(path, ask=False)
    panel = window.training
    qtbot.waitUntil(lambda: panel.data_state == "ok", timeout=30_000)   # read in a thread
    assert "fits the network" in panel.data_label.text(), panel.data_label.text()
    panel.plots.setCurrentWidget(panel.generated)
    QTest.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.last_end is not None, timeout=90_000)
    panel.poll()
    qtbot.wait(50)                                 # the view draws once per burst of events
    assert panel.last_end["event"] == "evaluation", panel.last_end
    view = panel.generated
    epochs = g.training["epochs"]
    assert view.updates == epochs + 1 and view.latest["epoch"] == epochs - 1
    fake_x, fake_y = view.fake_points.getData()
    real_x, _ = view.real_points.getData()
    assert len(fake_x) == 300 and len(real_x) == 300
    # the generated cloud has the spread of the (standardised) data, not a collapsed blob
    assert 0.6 < np.std(fake_x) < 1.4 and 0.6 < np.std(fake_y) < 1.4
    assert f"after epoch {epochs}" in view.caption.text()
    report = panel.evaluation.event["report"]
    assert 0.35 <= report["d_accuracy"] <= 0.65
    assert "d_accuracy" in panel.evaluation.summary.text()
    assert panel.plots.epoch_loss and "d_accuracy" in panel.plots.metrics
    shot = os.environ.get("GAN_SCREENSHOT")
    if shot:                         # a bigger copy of the view, to look at
        from netdesigner.designer.training.generated import GeneratedView
        big = GeneratedView()
        big.add_event({**view.latest, "real": view.real.tolist()})
        big.resize(800, 600)
        big.show()
        qtbot.waitExposed(big)
        big.redraw()
        big.grab().save(shot)
        big.close()


def test_the_generated_tab_shows_an_image_gan_as_a_grid_of_images(qtbot):
    """An image GAN (dcgan_digits: 8x8x1 samples) is drawn as a grid of pictures, not as the
    first two values of each sample; a point GAN afterwards is drawn as points again."""
    from netdesigner.designer.training.generated import GRID_COLUMNS, GeneratedView
    view = GeneratedView()
    qtbot.addWidget(view)
    images = np.random.default_rng(0).uniform(0, 1, (36, 8, 8, 1))
    view.add_event({"event": "train_begin"})
    view.add_event({"event": "generated", "step": 40, "epoch": 0,
                    "samples": images.tolist(), "real": images[:36].tolist()})
    qtbot.waitUntil(lambda: view.grid.count() == 36)
    assert view.stack.currentWidget() is view.grid_holder
    assert "after epoch 1" in view.caption.text()
    first, last = view.grid.itemAt(0).widget(), view.grid.itemAt(35).widget()
    assert not first.pixmap().isNull() and first.pixmap().width() > 8, "a scaled-up picture"
    columns = 1 + max(view.grid.getItemPosition(k)[1] for k in range(36))
    assert view.grid.getItemPosition(35)[:2] == (35 // columns, 35 % columns)
    assert last.pixmap().toImage() != first.pixmap().toImage(), "each sample its own picture"
    # a narrow view takes fewer columns and smaller pictures, so that all of them fit whole
    # (12 columns of 48 px were cut to slivers in a 240-px panel)
    view.resize(300, 400)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.grid.count() == 36 and
                    24 <= view.grid.itemAt(0).widget().pixmap().width() < 48)
    size = view.grid.itemAt(0).widget().pixmap().width()
    columns = 1 + max(view.grid.getItemPosition(k)[1] for k in range(36))
    rows = -(-36 // columns)
    assert size >= 24 and columns < GRID_COLUMNS, (size, columns)
    assert columns * size <= 300 and rows * size <= 400, (size, columns)
    view.add_event({"event": "train_begin"})
    view.add_event({"event": "generated", "step": 0, "epoch": -1,
                    "samples": [[0.0, 1.0], [1.0, 0.0]]})
    qtbot.waitUntil(lambda: len(view.fake_points.getData()[0]) == 2)
    assert view.stack.currentWidget() is view.plot and view.grid.count() == 0


@pytest.mark.long
def test_a_dcgan_run_from_the_window_shows_generated_digit_images(window, qtbot, tmp_path):
    """dcgan_digits trained from the window (2 epochs): the Generated tab shows the fixed noise
    batch's 36 images as a grid after every epoch."""
    g = fileformat.load(ROOT / "samples" / "dcgan_digits.graph")
    g.training["epochs"] = 2
    path = tmp_path / "dcgan_digits.graph"
    fileformat.save(g, path)
    assert window.open_file(path, ask=False)
    panel = window.training
    qtbot.waitUntil(lambda: panel.data_state == "ok", timeout=30_000)
    panel.plots.setCurrentWidget(panel.generated)
    QTest.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.last_end is not None, timeout=120_000)
    panel.poll()
    qtbot.wait(50)
    assert panel.last_end["event"] == "evaluation", panel.last_end
    view = panel.generated
    assert view.updates == 3 and view.latest["epoch"] == 1
    assert np.shape(view.latest["samples"]) == (36, 8, 8, 1)
    assert view.stack.currentWidget() is view.grid_holder and view.grid.count() == 36
    assert "after epoch 2" in view.caption.text()
    shot = os.environ.get("GAN_SCREENSHOT")
    if shot:
        panel.generated.grab().save(shot)
