"""Tracing a sample the user picks or makes, through the window: a double-click on a Test set
thumbnail traces that test sample, strokes drawn on the pad are traced as an image of the data
set (scaled with its fitted statistics), a typed token sequence is checked as it is typed.

The quick tests run the trace (`backends.trace.run_trace`, the same call) on a thread instead
of the spawned worker process, which takes a second or so to start; the long one goes through
the worker process as the window does."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from netdesigner.backends.evaluation import evaluation_event
from netdesigner.backends.jobs import prepare
from netdesigner.backends.numpy.model import compile_graph
from netdesigner.designer.training.results import SampleThumbnail

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def open_sample(window, tmp_path, name: str, in_thread: bool = True):
    project = tmp_path / f"{name}.graph"
    project.write_text((SAMPLES / f"{name}.graph").read_text())
    assert window.open_file(str(project), ask=False)
    if in_thread:
        window.trace.new_executor = lambda: ThreadPoolExecutor(max_workers=1)
    prepared = prepare(window.document.graph, str(tmp_path))
    return prepared, compile_graph(prepared.network, prepared.settings)


def traced_after(qtbot, panel, action):
    """The trace that `action` (a user's click or key) starts, once it has arrived."""
    with qtbot.waitSignal(panel.traced, timeout=60_000):
        action()
    assert panel.error == ""
    return panel.result["trace"]


def draw(pad, points) -> None:
    """Press at the first cell, move with the left button held through the others, release."""
    at = [QPointF((c + 0.5) * pad.width() / pad.ink.shape[1],
                  (r + 0.5) * pad.height() / pad.ink.shape[0]) for r, c in points]
    QTest.mousePress(pad, Qt.LeftButton, Qt.NoModifier, at[0].toPoint())
    for p in at[1:]:
        QApplication.sendEvent(pad, QMouseEvent(QEvent.MouseMove, p, pad.mapToGlobal(p),
                                                Qt.NoButton, Qt.LeftButton, Qt.NoModifier))
    QTest.mouseRelease(pad, Qt.LeftButton, Qt.NoModifier, at[-1].toPoint())


def test_a_test_thumbnail_or_strokes_on_the_pad_are_traced(window, qtbot, tmp_path):
    """A double-click on a Test set thumbnail traces that test sample; strokes drawn on the
    pad are traced as a digits image scaled with the fitted statistics."""
    prepared, model = open_sample(window, tmp_path, "cnn_digits")
    split = prepared.split
    # the Test set tab as a run leaves it: its grid of the first test samples
    y_pred = model.forward([split.x_test], training=False)[0]
    window.show_training()
    window.training.evaluation.show_event(evaluation_event(split, y_pred))
    window.training.plots.setCurrentWidget(window.training.evaluation)
    thumbnails = window.training.evaluation.findChildren(SampleThumbnail)
    assert len(thumbnails) == 24 and [t.index for t in thumbnails] == list(range(24))
    assert [a.text() for a in thumbnails[3].context_menu().actions()] == ["Trace this sample"]
    assert all(t.isVisible() for t in thumbnails)

    panel = window.trace
    traced = traced_after(qtbot, panel, lambda: QTest.mouseDClick(thumbnails[5], Qt.LeftButton))
    assert window.trace_dock.isVisible()
    assert (panel.split.currentText(), panel.index.value()) == ("test", 5)
    assert (traced.split, traced.index) == ("test", 5)
    model.forward([split.x_test[5:6]], training=False)
    for n in window.document.graph.nodes():
        np.testing.assert_array_equal(traced.layers[n].outputs[0], model.activations[n][0][0])
    assert "Sample 5 of the test split" in panel.status.text()
    menu = thumbnails[3].context_menu()                  # or "Trace this sample" on another
    traced = traced_after(qtbot, panel, lambda: menu.actions()[0].trigger())
    assert (traced.split, traced.index) == ("test", 3)
    np.testing.assert_array_equal(traced.layers["input_1"].outputs[0], split.x_test[3])

    # then strokes drawn on the pad, traced as an image of the data set (one window for both)
    assert panel.drawing_box.isVisible() and not panel.tokens_box.isVisible()
    assert panel.pad.ink.shape == (8, 8)                 # the digits' size
    draw(panel.pad, [(1, 2), (1, 5), (6, 5)])            # a seven: across, then down
    ink = panel.pad.ink.copy()
    assert (ink[1, 2:6] == 1).all() and (ink[1:7, 5] == 1).all()   # every cell passed over
    assert ink[4, 0] == 0 and ink[7, 0] == 0
    traced = traced_after(qtbot, panel, lambda: qtbot.mouseClick(panel.trace_drawing_button,
                                                                 Qt.LeftButton))
    assert traced.given == "the drawing" and traced.target is None

    # the first layer gets the drawing as a digits image (0 to 16) after the fitted min-max
    scaling = prepared.split.scaling
    assert scaling["mode"] == "minmax"
    expected = (ink * 16.0 - scaling["min"]) / (scaling["max"] - scaling["min"])
    np.testing.assert_allclose(traced.layers["input_1"].outputs[0][..., 0], expected, rtol=1e-6)
    model.forward([traced.layers["input_1"].outputs[0][None]], training=False)
    np.testing.assert_array_equal(traced.prediction[0], model.activations["dense_2"][0][0])
    assert "The drawing" in panel.status.text() and "no target" in panel.status.text()

    qtbot.mouseClick(panel.clear_drawing_button, Qt.LeftButton)
    assert not panel.pad.ink.any()
    assert not panel.trace_drawing()
    assert "empty" in panel.status.text()

    # another project of the same picture size: the last project's drawing does not stay
    draw(panel.pad, [(1, 2), (1, 5)])
    open_sample(window, tmp_path, "mlp_digits")
    assert panel.drawing_box.isVisible() and not panel.pad.ink.any()


def test_a_typed_sequence_is_checked_then_traced(window, qtbot, tmp_path):
    prepared, model = open_sample(window, tmp_path, "transformer_sentiment")
    window.show_trace()
    panel = window.trace
    assert panel.tokens_box.isVisible() and not panel.drawing_box.isVisible()
    QTest.keyClicks(panel.tokens, "1 2 x")
    assert "token 3, 'x', is not a token id" in panel.tokens_status.text()
    QTest.keyClick(panel.tokens, Qt.Key_Return)
    assert panel.result is None and panel._future is None            # nothing traced
    panel.tokens.clear()
    QTest.keyClicks(panel.tokens, "1 2 3 4 5 120")
    assert "outside the vocabulary: the ids go from 0 to 99" in panel.tokens_status.text()
    panel.tokens.clear()
    QTest.keyClicks(panel.tokens, "1 2 3")
    assert "the sequence has 3 tokens; this design reads 20" in panel.tokens_status.text()
    typed = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 97, 93, 23, 84, 62, 64, 33, 83]
    QTest.keyClicks(panel.tokens, " " + " ".join(map(str, typed[3:])))
    assert panel.tokens_status.text() == ""
    traced = traced_after(qtbot, panel, lambda: QTest.keyClick(panel.tokens, Qt.Key_Return))
    assert traced.given.startswith("tokens 1 2 3 1 5 9")
    typed = [1, 2, 3] + typed[3:]
    np.testing.assert_array_equal(traced.layers["input_1"].outputs[0], typed)
    out = model.forward([np.array([typed], dtype=np.int32)], training=False)
    np.testing.assert_array_equal(traced.prediction[0], out[0][0])
    open_sample(window, tmp_path, "embedding_lstm_sentiment")   # another project: nothing typed
    assert panel.tokens_box.isVisible() and panel.tokens.text() == ""


@pytest.mark.long        # the spawned worker process, as the window runs it (~2 s to start)
def test_a_drawing_is_traced_in_the_worker_process(window, qtbot, tmp_path):
    prepared, model = open_sample(window, tmp_path, "mlp_digits", in_thread=False)
    panel = window.trace
    window.show_trace()
    assert panel.pad.ink.shape == (8, 8)                 # digits read flattened: still 8 x 8
    draw(panel.pad, [(0, 3), (7, 3)])
    traced = traced_after(qtbot, panel, lambda: qtbot.mouseClick(panel.trace_drawing_button,
                                                                 Qt.LeftButton))
    scaling = prepared.split.scaling
    expected = (panel.pad.ink * 16.0 - scaling["min"]) / (scaling["max"] - scaling["min"])
    np.testing.assert_allclose(traced.layers["input_1"].outputs[0], expected.ravel(), rtol=1e-6)
    out = model.forward([traced.layers["input_1"].outputs[0][None]], training=False)
    np.testing.assert_array_equal(traced.prediction[0], out[0][0])
