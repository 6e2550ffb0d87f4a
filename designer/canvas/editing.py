"""Edits made on a canvas, shared by the main window and the block editor."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt

from .items import GRID, HEADER, LINE, NODE_WIDTH, NodeItem

DROP_OFFSET_Y = 30.0       # a dropped layer's header lands just above the cursor


def add_layer(document, scene, type_id: str, scene_pos: QPointF) -> str:
    """Add a layer centred where it was dropped (on the grid when snapping); select it."""
    x, y = scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - DROP_OFFSET_Y
    if scene.snap_to_grid:
        x, y = round(x / GRID) * GRID, round(y / GRID) * GRID
    node_id = document.add_node(type_id, (x, y))
    scene.select_only([node_id])
    return node_id


def free_spot(scene, scene_pos: QPointF, gap: float = 2 * GRID) -> QPointF:
    """The nearest point to `scene_pos` where a new layer dropped there (see add_layer) would
    overlap no layer, keeping `gap` around it: rings of grid points, nearest first."""
    height = HEADER + 3 * LINE + 10

    def free(p: QPointF) -> bool:
        rect = QRectF(p.x() - NODE_WIDTH / 2 - gap, p.y() - DROP_OFFSET_Y - gap,
                      NODE_WIDTH + 2 * gap, height + 2 * gap)
        return not any(isinstance(i, NodeItem)
                       for i in scene.items(rect, Qt.IntersectsItemBoundingRect))

    if free(scene_pos):
        return scene_pos
    step = 2 * GRID
    for ring in range(1, 60):
        candidates = [QPointF(scene_pos.x() + dx * step, scene_pos.y() + dy * step)
                      for dx in range(-ring, ring + 1) for dy in range(-ring, ring + 1)
                      if max(abs(dx), abs(dy)) == ring]
        candidates.sort(key=lambda p: ((p.x() - scene_pos.x()) ** 2
                                       + (p.y() - scene_pos.y()) ** 2, p.y(), p.x()))
        for p in candidates:
            if free(p):
                return p
    return scene_pos


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
