"""GAN mode from the designer: the Generated tab shows the generator's points live."""
import os
from pathlib import Path

import numpy as np
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
