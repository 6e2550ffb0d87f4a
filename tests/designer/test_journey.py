"""Issue #13's acceptance journey, driven only through what a user does: palette double-click
and drops, port-to-port drags, property edits, the training panel's widgets and buttons, and
File > Export / Open / New. It builds a LeNet-style CNN for the digits, trains it 2 epochs,
exports it as a Python script and a SavedModel, runs the script in a fresh process and loads the
SavedModel; then opens gan_moons and makes a new project, and no view shows anything of LeNet."""
import subprocess
import sys

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QFileDialog, QMessageBox, QTabBar

from netdesigner.designer.canvas.view import LAYER_MIME
from tests.designer.test_project_state import SAMPLES, assert_fresh
from tests.designer.actions import drag_mouse, menu_action

WORKER_MS = 180_000

# (type, properties typed into the property editor): LeNet for the 8x8 digits
LENET = [
    ("Input", {"shape": "(8, 8, 1)"}),
    ("Conv2D", {"filters": "16", "padding": "same", "activation": "relu"}),
    ("MaxPooling2D", {}),
    ("Conv2D", {"filters": "32", "padding": "same", "activation": "relu"}),
    ("MaxPooling2D", {}),
    ("Flatten", {}),
    ("Dense", {"units": "64", "activation": "relu"}),
    ("Dense", {"units": "10", "activation": "softmax"}),
]


# -- what a user does ---------------------------------------------------------------------------

def double_click_palette(window, type_id):
    tree = window.palette.tree
    item = window.palette.items[type_id]
    tree.scrollToItem(item)
    at = tree.visualItemRect(item).center()
    # a real double-click is a click, then the second press that Qt reports as a double-click
    QTest.mouseClick(tree.viewport(), Qt.LeftButton, Qt.NoModifier, at)
    QTest.mouseDClick(tree.viewport(), Qt.LeftButton, Qt.NoModifier, at)


def drop_layer(window, type_id: str, at: QPoint):
    viewport = window.view.viewport()
    data = QMimeData()
    data.setData(LAYER_MIME, type_id.encode())
    for cls in (QDragEnterEvent, QDragMoveEvent):
        QApplication.sendEvent(viewport, cls(at, Qt.CopyAction, data, Qt.LeftButton,
                                             Qt.NoModifier))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), Qt.CopyAction, data,
                                                Qt.LeftButton, Qt.NoModifier))


def click_node(window, node_id):
    centre = window.scene.nodes[node_id].sceneBoundingRect().center()
    QTest.mouseClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier,
                     window.view.mapFromScene(centre))


def port(window, node_id, output: bool) -> QPointF:
    item = window.scene.nodes[node_id]
    return (item.outputs if output else item.inputs)[0].scenePos()


def type_into(form, name, text):
    """Type a value into a form's field: a spin box or a line edit gets the text and Enter, a
    drop-down gets the choice typed (its keyboard search)."""
    widget = form.fields[name][0]
    if isinstance(widget, QComboBox):
        widget.setFocus()
        QTest.keyClicks(widget, text)
        assert widget.currentText() == text, f"{name}: typed {text!r}, shows " \
                                             f"{widget.currentText()!r}"
        return
    widget.selectAll() if hasattr(widget, "selectAll") else widget.lineEdit().selectAll()
    QTest.keyClicks(widget, text)
    QTest.keyClick(widget, Qt.Key_Return)


def click_tab(window, title):
    """Click the tab of a tabbed panel (the Problems and Training docks share a tab bar)."""
    for bar in window.findChildren(QTabBar):
        for i in range(bar.count()):
            if bar.tabText(i) == title:
                QTest.mouseClick(bar, Qt.LeftButton, Qt.NoModifier, bar.tabRect(i).center())
                return
    raise AssertionError(f"no tab {title!r}")


def answer_save_dialog(monkeypatch, path):
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))


# -- the journey --------------------------------------------------------------------------------

@pytest.mark.long
def test_build_train_export_lenet_like_a_user(window, qtbot, tmp_path, monkeypatch):
    doc = window.document
    assert len(doc.graph) == 0
    # room for eight layers: zoom out twice from the View menu
    menu_action(window, "View", "Zoom Out").trigger()
    menu_action(window, "View", "Zoom Out").trigger()

    # the first layer by a double-click in the palette, then moved to the top left
    double_click_palette(window, "Input")
    assert doc.graph.nodes() == ["input_1"]
    viewport = window.view.viewport().rect()
    columns = [viewport.left() + viewport.width() * f for f in (0.14, 0.38, 0.62, 0.86)]
    rows = [viewport.top() + viewport.height() * f for f in (0.3, 0.7)]
    spots = [QPoint(int(x), int(y)) for y in rows for x in columns]
    item = window.scene.nodes["input_1"]
    drag_mouse(window, item.sceneBoundingRect().center(), window.view.mapToScene(spots[0]))
    # the others dropped from the palette, each in its own spot
    for (type_id, _), spot in zip(LENET[1:], spots[1:]):
        drop_layer(window, type_id, spot)
    ids = doc.graph.nodes()
    assert [doc.graph.node(n).type for n in ids] == [t for t, _ in LENET]
    boxes = [window.scene.nodes[n].sceneBoundingRect() for n in ids]
    assert not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])

    # properties, typed into the property editor of the clicked layer (the Input's
    # shape first: a Conv2D refuses a wire from a vector)
    for node_id, (_, props) in zip(ids, LENET):
        click_node(window, node_id)
        assert window.properties.node_id == node_id
        for name, text in props.items():
            type_into(window.properties, name, text)

    # wire each output port to the next layer's input port
    for a, b in zip(ids, ids[1:]):
        drag_mouse(window, port(window, a, True), port(window, b, False))
    assert len(doc.graph.edges()) == len(ids) - 1
    doc.revalidate()
    assert doc.analysis.errors() == [], doc.analysis.errors()
    assert doc.analysis.report(ids[-1]).outputs[0] == (10,)

    # training settings in the Training panel: digits, scaled to [0, 1], 2 epochs
    click_tab(window, "Training")
    panel = window.training
    assert panel.isVisible()
    # a new project has the digits chosen, stored and shown (issue #13: it only showed them)
    assert doc.graph.training["dataset"] == "digits"
    assert panel.form.fields["dataset"][0].currentText() == "digits"
    type_into(panel.form, "normalize", "minmax")
    type_into(panel.form, "epochs", "2")
    assert doc.graph.training["dataset"] == "digits" and doc.graph.training["epochs"] == 2
    QTest.mouseClick(panel.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.last_end is not None, timeout=WORKER_MS)
    panel.poll()
    assert panel.last_end.get("event") != "error", panel.last_end
    (run,) = doc.graph.runs
    assert run["reason"] == "completed" and run["epochs"] == 2
    assert panel.saved_weights() is not None

    # File > Export > Python Script, then SavedModel
    out = tmp_path / "export"
    out.mkdir()
    for entry, target in (("Python Script", out / "lenet.py"),
                          ("SavedModel", out / "lenet_savedmodel")):
        window.transfers.last_outcome = None
        answer_save_dialog(monkeypatch, target)
        menu_action(window, "File", "Export", entry).trigger()
        qtbot.waitUntil(lambda: window.transfers.last_outcome is not None, timeout=WORKER_MS)
        assert window.transfers.last_outcome["ok"], window.transfers.last_outcome
        box = window.transfers.last_box
        assert str(target) in box.text() and "initial weights" not in box.text()
        box.close()
    assert (out / "lenet.weights.h5").exists() and (out / "lenet.data.npz").exists()

    # the script in a fresh process: one more epoch on its data, from the trained weights
    run = subprocess.run([sys.executable, "lenet.py", "--epochs", "1", "--save",
                          "again.weights.h5"], cwd=out, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "again.weights.h5").exists()
    # the SavedModel in a fresh process: it classifies the validation digits (trained)
    check = (
        "import numpy as np, tensorflow as tf\n"
        "m = tf.saved_model.load('lenet_savedmodel')\n"
        "d = np.load('lenet.data.npz')\n"
        "p = np.asarray(m.serve(d['x_val'].astype('float32')))\n"
        "y = d['y_val']\n"
        "y = y.argmax(1) if y.ndim == 2 else y.reshape(-1)\n"
        "print('accuracy', float((p.argmax(1) == y).mean()))\n")
    done = subprocess.run([sys.executable, "-c", check], cwd=out, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(done.stdout.split("accuracy")[-1]) > 0.5

    # File > Open gan_moons: no view shows anything of the LeNet project (its runs, curves,
    # test set, canvas tint, status); then the same after File > New
    lenet_weights = panel.saved_weights()
    window.ask_save_changes = lambda: QMessageBox.Discard
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(
        lambda *a, **k: (str(SAMPLES / "gan_moons.graph"), "")))
    menu_action(window, "File", "Open").trigger()
    assert window.document is not doc and window.document.title == "gan_moons.graph"
    assert_fresh(window)
    assert panel.saved_weights() != lenet_weights
    assert window.trace.result is None and window.trace.previews == {}
    assert "lenet" not in window.statusBar().currentMessage().lower()
    assert set(window.scene.nodes) == set(window.document.graph.nodes())
    menu_action(window, "File", "New").trigger()
    assert len(window.document.graph) == 0 and window.document.graph.runs == []
    assert_fresh(window)
    assert panel.saved_weights() is None
