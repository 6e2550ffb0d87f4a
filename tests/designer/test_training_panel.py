"""Training from the designer: a worker process streams events; the GUI stays responsive."""
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, Qt
from PySide6.QtTest import QTest

from netdesigner.backends import diagnostics, protocol
from netdesigner.backends.jobs import Job, run_job
from netdesigner.backends.weights_file import weights_path
from netdesigner.graph import fileformat

ROOT = Path(__file__).resolve().parents[2]


def copy_sample(name, tmp_path, **training) -> Path:
    g = fileformat.load(ROOT / "samples" / name)
    g.training.update(training)
    path = tmp_path / name
    fileformat.save(g, path)
    return path


class GapMeter:
    """A 20 ms timer in the GUI thread; records the longest wait between two ticks."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.last = None
        self.worst = 0.0
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self):
        now = time.perf_counter()
        if self.last is not None:
            self.worst = max(self.worst, now - self.last)
        self.last = now


def data_checked(qtbot, panel, timeout=30_000):
    """Wait for the panel's data check (it reads the data set in a thread)."""
    qtbot.waitUntil(lambda: panel.data_state in ("ok", "failed"), timeout=timeout)


def run_to_end(qtbot, window, timeout=90_000):
    panel = window.training
    qtbot.waitUntil(lambda: panel.last_end is not None, timeout=timeout)
    panel.poll()


@pytest.mark.parametrize("backend", ["numpy", pytest.param("keras", marks=pytest.mark.long)])
def test_training_from_the_gui_streams_plots_and_stays_responsive(window, qtbot, tmp_path,
                                                                   backend):
    path = copy_sample("mlp_digits.graph", tmp_path, epochs=6, backend=backend)
    assert window.open_file(path, ask=False)
    panel = window.training
    # the data check (a thread) ends with drawing the preview in the GUI thread; this test
    # measures the run, from the click on
    data_checked(qtbot, panel)
    meter = GapMeter()
    QTest.mouseClick(panel.start_button, Qt.LeftButton)
    run_to_end(qtbot, window)
    meter.timer.stop()
    assert panel.last_end["event"] == "evaluation", panel.last_end
    plots = panel.plots
    assert plots.points_received > 20
    assert plots.epoch_loss[-1] < plots.epoch_loss[0], "the loss fell"
    layers = {"dense_1", "dense_2"}
    assert layers <= set(plots.activations.latest)
    assert {f"{n}/kernel" for n in layers} <= set(plots.gradient_hist.latest)
    assert layers <= set(plots.grad_history)
    assert meter.worst < 0.1, f"the event loop stalled for {meter.worst * 1000:.0f} ms"
    # the run is kept with the project, and its weights are saved beside it
    assert window.document.modified and window.document.graph.runs
    # the test set is evaluated: confusion matrix over the 10 digits, per-class scores
    evaluation = panel.evaluation.event
    assert evaluation["event"] == "evaluation" and evaluation["samples"] == 270
    report = evaluation["report"]
    assert len(report["confusion"]) == 10 and sum(map(sum, report["confusion"])) == 270
    assert panel.evaluation.confusion.rowCount() == 10
    assert abs(report["accuracy"] - evaluation["metrics"]["accuracy"]) < 1e-6
    assert panel.runs.list.count() == 1
    assert window.save()
    assert weights_path(path).exists()
    saved = fileformat.load(path).runs[-1]
    assert saved["reason"] == "completed" and saved["test"]["accuracy"] == report["accuracy"]


def test_stop_ends_the_run_quickly_and_keeps_the_project(window, qtbot, tmp_path):
    path = copy_sample("mlp_digits.graph", tmp_path, epochs=10_000)
    weights = weights_path(path)
    weights.write_bytes(b"previous weights")
    assert window.open_file(path, ask=False)
    before = path.read_bytes()
    panel = window.training
    panel.resume_weights.setChecked(False)          # train from scratch
    assert panel.start()
    qtbot.waitUntil(lambda: len(panel.plots.epochs) > 0, timeout=60_000)
    t = time.perf_counter()
    QTest.mouseClick(panel.stop_button, Qt.LeftButton)
    elapsed = time.perf_counter() - t
    assert elapsed < 2.0
    assert not panel.process.process.is_alive()
    assert path.read_bytes() == before and weights.read_bytes() == b"previous weights"
    assert not window.document.modified
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()


def test_pause_and_resume(window, qtbot, tmp_path):
    path = copy_sample("mlp_digits.graph", tmp_path, epochs=10_000)
    window.open_file(path, ask=False)
    panel = window.training
    panel.start()
    qtbot.waitUntil(lambda: panel.plots.points_received > 5, timeout=60_000)
    panel.toggle_pause()
    qtbot.wait(300)
    panel.poll()
    frozen = panel.plots.points_received
    qtbot.wait(500)
    panel.poll()
    assert panel.plots.points_received == frozen, "no batch runs while paused"
    panel.toggle_pause()
    qtbot.waitUntil(lambda: panel.plots.points_received > frozen, timeout=10_000)
    panel.stop()


def test_data_mismatch_is_explained_before_starting(window, qtbot, tmp_path):
    path = copy_sample("mlp_digits.graph", tmp_path, dataset="iris")
    window.open_file(path, ask=False)
    panel = window.training
    data_checked(qtbot, panel)
    assert not panel.start()
    assert "samples of shape (4,), but input_1 expects (64,)" in panel.data_label.text()
    assert "Cannot start" in panel.status.text() and panel.process is None


def test_changing_a_setting_in_the_panel_is_undoable(window, qtbot, tmp_path):
    path = copy_sample("mlp_digits.graph", tmp_path)
    window.open_file(path, ask=False)
    form = window.training.form
    spin = form.fields["epochs"][0]
    spin.setValue(42)
    assert window.document.graph.training["epochs"] == 42
    window.document.undo.undo()
    assert window.document.graph.training["epochs"] == 30 and spin.value() == 30


def events_for(sample, epochs=2):
    g = fileformat.load(ROOT / "samples" / sample)
    g.training["epochs"] = epochs
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(g), str(ROOT / "samples"), "numpy", stats_every=10), rec,
            lambda: False)
    return g, rec


def test_deep_sigmoid_mlp_warns_of_vanishing_gradients_and_relu_does_not(window, qtbot):
    g, rec = events_for("deep_sigmoid_mlp.graph")
    last = rec.of("layer_stats")[-1]
    warned = {w.node for w in diagnostics.diagnose(last, g.nodes(), diagnostics.relu_nodes(g))
              if w.kind == "vanishing"}
    assert {"dense_1", "dense_2"} <= warned and "dense_8" not in warned
    g2, rec2 = events_for("deep_relu_mlp.graph")
    last2 = rec2.of("layer_stats")[-1]
    assert diagnostics.diagnose(last2, g2.nodes(), diagnostics.relu_nodes(g2)) == []
    # and the canvas shows it: badges and tint on the sigmoid network's first layers
    window.open_file(ROOT / "samples" / "deep_sigmoid_mlp.graph", ask=False)
    window.training._overlay(last)
    item = window.scene.nodes["dense_1"]
    assert item.training_warnings and "Vanishing gradient" in item.toolTip()
    assert item.training_level == 0.0 and window.scene.nodes["dense_9"].training_level == 1.0


@pytest.mark.parametrize("backend", ["numpy", pytest.param("keras", marks=pytest.mark.long)])
def test_feature_maps_of_a_convolution_network(window, qtbot, tmp_path, backend):
    window.open_file(copy_sample("cnn_digits.graph", tmp_path, epochs=1, backend=backend),
                     ask=False)
    panel = window.training
    panel.start()
    run_to_end(qtbot, window)
    view = panel.plots.feature_maps
    assert set(view.maps) >= {"conv2d_1", "conv2d_2"}
    assert len(view.maps["conv2d_1"]) == 8 and len(view.maps["conv2d_1"][0]) == 8
    panel.plots.setCurrentWidget(view)
    view.layer.setCurrentText("conv2d_1")
    assert view.grid.count() == 8


def test_data_preview_shows_images_or_rows(window, qtbot, tmp_path):
    window.open_file(copy_sample("cnn_digits.graph", tmp_path), ask=False)
    preview = window.training.preview
    data_checked(qtbot, window.training)
    assert preview.shown == 36 and preview.stack.currentWidget() is preview.grid_holder
    assert "digits: train 1257" in preview.caption.text()
    window.open_file(copy_sample("xor_mlp.graph", tmp_path))
    data_checked(qtbot, window.training)
    assert preview.shown == 4 and preview.stack.currentWidget() is preview.table
    assert preview.table.item(3, 2).text() in ("0", "1")


def test_saved_weights_are_reloaded_with_the_project(window, qtbot, tmp_path):
    path = copy_sample("mlp_digits.graph", tmp_path, epochs=8)
    window.open_file(path, ask=False)
    panel = window.training
    assert not panel.evaluate_button.isEnabled()
    panel.start()
    run_to_end(qtbot, window)
    trained = panel.evaluation.event["report"]["accuracy"]
    assert window.save() and weights_path(path).exists()
    window.open_file(ROOT / "samples" / "xor_mlp.graph")
    window.open_file(path)                              # reopen: the weights come with it
    panel = window.training
    assert panel.evaluate_button.isEnabled() and panel.resume_weights.isChecked()
    assert "Trained weights found" in panel.status.text()
    panel.evaluate()
    run_to_end(qtbot, window)
    assert panel.evaluation.event["report"]["accuracy"] == pytest.approx(trained, abs=1e-9)
    assert len(window.document.graph.runs) == 1, "an evaluation is not a training run"


def test_the_data_tab_shows_the_class_balance_of_the_data_set():
    import numpy as np
    from netdesigner.backends.data import Dataset
    from netdesigner.designer.training.data_view import class_balance
    x = np.zeros((40, 2), dtype=np.float32)
    balanced = Dataset("pairs", x, np.array([0, 1] * 20), "classification", ["a", "b"])
    assert class_balance(balanced) == "Classes (whole data set): a 20, b 20."
    skewed = Dataset("pairs", x, np.array([0] * 35 + [1] * 5), "classification", ["a", "b"])
    assert "a 35, b 5 — imbalanced: the largest class has 7x" in class_balance(skewed)
    regression = Dataset("sine", x, np.zeros(40), "regression")
    assert class_balance(regression) == ""


def test_train_compare_optimizers_runs_each_and_shows_their_curves(window, qtbot, tmp_path,
                                                                   monkeypatch):
    """Train > Compare Optimizers… (the window's `netdesigner compare`): the chosen optimizers
    train one after the other in the worker, each recorded, labelled, in the Runs tab and
    ticked there, with the losses of backends.comparison (same initial weights, same
    batches); the project's trained weights are left alone."""
    from netdesigner.backends.comparison import compare_optimizers
    from netdesigner.designer.training.optimizers_dialog import OptimizersDialog

    from tests.designer.actions import menu_action
    path = copy_sample("mlp_digits.graph", tmp_path, backend="numpy")
    assert window.open_file(str(path), ask=False)
    panel = window.training

    def choose(dialog):                     # what the user ticks in the dialog
        for name, box in dialog.boxes.items():
            box.setChecked(name in ("sgd", "adam"))
        dialog.epochs.setValue(2)
        return 1
    monkeypatch.setattr(OptimizersDialog, "exec", choose)
    before = len(window.document.graph.runs)
    menu_action(window, "Train", "Compare Optimizers").trigger()
    qtbot.waitUntil(lambda: "Compared sgd, adam" in panel.status.text(), timeout=120_000)
    runs = window.document.graph.runs[before:]
    assert [r["label"] for r in runs] == ["sgd", "adam"]
    assert panel.runs.checked() == [before, before + 1]
    assert panel.plots.currentWidget() is panel.runs
    qtbot.waitUntil(lambda: not panel.runs.list.item(before + 1).icon().isNull(), timeout=3000)
    assert not panel.runs.list.item(before).icon().isNull()    # its curves' colour: the legend
    assert panel.pending_weights is None and panel.saved_weights() is None
    want = compare_optimizers(window.document.graph, str(tmp_path), ["sgd", "adam"], "numpy", 2)
    for run in runs:
        assert run["history"]["loss"] == want[run["label"]].history["loss"]
        assert "test" in run
    assert runs[0]["history"]["loss"] != runs[1]["history"]["loss"]
