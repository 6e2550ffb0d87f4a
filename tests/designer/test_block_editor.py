"""Editing a block's definition: its own canvas, the project's undo history, live validation."""
from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _open_resnet(window, tmp_path):
    path = tmp_path / "resnet.graph"
    shutil.copy(SAMPLES / "resnet_digits.graph", path)
    assert window.open_file(path, ask=False)
    return path


def test_double_clicking_a_block_node_opens_its_definition(window, qtbot, tmp_path):
    _open_resnet(window, tmp_path)
    item = window.scene.nodes["block_1"]
    view = window.view
    view.centerOn(item)
    QTest.mouseDClick(view.viewport(), Qt.LeftButton, pos=view.mapFromScene(
        item.sceneBoundingRect().center()))
    editor = window.block_editors["residual_unit"]
    qtbot.waitExposed(editor)
    assert set(editor.scene.nodes) == set(window.document.graph.blocks["residual_unit"]
                                          .graph.nodes())
    assert "block_1" in editor.windowTitle()
    assert "✔ valid inside" in editor.ports.text()
    editor.close()


def test_an_edit_inside_is_checked_where_the_block_is_used_and_undoes(window, qtbot, tmp_path):
    _open_resnet(window, tmp_path)
    window.scene.select_only(["block_1"])
    editor = window.edit_selected_block() or window.block_editors["residual_unit"]
    editor.scene.select_only(["conv_b"])
    assert "filters" in editor.properties.fields
    editor.document.set_param("conv_b", "filters", 8)       # as the property editor does
    window.document.revalidate()
    editor.document.revalidate()
    # inside: the skip connection adds (8, 8, 16) and (8, 8, 8)
    assert "1 problem inside" in editor.ports.text() and "skip" in editor.ports.text()
    assert window.document.analysis.errors(), "the Block node that uses it has a problem"
    assert window.document.modified
    window.undo_action.trigger()                            # the main window's Ctrl+Z
    window.document.revalidate()
    editor.document.revalidate()
    assert window.document.graph.blocks["residual_unit"].graph.node("conv_b").params[
        "filters"] == 16
    assert "✔ valid inside" in editor.ports.text()
    assert not window.document.analysis.errors() and not window.document.modified
    editor.close()


def test_a_layer_dropped_in_the_editor_joins_the_block(window, qtbot, tmp_path):
    _open_resnet(window, tmp_path)
    editor = window.open_block("residual_unit")
    before = len(editor.block.graph.nodes())
    editor.view.layerDropped.emit("Dropout", QPointF(400, 400))
    assert len(editor.block.graph.nodes()) == before + 1
    assert len(window.document.graph.nodes()) == 5            # the project graph: unchanged
    editor.delete_selection()                                 # the new layer is selected
    assert len(editor.block.graph.nodes()) == before
    editor.close()
    assert "residual_unit" not in window.block_editors
