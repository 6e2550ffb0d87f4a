"""The canvas at the window sizes people use: a training area with a real share, a small
overview, files framed at a readable zoom, a top-down auto-layout, new layers where nothing is,
and the canvas defects of issue #13 (hint left on screen, stale pixels after undo and after a
theme switch, a hint cut off at the view's edge)."""
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from netdesigner.designer.canvas.view import READABLE_ZOOM

from tests.designer.actions import drag_mouse as drag

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def menu_action(window, text):
    """An entry of the Edit menu, as a user picks it."""
    edit = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Edit")
    return next(a for a in edit.actions() if a.text() == text)


def node_pixels(window, node_id):
    item = window.scene.nodes[node_id]
    rect = window.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return window.view.viewport().grab(rect).toImage()


def visible_rect(window):
    return window.view.mapToScene(window.view.viewport().rect()).boundingRect()


def test_at_1280x800_the_training_dock_gets_a_real_share_and_the_overview_a_corner(window,
                                                                                    qtbot):
    window.resize(1280, 800)
    assert window.open_file(SAMPLES / "vgg_digits.graph", ask=False)
    problems = window._docks[2]
    qtbot.waitUntil(lambda: problems.height() < 0.25 * window.height(), timeout=3000)
    window.training_dock.raise_()          # what clicking its tab does
    qtbot.waitUntil(lambda: window.training_dock.height() >= 0.35 * window.height(),
                    timeout=3000)
    view = window.view.viewport()
    minimap = window.view.minimap
    qtbot.waitUntil(minimap.isVisible, timeout=3000)      # the network is wider than the view
    assert minimap.width() * minimap.height() <= 0.15 * view.width() * view.height()
    assert view.height() > 250                 # the canvas keeps room too



def test_at_1280x800_the_training_settings_show_rows_the_data_summary_and_every_button(
        window, qtbot):
    """The training panel's left column on a 1280x800 screen: the settings had room for two
    rows and scrolled sideways; now at least four rows, no sideways scrolling, the data
    summary whole (its "fits the network" line was cut), one row of buttons, no scroll bar
    around the whole panel."""
    from PySide6.QtWidgets import QScrollArea

    from netdesigner.designer.training.panel import SETTINGS_MIN_HEIGHT
    window.resize(1280, 800)
    assert window.open_file(SAMPLES / "image_folder_shapes.graph", ask=False)
    panel = window.training
    window.show_training()
    qtbot.waitUntil(lambda: window.training_dock.height() >= 0.35 * window.height(),
                    timeout=3000)
    qtbot.waitUntil(lambda: "fits the network" in panel.data_label.text(), timeout=20000)
    qtbot.wait(100)
    settings = next(a for a in panel.findChildren(QScrollArea) if a.widget() is panel.settings_box)
    assert settings.height() >= max(SETTINGS_MIN_HEIGHT, 120)        # four rows here
    assert not settings.horizontalScrollBar().isVisible()
    assert panel.settings_box.width() <= settings.viewport().width()
    label = panel.data_label
    assert label.height() >= label.heightForWidth(label.width())
    buttons = [panel.start_button, panel.pause_button, panel.stop_button,
               panel.evaluate_button, panel.export_button]
    assert len({b.mapTo(panel, b.rect().topLeft()).y() for b in buttons}) == 1
    for b in buttons:
        assert b.width() >= b.fontMetrics().horizontalAdvance(b.text())
    outer = window.training_dock.widget()
    assert isinstance(outer, QScrollArea) and not outer.verticalScrollBar().isVisible()
    # no page of the plots asks for more height than the panel has (the Test set page did)
    plots = panel.plots
    assert plots.minimumSizeHint().height() <= outer.viewport().height()

def test_opening_a_file_frames_it_at_a_readable_zoom_from_its_input(window, qtbot):
    assert window.open_file(SAMPLES / "vgg_digits.graph", ask=False)
    qtbot.wait(50)
    assert window.view.zoom() >= READABLE_ZOOM - 1e-6
    shown = visible_rect(window)
    for n in window.document.graph.inputs():
        assert shown.contains(window.scene.nodes[n].sceneBoundingRect())
    window.show_training()               # the canvas shrinks: the view frames it again
    qtbot.waitUntil(lambda: window.training_dock.height() >= 0.35 * window.height(),
                    timeout=3000)
    qtbot.wait(50)
    shown = visible_rect(window)
    for n in window.document.graph.inputs():
        assert shown.contains(window.scene.nodes[n].sceneBoundingRect())
    assert window.open_file(SAMPLES / "perceptron_and.graph", ask=False)
    qtbot.wait(50)
    shown = visible_rect(window)
    assert all(shown.contains(i.sceneBoundingRect()) for i in window.scene.nodes.values())


def test_auto_layout_puts_a_long_chain_top_down_readable_and_undo_restores_it(window, qtbot):
    assert window.open_file(SAMPLES / "cnn_digits.graph", ask=False)
    qtbot.wait(20)
    doc = window.document
    before = {n: doc.graph.node(n).position for n in doc.graph.nodes()}
    assert not window.scene.vertical
    menu_action(window, "Auto &Layout").trigger()
    assert window.scene.vertical
    for e in doc.graph.edges():
        src, dst = window.scene.nodes[e.source], window.scene.nodes[e.target]
        assert dst.sceneBoundingRect().top() > src.sceneBoundingRect().bottom()
        # wires leave the bottom of a layer and enter the top of the next
        assert window.scene.edges[e].path().pointAtPercent(0).y() == src.port_pos(True, 0).y()
    assert window.view.zoom() >= READABLE_ZOOM - 1e-6       # not one row of 6 px text
    doc.undo.undo()
    assert {n: doc.graph.node(n).position for n in doc.graph.nodes()} == before
    assert not window.scene.vertical
    menu_action(window, "Auto Layout Left to &Right").trigger()
    assert not window.scene.vertical
    ys = {doc.graph.node(n).position[1] for n in doc.graph.nodes()}
    assert len(ys) == 1


def test_palette_adds_land_where_no_layer_is(window, qtbot):
    assert window.open_file(SAMPLES / "cnn_digits.graph", ask=False)
    qtbot.wait(20)
    added = [window.add_layer_at_centre("Dense") for _ in range(3)]
    rects = {n: i.sceneBoundingRect().adjusted(4, 4, -4, -4)
             for n, i in window.scene.nodes.items()}
    for n in added:
        others = [r for m, r in rects.items() if m != n]
        assert not any(rects[n].intersects(r) for r in others), n
        assert visible_rect(window).intersects(rects[n])


def refused_wire(window):
    doc = window.document
    a = doc.add_node("Input", (0, 0), {"shape": (16,)})
    conv = doc.add_node("Conv2D", (400, 0))
    doc.revalidate()
    window.view.centerOn(300, 40)
    drag(window, window.scene.nodes[a].outputs[0].scenePos(),
         window.scene.nodes[conv].inputs[0].scenePos())
    return a, conv


def test_the_refused_wire_hint_goes_on_the_next_click_or_after_a_few_seconds(window, qtbot):
    refused_wire(window)
    hint = window.scene._hint
    assert hint.isVisible() and "Conv2D" in hint.text
    QTest.mouseClick(window.view.viewport(), Qt.LeftButton, Qt.NoModifier,
                     window.view.mapFromScene(QPointF(200, 400)))
    assert not hint.isVisible()
    window.scene.hint_timer.setInterval(100)
    refused_wire(window)
    assert hint.isVisible()
    qtbot.waitUntil(lambda: not hint.isVisible(), timeout=2000)


def test_the_wire_hint_stays_inside_the_view_near_its_edge(window, qtbot):
    a, conv = refused_wire(window)
    scene, hint = window.scene, window.scene._hint
    corner = window.view.mapToScene(window.view.viewport().rect().bottomRight()
                                    - window.view.viewport().rect().topLeft() * 0)
    scene._place_hint(corner - QPointF(5, 5))
    shown = window.view.mapFromScene(hint.mapToScene(hint.boundingRect())).boundingRect()
    assert window.view.viewport().rect().contains(shown)
    assert hint.flip == (True, True)


def test_after_delete_then_undo_the_layer_shows_its_shape_without_being_selected(window, qtbot):
    assert window.open_file(SAMPLES / "cnn_digits.graph", ask=False)
    qtbot.wait(50)
    n = window.document.graph.nodes()[1]
    before = node_pixels(window, n)
    window.scene.select_only([n])
    window.delete_selection()
    qtbot.wait(20)
    window.document.undo.undo()
    window.document.revalidate()
    qtbot.wait(50)
    assert window.scene.nodes[n].report() is not None
    assert node_pixels(window, n) == before       # was "shape ?" until selected


def test_switching_to_the_dark_theme_repaints_the_existing_layers(window, qtbot):
    assert window.open_file(SAMPLES / "cnn_digits.graph", ask=False)
    qtbot.wait(50)
    n = window.document.graph.nodes()[1]
    item = window.scene.nodes[n]
    at = window.view.mapFromScene(item.mapToScene(QPointF(100, 60)))
    colour = lambda: window.view.viewport().grab().toImage().pixelColor(at).name()  # noqa: E731
    assert colour() == window.theme.colour("node").name()
    window.dark_action.trigger()
    qtbot.wait(50)
    assert window.theme.name == "dark"
    assert colour() == window.theme.colour("node").name()
    window.dark_action.trigger()


def test_a_skip_wire_goes_around_the_layers_in_its_way(window, qtbot):
    doc = window.document
    x = doc.add_node("Input", (0, 0), {"shape": (8,)})
    a = doc.add_node("Dense", (0, 0), {"units": 8})
    b = doc.add_node("Dense", (0, 0), {"units": 8})
    add = doc.add_node("Add", (0, 0))
    for src, dst, p in ((x, a, 0), (a, b, 0), (b, add, 0), (x, add, 1)):
        doc.connect(src, 0, dst, p)
    menu_action(window, "Auto Layout &Top-Down").trigger()
    for direction in ("top-down", "left to right"):
        skip = next(e for e in doc.graph.edges() if e.source == x and e.target == add)
        path = window.scene.edges[skip].path()
        for n in (a, b):
            rect = window.scene.nodes[n].sceneBoundingRect()
            assert not any(rect.contains(path.pointAtPercent(t / 50)) for t in range(51)), \
                (direction, n)
        menu_action(window, "Auto Layout Left to &Right").trigger()


def test_a_selection_collapses_into_a_block_and_undo_restores_it(window, qtbot, tmp_path):
    doc = window.document
    x = doc.add_node("Input", (0, 0), {"shape": (8,)})
    a = doc.add_node("Dense", (280, 0), {"units": 16, "activation": "relu"})
    b = doc.add_node("Dense", (560, 0), {"units": 16})
    c = doc.add_node("Dense", (840, 0), {"units": 4})
    for src, dst in ((x, a), (a, b), (b, c)):
        doc.connect(src, 0, dst, 0)
    doc.revalidate()
    params, before = doc.analysis.total_params(), fileformat_dict(doc)
    window.scene.select_only([a, b])
    menu_action(window, "&Collapse into Block").trigger()
    doc.revalidate()
    (block,) = [n for n in doc.graph.nodes() if doc.graph.node(n).type == "Block"]
    assert set(doc.graph.nodes()) == {x, block, c}
    definition = doc.graph.blocks[doc.graph.node(block).params["block"]]
    assert len(definition.inputs) == 1 and len(definition.outputs) == 1
    assert not [p for p in doc.analysis.problems() if p.severity == "error"]
    assert doc.analysis.total_params() == params            # the same layers, the same weights
    assert window.scene.selected_node_ids() == [block]
    editor = window.open_block(definition.name)          # it opens like any block
    assert set(editor.document.graph.nodes()) >= {a, b}
    editor.close()
    from netdesigner.graph import fileformat
    fileformat.save(doc.graph, tmp_path / "collapsed.graph")
    again = fileformat.load(tmp_path / "collapsed.graph")
    assert set(again.blocks[definition.name].graph.nodes()) == set(definition.graph.nodes())
    doc.undo.undo()
    doc.revalidate()
    assert fileformat_dict(doc) == before
    doc.undo.redo()
    doc.revalidate()
    assert doc.analysis.total_params() == params and len(doc.graph) == 3
    doc.undo.undo()
    window.scene.select_only([x])                    # an Input stays outside: refused
    menu_action(window, "&Collapse into Block").trigger()
    assert fileformat_dict(doc) == before
    assert "Input" in window.statusBar().currentMessage()


def fileformat_dict(doc):
    from netdesigner.graph.fileformat import to_dict
    data = to_dict(doc.graph)
    data.pop("app_version", None)
    # undo puts layers back at the end of the list, as undoing a Delete does
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    data["edges"] = sorted(data["edges"], key=lambda e: sorted(e.items()))
    return data
