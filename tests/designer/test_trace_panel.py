"""The Trace panel: a test sample of cnn_digits through the window — a preview on every layer
of the canvas, values equal to the NumPy backend's forward pass, stepping, worked-out values,
and nothing left behind when another project opens."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from netdesigner.backends.jobs import prepare
from netdesigner.backends.numpy.model import compile_graph

from tests.designer.actions import menu_action

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def open_in_trace(window, tmp_path, sample: str):
    """A copy of the sample opened in the window, and the Trace panel brought up (as Train >
    Trace a Sample does)."""
    project = tmp_path / f"{sample}.graph"
    project.write_text((SAMPLES / f"{sample}.graph").read_text())
    assert window.open_file(str(project), ask=False)
    menu_action(window, "Train", "Trace a Sample").trigger()
    return window.trace


def test_tracing_a_test_sample_shows_every_layer(window, qtbot, tmp_path):
    panel = open_in_trace(window, tmp_path, "cnn_digits")
    assert window.trace_dock.isVisible()
    panel.index.setValue(12)
    qtbot.mouseClick(panel.trace_button, Qt.LeftButton)
    assert not panel.trace_button.isEnabled()          # one trace at a time
    qtbot.waitUntil(lambda: panel.result is not None or bool(panel.error), timeout=60_000)
    assert panel.error == ""

    # a preview under every layer of the canvas
    graph = window.document.graph
    assert set(panel.previews) == set(graph.nodes())
    assert all(p.parentItem() is window.scene.nodes[n] and not p.pixmap().isNull()
               for n, p in panel.previews.items())

    # the values are the NumPy backend's forward pass of that test sample
    prepared = prepare(graph, str(tmp_path))
    model = compile_graph(prepared.network, prepared.settings)
    model.forward([prepared.split.x_test[12:13]])
    traced = panel.result["trace"]
    for n in graph.nodes():
        np.testing.assert_array_equal(traced.layers[n].outputs[0], model.activations[n][0][0])

    # why this prediction: saliency and Grad-CAM of the predicted digit, over the 8 x 8 image
    why = panel.result["why"]
    assert panel.views.isTabEnabled(1) and why.class_index == traced.predicted_class()
    assert panel.saliency_map.values.shape == (8, 8) and panel.gradcam_map.values.shape == (8, 8)
    assert f"“{why.class_name}”" in panel.why_label.text()

    # stepping through the layers: input and output side by side, the canvas follows
    assert panel.current_layer() == "input_1"
    qtbot.mouseClick(panel.next_button, Qt.LeftButton)
    assert panel.current_layer() == "conv2d_1"
    assert window.scene.selected_node_ids() == ["conv2d_1"]
    np.testing.assert_array_equal(panel.input_map.values, traced.layers["input_1"].outputs[0])
    np.testing.assert_array_equal(panel.output_map.values, traced.layers["conv2d_1"].outputs[0])

    # a click on an output value works it out with the real numbers
    # 16 channels of 8 x 8 as a 4 x 4 grid of tiles one pixel apart: 35 x 35 pixels, scaled;
    # the middle of the second tile of the second row is channel 5, row 3, column 3
    pixmap = panel.output_map.pixmap()
    grid = panel.output_map.grey.shape
    assert grid == (35, 35)
    QTest.mouseClick(panel.output_map, Qt.LeftButton, pos=QPointF(
        pixmap.width() * (9 + 3.5) / 35, pixmap.height() * (9 + 3.5) / 35).toPoint())
    text = panel.details.toPlainText()
    assert text.startswith("conv2d_1[3, 3, 5] = ")
    assert "+ bias" in text and "relu(" in text

    # an edit makes the previews go; another project leaves nothing of this trace
    window.document.set_param("dense_1", "units", 32)
    assert panel.previews == {}
    window.document.undo.undo()
    window.open_file(str(SAMPLES / "mlp_digits.graph"), ask=False)
    assert panel.result is None and panel.layers.count() == 0
    assert panel.output_map.values is None and not panel.views.isTabEnabled(1)
    assert not any(child for item in window.scene.nodes.values()
                   for child in item.childItems() if child.type() == 7)   # pixmap items


def test_a_trace_that_cannot_run_says_why(window, qtbot, tmp_path):
    project = tmp_path / "cnn_digits.graph"
    project.write_text((SAMPLES / "cnn_digits.graph").read_text())
    assert window.open_file(str(project), ask=False)
    window.trace.index.setValue(5000)
    assert window.trace.start()
    qtbot.waitUntil(lambda: window.trace.error != "", timeout=60_000)
    assert "does not exist" in window.trace.status.text()
    assert window.trace.previews == {}


def test_an_attention_layer_shows_its_weights_per_head(window, qtbot, tmp_path):
    project = tmp_path / "transformer_sentiment.graph"
    project.write_text((SAMPLES / "transformer_sentiment.graph").read_text())
    assert window.open_file(str(project), ask=False)
    panel = window.trace
    assert panel.start()
    qtbot.waitUntil(lambda: panel.result is not None or bool(panel.error), timeout=60_000)
    assert panel.error == ""
    (node, weights), = panel.result["trace"].attention.items()
    assert not panel.views.isTabEnabled(2)           # the Input is shown first
    row = next(i for i in range(panel.layers.count())
               if panel.layers.item(i).data(Qt.UserRole) == node)
    panel.layers.setCurrentRow(row)
    assert panel.views.isTabEnabled(2)
    shown = panel.attention_map.values
    assert shown.shape == weights.shape[1:] + weights.shape[:1]       # steps x steps x heads
    np.testing.assert_allclose(shown.sum(axis=1), 1, atol=1e-5)
    assert "4 heads" in panel.attention_label.text()
    panel.step(1)                                    # the next layer has no attention
    assert not panel.views.isTabEnabled(2)


def test_a_design_with_two_inputs_is_traced_in_the_window(window, qtbot, tmp_path):
    """seq2seq_states (an encoder Input and a decoder Input): Trace a Sample shows every layer,
    each Input holding its part of the row (it said "tracing does not show yet")."""
    panel = open_in_trace(window, tmp_path, "seq2seq_states")
    panel.index.setValue(3)
    qtbot.mouseClick(panel.trace_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.result is not None or bool(panel.error), timeout=60_000)
    assert panel.error == ""
    graph = window.document.graph
    assert set(panel.previews) == set(graph.nodes())
    traced = panel.result["trace"]
    split = prepare(graph, str(tmp_path)).split
    for name, x in zip(split.inputs, split.x_test):
        np.testing.assert_array_equal(traced.layers[name].outputs[0], x[3])
    assert panel.result["why"] is None and not panel.views.isTabEnabled(1)
    assert "loss" in panel.status.text()


def test_a_teacher_forced_design_decodes_typed_sequences_in_the_window(window, qtbot, tmp_path):
    """What `netdesigner predict` does, in the Trace panel: typed source sequences decoded
    greedily off the GUI thread, the same tokens as the backend's decode_text; a typo is a
    sentence; another project leaves nothing of it behind."""
    from netdesigner.backends.decoding import decode_text
    panel = open_in_trace(window, tmp_path, "seq2seq_states")
    assert panel.decode_box.isVisible()
    panel.decode_tokens.setText("3 1 4 1 5 9; 2 7 1 8 2 8")
    qtbot.mouseClick(panel.decode_button, Qt.LeftButton)
    assert not panel.decode_button.isEnabled()
    qtbot.waitUntil(lambda: panel.decode_button.isEnabled(), timeout=60_000)
    want = decode_text(window.document.graph, str(tmp_path), "3 1 4 1 5 9; 2 7 1 8 2 8")
    shown = panel.decoded.text()
    for source, row in zip(want["sources"], want["decoded"]):
        assert f"{' '.join(map(str, source))} → <b>{' '.join(map(str, row))}</b>" in shown
    panel.decode_tokens.setText("3 1 x")
    assert panel.decode()
    qtbot.waitUntil(lambda: panel.decode_button.isEnabled(), timeout=60_000)
    assert "Cannot decode: sequence 1, token 3: &#x27;x&#x27; is not a token id" in \
        panel.decoded.text()
    cnn = tmp_path / "cnn_digits.graph"
    cnn.write_text((SAMPLES / "cnn_digits.graph").read_text())
    assert window.open_file(str(cnn), ask=False)
    assert panel.decoded.text() == "" and panel.decode_tokens.text() == ""
    assert not panel.decode_box.isVisibleTo(panel)
