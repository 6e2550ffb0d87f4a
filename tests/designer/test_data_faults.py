"""Issue 12, point 3, in the designer: a data set that cannot be read leaves the project open
with the fault named; reading never blocks the GUI thread (a FIFO, a slow disk); the Data tab
shows which label in the data is which class."""
import os
import threading
import time
from pathlib import Path

import pytest

from netdesigner.graph import fileformat
from tests.backends.data_faults import FAULTS, fault_project, unblock_fifo_later
from tests.designer.test_training_panel import GapMeter, copy_sample

ROOT = Path(__file__).resolve().parents[2]


def checked(qtbot, panel, timeout=30_000):
    qtbot.waitUntil(lambda: panel.data_state in ("ok", "failed"), timeout=timeout)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_a_data_fault_is_shown_and_the_project_stays_open(window, qtbot, tmp_path, fault):
    path = fault_project(fault, tmp_path)
    assert window.open_file(path, ask=False)
    panel = window.training
    checked(qtbot, panel)
    assert panel.data_state == "failed"
    shown = panel.data_label.text()
    for words in fault.expect:
        assert words in shown, shown
    assert "Traceback" not in shown and "Error:" not in shown
    assert window.document.path == path and window.scene.nodes   # the project is open
    assert not panel.start() and panel.process is None
    assert "Cannot start" in panel.status.text()


def test_a_fifo_data_set_does_not_freeze_the_designer(window, qtbot, tmp_path):
    path = copy_sample("mlp_digits.graph", tmp_path, dataset="stream.csv")
    fifo = tmp_path / "stream.csv"
    os.mkfifo(fifo)
    unblock_fifo_later(fifo, after_s=2.0, until_s=20.0)
    meter = GapMeter()
    assert window.open_file(path, ask=False)
    panel = window.training
    checked(qtbot, panel)
    qtbot.wait(200)
    meter.timer.stop()
    assert "stream.csv: a named pipe (FIFO)" in panel.data_label.text()
    # opening builds and paints the whole window (~0.1 s on a busy machine); reading the FIFO
    # in the GUI thread stalled it until the feeder above wrote, 2 s later
    assert meter.worst < 0.5, f"the event loop stalled for {meter.worst * 1000:.0f} ms"
    # the setting can be changed back while the project stays open
    window.document.set_training("dataset", "digits")
    qtbot.waitUntil(lambda: "fits the network" in panel.data_label.text(), timeout=30_000)


def test_a_slow_data_set_is_read_off_the_gui_thread_and_a_stale_result_is_dropped(
        window, qtbot, tmp_path, monkeypatch):
    """A data set that takes 1.5 s to read (a slow disk) leaves the event loop running; the
    setting changed meanwhile wins over the slow result that arrives later."""
    from netdesigner.designer.training import panel as panel_module
    real_prepare = panel_module.prepare
    slow_done = threading.Event()

    def prepare(graph, base_dir):
        if graph.training.get("dataset") == "iris":
            time.sleep(1.5)
            try:
                return real_prepare(graph, base_dir)
            finally:
                slow_done.set()
        return real_prepare(graph, base_dir)
    monkeypatch.setattr(panel_module, "prepare", prepare)
    path = copy_sample("mlp_digits.graph", tmp_path, dataset="iris")
    assert window.open_file(path, ask=False)
    meter = GapMeter()                     # from here on the slow read is the only load
    panel = window.training
    assert panel.data_state == "checking"
    qtbot.wait(300)
    window.document.set_training("dataset", "digits")       # while iris is still being read
    qtbot.waitUntil(slow_done.is_set, timeout=10_000)
    qtbot.wait(300)                                          # the stale result arrives
    meter.timer.stop()
    # drawing the digits preview takes the GUI thread a moment; the read took 1.5 s
    assert meter.worst < 0.3, f"the event loop stalled for {meter.worst * 1000:.0f} ms"
    assert panel.data_state == "ok" and "fits the network" in panel.data_label.text()
    assert "digits" in panel.data_label.text() and "iris" not in panel.data_label.text()


def test_the_data_tab_shows_which_label_is_which_class(window, qtbot, tmp_path):
    (tmp_path / "labels.csv").write_text("a,b,label\n" + "".join(
        f"{i},{i % 5},{(1, 2, 3)[i % 3]}\n" for i in range(60)))
    g = fileformat.load(ROOT / "samples" / "xor_mlp.graph")
    g.training.update(dataset="labels.csv", loss="sparse_categorical_crossentropy")
    last = [n for n in g.nodes() if not g.successors(n)][0]
    g.set_param(last, "units", 3)
    g.set_param(last, "activation", "softmax")
    path = tmp_path / "labels.graph"
    fileformat.save(g, path)
    assert window.open_file(path, ask=False)
    panel = window.training
    checked(qtbot, panel)
    assert panel.data_state == "ok", panel.data_label.text()
    assert "1 → 0, 2 → 1, 3 → 2" in panel.data_label.text()
    preview = panel.preview
    assert preview.mapping.isVisibleTo(preview) and "1 → 0" in preview.mapping.text()
    # the preview's targets are the data's own labels, not the class ids
    targets = {preview.table.item(r, 2).text() for r in range(preview.table.rowCount())}
    assert targets == {"1", "2", "3"}
    shot = os.environ.get("DATA_MAPPING_SCREENSHOT")
    if shot:                                   # a look at the Data tab, for a person
        window.show_training()
        panel.plots.setCurrentWidget(preview)
        qtbot.wait(200)
        window.grab().save(shot)
