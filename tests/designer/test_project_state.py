"""A project is one state: nothing of the previous project stays on screen after Open, New or
Open Sample; the settings, buttons and status line tell the truth; Save As carries the weights."""
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from netdesigner.backends.weights_file import weights_path
from netdesigner.designer.training.data_view import NO_DATA
from netdesigner.designer.training.generated import IDLE_CAPTION
from netdesigner.designer.training.plots import make_plot
from netdesigner.designer.training.results import NO_EVALUATION
from netdesigner.graph import CATALOG, fileformat

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def copy_sample(name, tmp_path, **training) -> Path:
    g = fileformat.load(SAMPLES / name)
    g.training.update(training)
    path = tmp_path / name
    fileformat.save(g, path)
    return path


def curve_points(curve) -> int:
    x, _ = curve.getData()
    return 0 if x is None else len(x)


def assert_fresh(window):
    """Every view shows the open project as its file holds it: no run of this window."""
    panel, plots = window.training, window.training.plots
    for name in ("batch_curve", "train_curve", "val_curve"):
        assert curve_points(getattr(plots, name)) == 0, f"{name} still holds a curve"
    assert not plots.epochs and not plots.batch_losses and not plots.metrics
    assert not plots.metric_plot.getPlotItem().listDataItems(), "metric curves left"
    assert not plots.grad_plot.getPlotItem().listDataItems(), "gradient curves left"
    for view in (plots.activations, plots.gradient_hist, plots.weights):
        assert not view.latest and view.layer.count() == 0
    assert not plots.feature_maps.maps and plots.feature_maps.layer.count() == 0
    assert plots.grad_note.isHidden()
    evaluation = panel.evaluation
    assert evaluation.event is None and evaluation.summary.text() == NO_EVALUATION
    assert evaluation.per_class.rowCount() == 0 and evaluation.confusion.rowCount() == 0
    assert evaluation.examples_grid.count() == 0
    generated = panel.generated
    assert generated.latest is None and generated.caption.text() == IDLE_CAPTION
    assert curve_points(generated.fake_points) == 0 and curve_points(generated.real_points) == 0
    assert generated.grid.count() == 0
    words = panel.embeddings
    assert words.vectors is None and words.neighbours.count() == 0 and not words.labels
    runs = window.document.graph.runs
    assert panel.runs.runs is runs and panel.runs.list.count() == len(runs)
    assert all(item.training_level is None and not item.training_warnings
               for item in window.scene.nodes.values()), "the canvas is still tinted"
    assert panel.run_state == "idle" and "Idle" in panel.state_label.text()
    assert panel.status.text() == "Not trained yet."
    assert panel.last_end is None and panel.pending_weights is None
    assert panel.preview.shown == 0 or panel.data_state == "ok"


def train(qtbot, panel, timeout=90_000):
    qtbot.waitUntil(lambda: panel.data_state in ("ok", "failed"), timeout=30_000)
    assert panel.start_button.isEnabled(), panel.start_button.toolTip()
    QTest.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.run_state in ("finished", "failed"), timeout=timeout)
    assert panel.run_state == "finished", panel.status.text()


def test_no_view_shows_the_previous_project(window, qtbot, tmp_path):
    panel = window.training
    window.ask_save_changes = lambda: QMessageBox.Discard
    assert window.open_file(copy_sample("mlp_digits.graph", tmp_path, epochs=1))
    train(qtbot, panel)
    panel.plots.setCurrentIndex(panel.plots.indexOf(panel.plots.widget(1)))   # the Loss tab
    panel.plots.redraw()
    assert curve_points(panel.plots.val_curve) == 1 and panel.evaluation.event is not None
    assert panel.evaluation.per_class.rowCount() == 10

    gan = copy_sample("gan_moons.graph", tmp_path, epochs=2)
    assert window.open_file(gan)          # the run made the project modified: Discard
    assert_fresh(window)
    train(qtbot, panel)
    assert panel.generated.latest is not None
    panel.plots.setCurrentIndex(1)
    panel.plots.dirty = True
    panel.plots.redraw()
    assert curve_points(panel.plots.train_curve) == 2
    assert curve_points(panel.plots.val_curve) == 0, "a GAN run has no validation loss"
    legend = panel.plots.epoch_plot.getPlotItem().legend
    assert [label.text for _, label in legend.items] == ["train"]
    assert "does not stream per-layer statistics" in panel.plots.grad_note.text()
    assert not panel.plots.grad_note.isHidden()

    window.new_file()
    assert_fresh(window)
    assert window.document.graph.runs == [] and panel.runs.list.count() == 0

    window.open_file(SAMPLES / "vae_digits.graph")
    assert_fresh(window)


def test_a_new_project_stores_its_data_set_and_the_drop_down_shows_it(window, qtbot):
    panel = window.training
    training = window.document.graph.training
    assert training["dataset"] == "digits"
    combo = panel.form.fields["dataset"][0]
    assert combo.currentText() == "digits"
    assert panel.data_state == "failed" and "The network is empty" in panel.data_label.text()
    assert "digits" in panel.data_label.text()
    assert not panel.start_button.isEnabled() and panel.start_button.toolTip()
    first = window.document.add_node("Input", (0, 0), {"shape": (64,)})
    last = window.document.add_node("Dense", (200, 0), {"units": 10, "activation": "softmax"})
    window.document.connect(first, 0, last, 0)
    qtbot.waitUntil(lambda: panel.data_state == "ok", timeout=30_000)
    assert "fits the network" in panel.data_label.text()
    assert panel.start_button.isEnabled(), panel.start_button.toolTip()
    combo.setCurrentText("iris")
    assert training["dataset"] == "iris"
    combo.setCurrentText("digits")
    assert training["dataset"] == "digits"


def test_the_data_set_drop_down_shows_a_file_path(window, qtbot, tmp_path):
    path = copy_sample("mlp_digits.graph", tmp_path, dataset="points.csv")
    assert window.open_file(path)
    combo = window.training.form.fields["dataset"][0]
    assert combo.currentText() == "points.csv"
    combo.setCurrentText("iris")                    # every edit is stored, and undoable
    assert window.document.graph.training["dataset"] == "iris"
    window.document.undo.undo()
    qtbot.waitUntil(lambda: window.training.form.fields["dataset"][0].currentText()
                    == "points.csv", timeout=2_000)
    window.document.undo.setClean()


def test_a_project_without_a_data_set_shows_none_chosen(window, qtbot, tmp_path):
    assert window.open_file(copy_sample("mlp_digits.graph", tmp_path, dataset=""))
    combo = window.training.form.fields["dataset"][0]
    assert combo.currentText() == ""
    combo.setCurrentText("digits")
    assert window.document.graph.training["dataset"] == "digits"
    qtbot.waitUntil(lambda: window.training.data_state == "ok", timeout=30_000)
    window.document.undo.setClean()


def test_the_fit_message_and_start_follow_graph_edits(window, qtbot, tmp_path):
    assert window.open_file(copy_sample("mlp_digits.graph", tmp_path))
    panel = window.training
    qtbot.waitUntil(lambda: panel.data_state == "ok", timeout=30_000)
    assert "fits the network" in panel.data_label.text()
    assert panel.start_button.isEnabled()
    source = next(n for n in window.document.graph.nodes()
                  if window.document.graph.node(n).type == "Input")
    window.document.set_param(source, "shape", (65,))
    qtbot.waitUntil(lambda: panel.data_state == "failed", timeout=30_000)
    assert "fits the network" not in panel.data_label.text()
    assert "input_1 expects (65,)" in panel.data_label.text()
    assert not panel.start_button.isEnabled() and panel.start_button.toolTip()
    window.document.undo.undo()
    qtbot.waitUntil(lambda: panel.data_state == "ok", timeout=30_000)
    assert panel.start_button.isEnabled()


def test_save_as_carries_the_weights_and_the_runs(window, qtbot, tmp_path, monkeypatch):
    g = fileformat.load(SAMPLES / "mlp_digits.graph")
    g.runs.append({"when": "2026-01-01 00:00:00", "backend": "numpy", "reason": "completed",
                   "epochs": 1, "history": {"loss": [0.5]}})
    old = tmp_path / "old" / "net.graph"
    old.parent.mkdir()
    fileformat.save(g, old)
    weights_path(old).write_bytes(b"trained weights")
    assert window.open_file(old)
    assert "Trained weights found" in window.training.status.text()
    new = tmp_path / "elsewhere" / "renamed"
    new.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(new), ""))
    assert window.save_as()
    new = new.with_suffix(".graph")
    assert weights_path(new).read_bytes() == b"trained weights"
    assert str(new) in window.statusBar().currentMessage()
    assert "renamed.graph" in window.windowTitle()
    assert window.open_file(SAMPLES / "xor_mlp.graph") and window.open_file(new)
    panel = window.training
    assert panel.saved_weights() == weights_path(new)
    assert "Trained weights found: renamed.weights.npz" in panel.status.text()
    assert panel.runs.list.count() == 1 and panel.evaluate_button.isEnabled()


@pytest.mark.parametrize("how", ["new", "recent"])
def test_an_edit_then_new_and_discard_raises_nothing(window, qtbot, tmp_path, how):
    recent = copy_sample("xor_mlp.graph", tmp_path)
    window.open_file(recent)
    window.add_layer_at_centre("Dense")
    assert window.document.modified
    window.ask_save_changes = lambda: QMessageBox.Discard
    if how == "new":
        window.new_file()
    else:
        window.recent_menu.actions()[0].trigger()
    qtbot.wait(50)                      # the old document is deleted; its signals must be quiet
    window.add_layer_at_centre("Dense")
    window.document.undo.undo()
    qtbot.wait(50)
    assert not window.document.modified


def test_run_states_and_buttons(window, qtbot, tmp_path):
    assert window.open_file(copy_sample("mlp_digits.graph", tmp_path, epochs=10_000))
    panel = window.training
    seen = []
    panel.stateChanged.connect(seen.append)
    assert panel.run_state == "idle" and panel.start_button.isEnabled()
    assert not panel.pause_button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.start()                    # before the first data check is in: it waits
    assert panel.run_state == "checking data" and not panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.run_state == "training", timeout=30_000)
    assert not panel.start_button.isEnabled()
    assert panel.pause_button.isEnabled() and panel.stop_button.isEnabled()
    QTest.mouseClick(panel.pause_button, Qt.LeftButton)
    assert panel.run_state == "paused" and "Paused" in panel.state_label.text()
    assert panel.pause_button.text() == "Resume" and not panel.start_button.isEnabled()
    assert "resume it or stop it" in panel.start_button.toolTip()
    assert not panel.start() and "paused" in panel.status.text()
    QTest.mouseClick(panel.pause_button, Qt.LeftButton)
    assert panel.run_state == "training" and panel.pause_button.text() == "Pause"
    QTest.mouseClick(panel.stop_button, Qt.LeftButton)
    assert panel.run_state == "stopped" and "Stopped" in panel.state_label.text()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert not panel.pause_button.isEnabled()
    window.document.set_training("epochs", 1)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.run_state in ("finished", "failed"), timeout=60_000)
    assert panel.run_state == "finished" and "Finished" in panel.state_label.text()
    assert seen == ["checking data", "training", "paused", "training", "stopping", "stopped",
                    "checking data", "training", "finished"], seen
    window.document.set_training("dataset", "iris")     # no longer fits: the run is refused
    qtbot.waitUntil(lambda: panel.data_state == "failed", timeout=30_000)
    assert not panel.start_button.isEnabled()
    assert not panel.start() and panel.run_state == "failed"
    assert "Failed" in panel.state_label.text() and "Cannot start" in panel.status.text()


def test_stop_cancels_a_start_that_waits_for_its_data_check(window, qtbot, tmp_path):
    assert window.open_file(copy_sample("mlp_digits.graph", tmp_path))
    panel = window.training
    assert panel.start() and panel.run_state == "checking data"
    assert panel.stop_button.isEnabled() and not panel.pause_button.isEnabled()
    QTest.mouseClick(panel.stop_button, Qt.LeftButton)
    assert panel.run_state == "idle" and panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: panel.data_state == "ok", timeout=30_000)
    assert panel.process is None and panel.run_state == "idle"


def test_open_sample_opens_an_untitled_copy(window, qtbot, tmp_path, monkeypatch):
    sample = SAMPLES / "mlp_digits.graph"
    before = sample.read_bytes()
    assert window.open_sample(sample)
    assert window.document.path is None
    assert "untitled copy of mlp_digits.graph" in window.windowTitle()
    window.document.set_training("epochs", 3)
    asked = []
    target = tmp_path / "mine.graph"

    def dialog(parent, caption, start, *rest):
        asked.append(start)
        return str(target), ""
    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    assert window.save()                              # Ctrl+S asks for a name
    assert asked and Path(asked[0]).name == "mlp_digits.graph"
    assert Path(asked[0]).parent != SAMPLES
    assert sample.read_bytes() == before
    assert fileformat.load(target).training["epochs"] == 3


def test_the_view_menu_brings_every_panel_back(window, qtbot):
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    panels = next(a.menu() for a in view.actions() if a.text() == "&Panels")
    names = {a.text(): a for a in panels.actions()}
    assert set(names) == {"Layers", "Properties", "Problems", "Training", "Trace"}
    window.training_dock.close()
    assert window.training_dock.isHidden()
    names["Training"].trigger()
    assert not window.training_dock.isHidden()


def test_unitless_plot_axes_have_no_si_prefix(qtbot):
    plot = make_plot("Metrics", "epoch", "accuracy")
    qtbot.addWidget(plot)
    plot.plot([1, 2, 3], [0.80, 0.90, 0.95])
    plot.plot([1, 2, 3], np.array([0.001, 0.002, 0.003]))
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.updateAutoSIPrefix()
        assert "x0.001" not in axis.labelString() and "(m" not in axis.labelString()


def test_dense_after_a_convolution_says_what_it_does():
    dense = CATALOG["Dense"]
    advice = dense.infer({**dense.default_params(), "units": 32}, [(4, 4, 32)]).advice
    assert advice and "(4, 4, 32) becomes (4, 4, 32)" in advice[0]
    assert "maps the 32 values at each of the 4 x 4 positions to 32 values" in advice[0]
    assert "Flatten" in advice[0]


def fill_every_view(window):
    """Show a run in every view, as a run's events would (without a run: quick)."""
    panel = window.training
    plots = panel.plots
    stats = {"mean_abs": 0.1, "histogram": {"edges": [0.0, 1.0], "counts": [3]}}
    events = [
        {"event": "batch", "step": 1, "loss": 0.9},
        {"event": "epoch", "epoch": 0, "loss": 0.8, "val_loss": 0.7,
         "metrics": {"accuracy": 0.5}, "val_metrics": {"accuracy": 0.6}},
        {"event": "layer_stats", "step": 1, "activations": {"dense_1": stats},
         "gradients": {"dense_1": {"kernel": stats}}, "weights": {"dense_1": {"kernel": stats}}},
        {"event": "feature_maps", "step": 1, "maps": {"conv": [[[0.0, 1.0], [1.0, 0.0]]]}},
        {"event": "generated", "step": 1, "epoch": 0, "samples": [[0.0, 1.0], [1.0, 0.0]],
         "real": [[0.5, 0.5]]},
    ]
    for event in events:
        plots.add_event(event)
        panel.generated.add_event(event)
    for i in range(plots.count()):
        plots.setCurrentIndex(i)
        plots.dirty = True
        plots.redraw()
    panel.generated.redraw()
    from netdesigner.backends.embeddings import WordVectors
    panel.embeddings.show_vectors(WordVectors("embedding_1", ["a", "b", "c"],
                                              np.eye(3), ["x", "x", "y"]))
    assert panel.embeddings.neighbours.count() == 2
    plots.explain_no_gradients("none")
    panel.evaluation.show_event({"metrics": {"mse": 0.1}, "loss": 0.1, "samples": 4,
                                 "task": "regression", "report": {"mse": 0.1, "mae": 0.2}})
    panel.last_end = {"event": "evaluation"}
    node = next(iter(window.scene.nodes))
    window.scene.set_training_overlay({node: 0.5}, {node: ["too small"]})
    assert curve_points(plots.val_curve) == 1 and panel.generated.latest is not None


@pytest.mark.parametrize("how", ["new", "open", "recent", "sample", "recover"])
def test_every_way_of_opening_a_project_shows_it_fresh(window, qtbot, tmp_path, how,
                                                       monkeypatch):
    first = copy_sample("mlp_digits.graph", tmp_path)
    assert window.open_file(first)
    fill_every_view(window)
    if how == "new":
        window.new_file()
    elif how == "open":
        assert window.open_file(copy_sample("gan_moons.graph", tmp_path))
    elif how == "recent":
        window.recent_menu.actions()[0].trigger()
    elif how == "sample":
        assert window.open_sample(SAMPLES / "xor_mlp.graph")
    else:
        crashed = tmp_path / "recovery" / "session-999999.graph"
        fileformat.save(fileformat.load(SAMPLES / "xor_mlp.graph"), crashed)
        crashed.with_suffix(".json").write_text('{"original": null, "pid": 999999}')
        assert window.offer_recovery(ask=lambda text: True)
    assert_fresh(window)
    window.document.undo.setClean()
