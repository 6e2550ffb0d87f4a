"""Edits made on a canvas, shared by the main window and the block editor."""
from __future__ import annotations

from PySide6.QtCore import QPointF

from .items import GRID, NODE_WIDTH

DROP_OFFSET_Y = 30.0       # a dropped layer's header lands just above the cursor


def add_layer(document, scene, type_id: str, scene_pos: QPointF) -> str:
    """Add a layer centred where it was dropped (on the grid when snapping); select it."""
    x, y = scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - DROP_OFFSET_Y
    if scene.snap_to_grid:
        x, y = round(x / GRID) * GRID, round(y / GRID) * GRID
    node_id = document.add_node(type_id, (x, y))
    scene.select_only([node_id])
    return node_id


def delete_selection(document, scene) -> None:
    """Delete the selected layers (with their wires) and selected wires, as one undo step."""
    ids = scene.selected_node_ids()
    edges = [e for e in scene.selected_edges() if e.source not in ids and e.target not in ids]
    if not ids and not edges:
        return
    document.undo.beginMacro("Delete")
    for edge in edges:
        document.disconnect(edge)
    document.remove_nodes(ids)
    document.undo.endMacro()
