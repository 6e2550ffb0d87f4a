"""The training panel takes a design with several Inputs and outputs when its data set has an
array for each: the fit message, Start, the data preview and the test-set view."""
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from netdesigner.graph import fileformat

from ..backends.test_multi_input import arrays, two_in_two_out
from .test_journey import type_into


def open_two_input_design(window, qtbot, tmp_path, **named):
    np.savez(tmp_path / "named.npz", **(named or arrays()))
    path = tmp_path / "two.graph"
    fileformat.save(two_in_two_out("named.npz", normalize="standard"), path)
    assert window.open_file(path, ask=False)
    panel = window.training
    qtbot.waitUntil(lambda: panel.data_state in ("ok", "failed"), timeout=30_000)
    return panel


def test_a_two_input_design_fits_its_named_data_and_a_missing_array_is_named(window, qtbot,
                                                                            tmp_path):
    panel = open_two_input_design(window, qtbot, tmp_path)
    assert "fits the network" in panel.data_label.text(), panel.data_label.text()
    assert "inputs a (3,), b (2,); targets cls (3,), num (1,)" in panel.data_label.text()
    assert panel.start_button.isEnabled()
    assert "does not show" in panel.preview.caption.text()
    named = arrays()
    named["second"] = named.pop("b")
    (tmp_path / "missing").mkdir()
    panel = open_two_input_design(window, qtbot, tmp_path / "missing", **named)
    assert "no array named 'b' for the Input b" in panel.data_label.text()
    assert not panel.start_button.isEnabled()
    assert "no array named 'b'" in panel.start_button.toolTip()
    # the training setting arrays names the array of a node whose id differs
    type_into(panel.form, "arrays", "b=second")
    qtbot.waitUntil(lambda: "fits the network" in panel.data_label.text(), timeout=30_000)
    assert window.document.graph.training["arrays"] == "b=second"
    assert panel.start_button.isEnabled()


@pytest.mark.long                              # a training process
def test_a_two_output_run_ends_with_each_outputs_scores(window, qtbot, tmp_path):
    panel = open_two_input_design(window, qtbot, tmp_path)
    QTest.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.last_end is not None, timeout=90_000)
    assert panel.last_end["event"] == "evaluation", panel.last_end
    text = panel.evaluation.summary.text()
    assert "cls: accuracy" in text and "num: MSE" in text and "2 outputs (cls, num)" in text
