"""The canvas scene: draws the document's graph and turns gestures into edits.

It keeps an id -> item map and follows the model's events; it never changes an item's data
itself. Gestures (drag a wire, move a selection) become one undoable command each.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPen, QTransform
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from netdesigner.graph import Edge
from netdesigner.graph.events import (BlockChanged, EdgeAdded, EdgeRemoved, NodeAdded, NodeMoved,
                          NodeRemoved, ParamChanged)
from netdesigner.graph.layout import DOWN, orientation
from netdesigner.graph.shapes import fmt

from ..document import Document
from ..theme import LIGHT
from .items import EdgeItem, HintItem, NodeItem, PortItem, repaint, wire_path

HINT_MS = 4000         # how long a refused wire's reason stays on the canvas


class NetworkScene(QGraphicsScene):
    wireRefused = Signal(str)            # the reason, for the status bar too
    nodeOpened = Signal(str)             # a node was double-clicked

    def __init__(self, document: Document, theme=LIGHT, parent=None):
        super().__init__(parent)
        self.document, self.theme = document, theme
        self.snap_to_grid = True
        self.show_wire_labels = True
        # ports on the top and bottom edges when the drawing runs top-down (see set_orientation)
        self.vertical = orientation(document.graph) == DOWN
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict = {}
        self._wire: dict | None = None        # the wire being dragged
        self._temp = QGraphicsPathItem()
        self._temp.setZValue(5)
        self._hint = HintItem()
        self.addItem(self._temp)
        self.addItem(self._hint)
        self._temp.hide()
        self._hint.hide()
        self._press_positions: dict[str, tuple] = {}
        # a refused wire's reason stays a few seconds (or until the next click), not forever
        self.hint_timer = QTimer(self)
        self.hint_timer.setSingleShot(True)
        self.hint_timer.setInterval(HINT_MS)
        self.hint_timer.timeout.connect(self.hide_hint)
        self.setItemIndexMethod(QGraphicsScene.BspTreeIndex)
        self._bounds: QRectF | None = None      # items_bounding_rect, until a layer moves
        self._rects: list | None = None         # node_rects, until a layer moves
        self.building = True          # wires drawn plain until every layer is in (see below)
        for n in document.graph.nodes():
            self._add_node(n)
        for e in document.graph.edges():
            self._add_edge(e)
        self.building = False
        # long wires look for layers in their way once, with the item index complete
        for item in self.edges.values():
            if item.may_need_detour():
                item.update_path()
        document.graphEvent.connect(self.on_event)
        document.validated.connect(self.refresh_all)
        self.refresh_all()

    # -- following the model --------------------------------------------------------------------
    def _add_node(self, node_id: str) -> None:
        item = NodeItem(self, node_id)
        self.nodes[node_id] = item
        self.addItem(item)

    def _add_edge(self, edge) -> None:
        item = EdgeItem(self, edge)
        self.edges[edge] = item
        self.addItem(item)

    def on_event(self, event) -> None:
        if isinstance(event, (NodeAdded, NodeRemoved, NodeMoved)):
            self._bounds = self._rects = None
        if isinstance(event, NodeAdded):
            self._add_node(event.node)
        elif isinstance(event, NodeRemoved):
            item = self.nodes.pop(event.node, None)
            if item is not None:
                self.removeItem(item)
        elif isinstance(event, EdgeAdded):
            self._add_edge(event.edge)
            self._ports_changed(event.edge.target)
        elif isinstance(event, EdgeRemoved):
            item = self.edges.pop(event.edge, None)
            if item is not None:
                self.removeItem(item)
            self._ports_changed(event.edge.target)
        elif isinstance(event, ParamChanged):
            self._ports_changed(event.node)
        elif isinstance(event, NodeMoved):
            item = self.nodes.get(event.node)
            if item is not None and (item.pos().x(), item.pos().y()) != event.new:
                item.setPos(QPointF(*event.new))
        elif isinstance(event, BlockChanged):
            for n, item in self.nodes.items():
                if self.document.graph.node(n).type == "Block":
                    self._ports_changed(n)

    def _ports_changed(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            item.rebuild_ports()
            self.node_moved(node_id)

    def node_moved(self, node_id: str) -> None:
        """Keep the wires of a node attached while it moves."""
        self._bounds = self._rects = None
        graph = self.document.graph
        if node_id not in graph:
            return
        for edge in graph.in_edges(node_id) + graph.out_edges(node_id):
            item = self.edges.get(edge)
            if item is not None:
                item.update_path()

    def refresh_all(self) -> None:
        """After validation: shapes on wires, problems on nodes."""
        for item in self.nodes.values():
            item.refresh()
        for item in self.edges.values():
            item.refresh()

    def update_orientation(self) -> None:
        """Put the ports where the wires run (after an auto layout or opening a file)."""
        vertical = orientation(self.document.graph) == DOWN
        if vertical == self.vertical:
            return
        self.vertical = vertical
        for item in self.nodes.values():
            item.rebuild_ports()
        for item in self.edges.values():
            item.update_path()

    def set_theme(self, theme) -> None:
        self.theme = theme
        self.repaint_items()

    def set_wire_labels(self, on: bool) -> None:
        self.show_wire_labels = on
        self.repaint_items()

    def repaint_items(self) -> None:
        """Items cache their pixels: a change of look must invalidate every one (see
        items.repaint: update() alone left the layers white after a switch to dark)."""
        for item in self.items():
            repaint(item)
        self.update()

    # -- training overlay -----------------------------------------------------------------------
    def set_training_overlay(self, gradient: dict, warnings: dict) -> None:
        """Tint each layer by the size of its gradients (log scale, weakest to strongest) and
        badge the layers with a training warning."""
        import math
        logs = {n: math.log10(g) for n, g in gradient.items() if g > 0}
        lo, hi = (min(logs.values()), max(logs.values())) if logs else (0.0, 0.0)
        for n, item in self.nodes.items():
            level = None
            if n in logs:
                level = 0.5 if hi == lo else (logs[n] - lo) / (hi - lo)
            item.set_training(level, gradient.get(n), warnings.get(n, []))

    def clear_training_overlay(self) -> None:
        for item in self.nodes.values():
            item.set_training(None, None, [])

    # -- helpers --------------------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        order = {n: i for i, n in enumerate(self.document.graph.nodes())}
        ids = [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]
        return sorted(ids, key=order.get)

    def selected_edges(self) -> list:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_only(self, node_ids) -> None:
        self.clearSelection()
        for n in node_ids:
            if n in self.nodes:
                self.nodes[n].setSelected(True)

    def port_at(self, pos: QPointF) -> PortItem | None:
        for item in self.items(pos, Qt.IntersectsItemShape, Qt.DescendingOrder, QTransform()):
            if isinstance(item, PortItem):
                return item
        return None

    def node_rects(self) -> list[tuple]:
        """(left, top, right, bottom, item) of every layer: the wires' detours ask for the
        layers in their way, and QGraphicsScene.items() called each item's Python
        boundingRect() (a second per 500 layers)."""
        if self._rects is None:
            self._rects = []
            for item in self.nodes.values():
                r = item.sceneBoundingRect()
                self._rects.append((r.left(), r.top(), r.right(), r.bottom(), item))
        return self._rects

    def items_bounding_rect(self) -> QRectF:
        """The layers' bounds (remembered: the overview asks on every scroll step)."""
        if self._bounds is None:
            rect = QRectF()
            for item in self.nodes.values():
                rect = rect.united(item.sceneBoundingRect())
            self._bounds = rect
        return QRectF(self._bounds)

    # -- wiring by dragging ---------------------------------------------------------------------
    def mousePressEvent(self, event):
        self.hide_hint()
        if event.button() == Qt.LeftButton:
            port = self.port_at(event.scenePos())
            if port is not None and port.is_output:
                self._start_wire(port.node_id, port.index, None)
                event.accept()
                return
            if port is not None and not port.is_output:
                edge = self.document.graph.input_ports(port.node_id).get(port.index)
                if edge is not None:        # pick up an existing wire by its input end
                    self._start_wire(edge.source, edge.source_port, edge)
                    event.accept()
                    return
        super().mousePressEvent(event)
        self._press_positions = {n: tuple(self.document.graph.node(n).position)
                                 for n in self.selected_node_ids()}

    def _start_wire(self, source: str, port: int, detached) -> None:
        self._wire = {"source": source, "port": port, "detached": detached, "target": None}
        if detached is not None:
            self.edges[detached].hide()
        self._temp.setPen(self._pen(True))
        self._temp.show()

    def _pen(self, ok: bool) -> QPen:
        pen = QPen(self.theme.colour("selection" if ok else "error"), 2)
        pen.setStyle(Qt.DashLine)
        return pen

    def mouseMoveEvent(self, event):
        if self._wire is None:
            super().mouseMoveEvent(event)
            return
        w = self._wire
        start = self.nodes[w["source"]].port_pos(True, w["port"])
        pos = event.scenePos()
        port = self.port_at(pos)
        w["target"] = None
        if port is not None and not port.is_output:
            end = port.scenePos()
            reason = self.wire_problem(w["source"], w["port"], port.node_id, port.index)
            ok = reason is None
            shape = self.document.analysis.edge_shape(
                Edge(w["source"], w["port"], port.node_id, port.index))
            text = (f"{port.node_id} ← {fmt(shape) if shape else '?'}" if ok else reason)
            w["target"] = (port.node_id, port.index, reason)
        else:
            end, ok, text = pos, True, ""
        self._temp.setPath(wire_path(start, end, self.vertical))
        self._temp.setPen(self._pen(ok))
        self._hint.set(text, ok, self.theme)
        self._place_hint(pos)
        self._hint.setVisible(bool(text))
        event.accept()

    def wire_problem(self, source, source_port, target, target_port) -> str | None:
        detached = (self._wire or {}).get("detached")
        if detached is not None and (target, target_port) == (detached.target,
                                                               detached.target_port):
            return None             # dropping a picked-up wire back where it was
        return self.document.analysis.wire_problem(source, source_port, target, target_port,
                                                   ignore=detached)

    def mouseReleaseEvent(self, event):
        if self._wire is None:
            super().mouseReleaseEvent(event)
            self._finish_move()
            return
        w, self._wire = self._wire, None
        self._temp.hide()
        detached = w["detached"]
        if detached is not None and detached in self.edges:
            self.edges[detached].show()
        target = w["target"]
        if target is not None and target[2] is not None:
            self._hint.set(target[2], False, self.theme)      # the reason stays a moment
            self._place_hint(event.scenePos())
            self._hint.show()
            self.hint_timer.start()
            self.wireRefused.emit(target[2])
        else:
            self._hint.hide()
        doc = self.document
        if target is None:
            if detached is not None:                            # dropped in empty space
                doc.disconnect(detached)
        elif target[2] is None:
            new = (w["source"], w["port"], target[0], target[1])
            if detached is None:
                doc.connect(*new)
            elif (detached.target, detached.target_port) != (target[0], target[1]):
                doc.undo.beginMacro("Rewire")
                doc.disconnect(detached)
                doc.connect(*new)
                doc.undo.endMacro()
        event.accept()

    def _place_hint(self, pos: QPointF) -> None:
        """At the cursor, flipped to its left or above it where it would leave the view."""
        self._hint.setPos(pos)
        views = [v for v in self.views() if not hasattr(v, "main")]     # not the overview
        if not views:
            return
        view = views[0]
        at = view.mapFromScene(pos)
        w, h = self._hint.size()
        vp = view.viewport().rect()
        self._hint.set_flip(at.x() + 14 + w > vp.right(), at.y() + 14 + h > vp.bottom())

    def hide_hint(self) -> None:
        self.hint_timer.stop()
        self._hint.hide()

    def _finish_move(self) -> None:
        """A drag of a selection ends: one undoable move for all the nodes that moved."""
        moves = {}
        for n, old in self._press_positions.items():
            item = self.nodes.get(n)
            if item is not None:
                new = (item.pos().x(), item.pos().y())
                if new != old:
                    moves[n] = (old, new)
        self._press_positions = {}
        if moves:
            self.document.move_nodes(moves)
