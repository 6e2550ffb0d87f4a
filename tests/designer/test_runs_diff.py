"""Each run keeps the design it trained; the Runs tab says what differed between two ticked
runs (settings and layers), next to their curves."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from netdesigner.designer.training.results import RunsView
from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def run_of(graph, loss):
    return {"when": "2026-11-30 12:00:00", "backend": "numpy", "reason": "completed",
            "epochs": 2, "history": {"loss": [loss + 0.5, loss]},
            "design": fileformat.design_snapshot(graph)}


def test_two_ticked_runs_show_what_differed(qtbot):
    first = fileformat.load(SAMPLES / "cnn_digits.graph")
    second = fileformat.load(SAMPLES / "cnn_digits.graph")
    second.set_param("dense_1", "units", 128)
    second.set_training("epochs", 40)
    view = RunsView()
    qtbot.addWidget(view)
    view.set_runs([run_of(first, 0.3), run_of(second, 0.2), run_of(second, 0.1)])
    # a hidden tab compares nothing yet (it costs a parse and a diff of two designs) ...
    assert view.differences.toPlainText() == ""
    view.show()         # ... and compares when it is shown
    for i, state in enumerate((Qt.Checked, Qt.Checked, Qt.Unchecked)):
        view.list.item(i).setCheckState(state)
    text = view.differences.toPlainText()
    assert text.startswith("#1 -> #2: 1 layer changed")
    assert "units 64 -> 128" in text and "epochs" in text and "20 -> 40" in text
    view.list.item(0).setCheckState(Qt.Unchecked)
    view.list.item(2).setCheckState(Qt.Checked)
    assert "trained the same design" in view.differences.toPlainText()
    older = {k: v for k, v in run_of(first, 0.4).items() if k != "design"}
    view.set_runs([older, run_of(second, 0.2)])
    for i in range(2):
        view.list.item(i).setCheckState(Qt.Checked)
    assert "saved without its design" in view.differences.toPlainText()


def test_a_run_from_the_window_keeps_its_design(window, qtbot, tmp_path):
    project = tmp_path / "mlp.graph"
    graph = fileformat.load(SAMPLES / "mlp_digits.graph")
    graph.set_training("epochs", 1)
    fileformat.save(graph, project)
    assert window.open_file(str(project), ask=False)
    panel = window.training
    qtbot.waitUntil(lambda: panel.data_state in ("ok", "failed"), timeout=30_000)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last_end is not None, timeout=90_000)
    panel.poll()
    (run,) = window.document.graph.runs
    kept = fileformat.design_of_run(run)
    assert fileformat.dumps(kept) == fileformat.dumps(fileformat.from_dict(
        fileformat.design_snapshot(window.document.graph)))
    assert kept.runs == [] and kept.metadata == {}
    # saved and read back with the project
    assert window.save()
    again = fileformat.load(project)
    assert fileformat.design_of_run(again.runs[0]).training["epochs"] == 1


def test_a_kept_design_that_is_not_an_object_is_refused_by_its_path(tmp_path):
    data = json.loads(fileformat.dumps(fileformat.load(SAMPLES / "xor_mlp.graph")))
    data["runs"] = [{"history": {}, "design": [1, 2]}]
    with pytest.raises(fileformat.GraphFileError, match=r"runs\[0\]\.design"):
        fileformat.loads(json.dumps(data), "bad.graph")
    data["runs"] = [{"history": {}, "design": {"format": "something else"}}]
    graph = fileformat.loads(json.dumps(data), "odd.graph")     # read lazily, when compared
    with pytest.raises(fileformat.GraphFileError, match="run #1"):
        fileformat.design_of_run(graph.runs[0], "run #1")
