"""The designer driven like a user: mouse and keyboard on the real widgets (offscreen)."""
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from netdesigner.designer.canvas.view import LAYER_MIME
from netdesigner.graph import fileformat
from netdesigner.graph.fileformat import to_dict

ROOT = Path(__file__).resolve().parents[2]


# -- input helpers ------------------------------------------------------------------------------

def vp(window, scene_point) -> QPoint:
    return window.view.mapFromScene(scene_point)


def drag_mouse(window, start: QPointF, end: QPointF, steps=6):
    """Press at `start`, move with the button held, release at `end` (scene coordinates)."""
    viewport = window.view.viewport()
    a, b = vp(window, start), vp(window, end)
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        move = QMouseEvent(QEvent.MouseMove, QPointF(p), QPointF(viewport.mapToGlobal(p)),
                           Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(viewport, move)
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, b)


def drop_layer(window, type_id: str, at: QPoint):
    viewport = window.view.viewport()
    data = QMimeData()
    data.setData(LAYER_MIME, type_id.encode())
    for cls in (QDragEnterEvent, QDragMoveEvent):
        event = cls(at, Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
        QApplication.sendEvent(viewport, event)
    drop = QDropEvent(QPointF(at), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(viewport, drop)


def port(window, node_id, output: bool, index=0) -> QPointF:
    item = window.scene.nodes[node_id]
    return (item.outputs if output else item.inputs)[index].scenePos()


def settle(qtbot, window):
    qtbot.wait(5)
    window.document.revalidate()


def snapshot(graph) -> dict:
    return to_dict(graph)


# -- tests --------------------------------------------------------------------------------------

def test_dropping_a_palette_entry_creates_the_layer_there(window, qtbot):
    at = QPoint(300, 200)
    drop_layer(window, "Conv2D", at)
    graph = window.document.graph
    assert graph.nodes() == ["conv2d_1"]
    expected = window.view.mapToScene(at)
    box = window.scene.nodes["conv2d_1"].sceneBoundingRect()
    assert box.contains(expected), "the layer lands under the cursor"
    x, y = graph.node("conv2d_1").position
    assert abs(x + 92 - expected.x()) <= 10 and abs(y + 30 - expected.y()) <= 10
    assert x % 20 == 0 and y % 20 == 0, "snapped to the grid"
    assert window.scene.nodes["conv2d_1"].isSelected()
    assert window.properties.node_id == "conv2d_1"


def test_palette_search_filters_and_enter_adds(window, qtbot):
    QTest.keyClicks(window.palette.search, "lstm")
    visible = window.palette.visible_types()
    assert visible[0] == "LSTM" and "Dense" not in visible and len(visible) <= 3
    QTest.keyClick(window.palette.search, Qt.Key_Return)
    assert window.document.graph.nodes() == ["lstm_1"]
    tip = window.palette.items["LSTM"].toolTip(0)
    assert "Long short-term memory" in tip


def two_layers(window):
    doc = window.document
    a = doc.add_node("Input", (0, 0), {"shape": (16,)})
    b = doc.add_node("Dense", (400, 0), {"units": 8})
    doc.revalidate()
    return a, b


def test_dragging_from_an_output_port_to_an_input_port_wires_them(window, qtbot):
    a, b = two_layers(window)
    drag_mouse(window, port(window, a, True), port(window, b, False))
    edges = window.document.graph.edges()
    assert [str(e) for e in edges] == ["input_1:0 -> dense_1:0"]
    settle(qtbot, window)
    edge_item = window.scene.edges[edges[0]]
    assert edge_item.label == "(16,)", "the wire is labelled with the tensor shape"


def test_a_refused_wire_leaves_the_graph_unchanged_and_says_why(window, qtbot):
    doc = window.document
    a = doc.add_node("Input", (0, 0), {"shape": (16,)})
    conv = doc.add_node("Conv2D", (400, 0))
    doc.revalidate()
    before = snapshot(doc.graph)
    undo_before = doc.undo.count()
    reasons = []
    window.scene.wireRefused.connect(reasons.append)
    drag_mouse(window, port(window, a, True), port(window, conv, False))
    assert snapshot(doc.graph) == before and doc.undo.count() == undo_before
    assert len(reasons) == 1 and "Conv2D expects a 3-D input" in reasons[0]
    assert window.scene._hint.isVisible() and "Conv2D" in window.scene._hint.text
    # a loop is refused too
    d1 = doc.add_node("Dense", (0, 200))
    d2 = doc.add_node("Dense", (400, 200))
    doc.connect(a, 0, d1, 0)
    doc.connect(d1, 0, d2, 0)
    doc.revalidate()
    add = doc.add_node("Add", (800, 200))
    doc.connect(d2, 0, add, 0)
    doc.revalidate()
    before = snapshot(doc.graph)
    drag_mouse(window, port(window, add, True), port(window, add, False, 1))
    assert snapshot(doc.graph) == before
    assert "cannot feed itself" in reasons[-1]


def test_picking_up_a_wire_and_dropping_it_in_empty_space_deletes_it(window, qtbot):
    a, b = two_layers(window)
    window.document.connect(a, 0, b, 0)
    window.document.revalidate()
    drag_mouse(window, port(window, b, False), QPointF(200, 300))
    assert window.document.graph.edges() == []
    window.document.undo.undo()
    assert len(window.document.graph.edges()) == 1


def test_editing_a_property_changes_the_graph_and_the_shape_labels(window, qtbot):
    a, b = two_layers(window)
    doc = window.document
    c = doc.add_node("Dense", (800, 0), {"units": 4})
    doc.connect(a, 0, b, 0)
    doc.connect(b, 0, c, 0)
    doc.revalidate()
    window.focus_node(b)
    spin = window.properties.fields["units"][0]
    spin.selectAll()
    QTest.keyClicks(spin, "24")
    QTest.keyClick(spin, Qt.Key_Return)
    settle(qtbot, window)
    assert doc.graph.node(b).params["units"] == 24
    edge = doc.graph.in_edges(c)[0]
    assert window.scene.edges[edge].label == "(24,)"
    assert doc.analysis.report(c).params == 24 * 4 + 4


def test_a_refused_value_is_not_applied_and_the_field_says_why(window, qtbot):
    doc = window.document
    d = doc.add_node("Dropout", (0, 0))
    window.focus_node(d)
    field = window.properties.fields["rate"][0]
    field.setText("1.5")
    QTest.keyClick(field, Qt.Key_Return)
    assert doc.graph.node(d).params["rate"] == 0.5
    assert "must be less than 1" in window.properties.error_text("rate")
    field.setText("0.3")
    QTest.keyClick(field, Qt.Key_Return)
    assert doc.graph.node(d).params["rate"] == 0.3
    assert window.properties.error_text("rate") == ""


def test_twenty_edits_undo_and_redo(window, qtbot):
    doc = window.document
    original = snapshot(doc.graph)
    ids = []
    for i in range(20):
        kind = i % 5
        if kind == 0 or len(ids) < 2:
            ids.append(doc.add_node("Dense", (i * 50.0, 0), {"units": 3 + i}))
        elif kind == 1:
            doc.set_param(ids[-1], "activation", "tanh")
        elif kind == 2 and not doc.graph.in_edges(ids[-1]):
            doc.connect(ids[-2], 0, ids[-1], 0)
        elif kind == 2:
            doc.move_nodes({ids[-1]: (doc.graph.node(ids[-1]).position, (5.0, 5.0 * i))})
        elif kind == 3:
            doc.move_nodes({ids[0]: (doc.graph.node(ids[0]).position, (i * 10.0, 99.0))})
        elif i % 2:
            doc.duplicate([ids[-1]])
        else:
            doc.remove_nodes([ids.pop()])
    assert doc.undo.count() == 20
    edited = snapshot(doc.graph)
    for _ in range(20):
        QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert snapshot(doc.graph) == original
    for _ in range(20):
        QTest.keyClick(window, Qt.Key_Y, Qt.ControlModifier)
    assert snapshot(doc.graph) == edited


def test_moving_a_selection_is_one_undo_step(window, qtbot):
    a, b = two_layers(window)
    window.select_all()
    start = window.scene.nodes[a].sceneBoundingRect().center()
    drag_mouse(window, start, start + QPointF(100, 60))
    graph = window.document.graph
    assert graph.node(a).position == (100.0, 60.0)
    assert graph.node(b).position == (500.0, 60.0)
    window.document.undo.undo()
    assert graph.node(a).position == (0.0, 0.0) and graph.node(b).position == (400.0, 0.0)


def test_copy_paste_duplicate_delete_select_all(window, qtbot):
    a, b = two_layers(window)
    doc = window.document
    doc.connect(a, 0, b, 0)
    window.select_all()
    QTest.keyClick(window, Qt.Key_C, Qt.ControlModifier)
    QTest.keyClick(window, Qt.Key_V, Qt.ControlModifier)
    graph = doc.graph
    assert len(graph) == 4 and len(graph.edges()) == 2, "the wire between copies is kept"
    assert set(window.scene.selected_node_ids()) == {"input_2", "dense_2"}
    QTest.keyClick(window, Qt.Key_D, Qt.ControlModifier)
    assert len(graph) == 6
    QTest.keyClick(window, Qt.Key_Delete)
    assert len(graph) == 4
    QTest.keyClick(window, Qt.Key_A, Qt.ControlModifier)
    assert len(window.scene.selected_node_ids()) == 4


def test_save_then_open_gives_the_same_graph(window, qtbot, tmp_path, monkeypatch):
    window.open_file(ROOT / "samples/cnn_digits.graph", ask=False)
    doc = window.document
    doc.set_param("dense_1", "units", 48)
    target = tmp_path / "mine.graph"
    monkeypatch.setattr("netdesigner.designer.main_window.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(target), ""))
    assert window.save_as()
    assert not doc.modified and "mine.graph" in window.windowTitle()
    saved = snapshot(doc.graph)
    window.open_file(ROOT / "samples/mlp_digits.graph")
    window.open_file(target)
    assert snapshot(window.document.graph) == saved
    assert window.recent_files()[0] == str(target.resolve())


def test_a_problem_shows_in_the_list_and_clicking_it_selects_the_node(window, qtbot):
    doc = window.document
    a = doc.add_node("Input", (0, 0), {"shape": (10,)})
    conv = doc.add_node("Conv2D", (3000, 2000))
    doc.connect(a, 0, conv, 0)
    settle(qtbot, window)
    items = [window.problems.item(i) for i in range(window.problems.count())]
    (item,) = [i for i in items if "conv2d_1" in i.text()]
    assert "expects a 3-D input" in item.text()
    assert "1 problem" in window.status_valid.text()
    rect = window.problems.visualItemRect(item)
    QTest.mouseClick(window.problems.viewport(), Qt.LeftButton, Qt.NoModifier, rect.center())
    assert window.scene.selected_node_ids() == [conv]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    node_centre = window.scene.nodes[conv].sceneBoundingRect().center()
    assert abs(centre.x() - node_centre.x()) < 5 and abs(centre.y() - node_centre.y()) < 5
    assert window.scene.nodes[conv].toolTip().count("expects a 3-D input") == 1


def test_closing_with_unsaved_changes_prompts(window, qtbot):
    window.document.add_node("Dense", (0, 0))
    asked = []
    window.ask_save_changes = lambda: asked.append(1) or QMessageBox.Cancel
    window.close()
    assert asked == [1] and window.isVisible(), "Cancel keeps the window open"
    window.ask_save_changes = lambda: asked.append(2) or QMessageBox.Discard
    window.close()
    assert asked == [1, 2] and not window.isVisible()


def test_fit_and_zoom_shortcuts(window, qtbot):
    window.open_file(ROOT / "samples/cnn_digits.graph", ask=False)
    window.view.set_zoom(3.0)
    QTest.keyClick(window.view, Qt.Key_F)
    rect = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert rect.contains(window.scene.items_bounding_rect())


def test_autosave_writes_a_recovery_file_that_a_new_window_offers(window, qtbot, tmp_path):
    window.document.add_node("Dense", (0, 0), {"units": 77})
    window.autosave()
    assert window.recovery_file.exists()
    assert fileformat.load(window.recovery_file).node("dense_1").params["units"] == 77
    # pretend that session crashed: its pid is not alive
    info = window.recovery_file.with_suffix(".json")
    info.write_text(info.read_text().replace(f'"pid": {__import__("os").getpid()}', '"pid": 999999'))
    crashed = window.recovery_file.rename(window.recovery_file.with_name("session-999999.graph"))
    info.rename(crashed.with_suffix(".json"))
    from netdesigner.designer.main_window import MainWindow
    from PySide6.QtCore import QSettings
    other = MainWindow(settings=QSettings(str(tmp_path / "s2.ini"), QSettings.IniFormat))
    qtbot.addWidget(other)
    questions = []
    assert other.offer_recovery(ask=lambda text: questions.append(text) or True)
    assert "did not close properly" in questions[0]
    assert other.document.graph.node("dense_1").params["units"] == 77
    assert other.document.modified
    assert not crashed.exists()
    other.document.undo.setClean()


def test_theme_and_geometry_persist(window, qtbot, tmp_path):
    window.set_theme("dark")
    window.resize(760, 540)         # the offscreen screen is 800 x 600
    window.document.undo.setClean()
    window.close()
    from netdesigner.designer.main_window import MainWindow
    again = MainWindow(settings=window.settings)
    qtbot.addWidget(again)
    assert again.theme.name == "dark" and again.dark_action.isChecked()
    assert (again.size().width(), again.size().height()) == (760, 540)
    again.set_theme("light")


def test_the_first_layout_leaves_the_room_to_the_canvas(window, qtbot):
    """Without a saved layout: a short problems strip, narrow side docks, and the training
    panel still opens tall (it scrolls when its dock is short instead of holding it tall)."""
    problems = window._docks[2]
    qtbot.waitUntil(lambda: problems.height() < 0.25 * window.height(), timeout=3000)
    assert window.view.width() > 0.55 * window.width()
    assert window.show_training()
    qtbot.waitUntil(lambda: window.training_dock.height() > 0.4 * window.height(), timeout=3000)
