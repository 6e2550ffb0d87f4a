"""File > Compare With…: two designs on one canvas.

The canvas shows the overlay of `graph.diff.overlay`: the current design, with the layers the
other design had and this one lost put back where they stood. Added layers are framed green,
removed ones red, changed ones amber and layers changed only as a consequence (their output
shape or parameter count) grey-blue; the tooltip and the details pane say what changed. The
list on the left has one entry per difference; choosing one centres the canvas on it.
The overlay is a throwaway copy: nothing done in this window changes either design.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import (QGraphicsRectItem, QLabel, QListWidget, QListWidgetItem,
                               QMainWindow, QSplitter, QTextBrowser, QVBoxLayout, QWidget)

from netdesigner.graph import Graph
from netdesigner.graph.diff import ADDED, AFFECTED, CHANGED, REMOVED, diff, overlay

from .canvas.items import NODE_WIDTH, NodeItem
from .canvas.scene import NetworkScene
from .canvas.view import NetworkView
from .document import Document

MARK_COLOURS = {ADDED: "#2e7d32", REMOVED: "#d32f2f", CHANGED: "#f9a825", AFFECTED: "#78909c"}
KIND_WORDS = {ADDED: "added", REMOVED: "removed", CHANGED: "changed",
              AFFECTED: "changed as a consequence"}


class MarkItem(QGraphicsRectItem):
    """A coloured frame over a layer of the compare canvas, with what changed as its tooltip."""

    def __init__(self, node_item: NodeItem, kind: str, text: str):
        super().__init__(QRectF(-5, -5, NODE_WIDTH + 10, node_item.height + 10), node_item)
        self.kind = kind
        colour = QColor(MARK_COLOURS[kind])
        self.setPen(QPen(colour, 4 if kind != AFFECTED else 2,
                         Qt.DashLine if kind == REMOVED else Qt.SolidLine))
        fill = QColor(colour)
        fill.setAlpha(40 if kind in (ADDED, REMOVED) else 0)
        self.setBrush(QBrush(fill))
        self.setToolTip(f"{node_item.node_id}: {KIND_WORDS[kind]}" + (f"\n{text}" if text
                                                                      else ""))


class CompareWindow(QMainWindow):
    def __init__(self, old: Graph, new: Graph, old_name: str, new_name: str, theme,
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Compare: {old_name} → {new_name} — netdesigner")
        self.resize(1200, 760)
        self.result = diff(old, new)
        merged, self.marks = overlay(old, new, self.result)
        self.document = Document(merged, parent=self)     # a copy: edits here go nowhere
        self.view = NetworkView()
        self.scene = NetworkScene(self.document, theme, self)
        self.view.setScene(self.scene)
        self.mark_items: dict[str, MarkItem] = {}
        for node_id, mark in self.marks.items():
            item = self.scene.nodes.get(node_id)
            if item is not None:
                item.setFlag(NodeItem.ItemIsMovable, False)
                self.mark_items[node_id] = MarkItem(item, mark.kind, mark.text)
        for item in self.scene.nodes.values():
            item.setFlag(NodeItem.ItemIsMovable, False)

        self.summary = QLabel(f"<b>{old_name} → {new_name}</b>: {self.result.summary()}")
        self.summary.setWordWrap(True)
        legend = QLabel("  ".join(f"<span style='color:{MARK_COLOURS[k]}'>■</span> "
                                  f"{KIND_WORDS[k]}" for k in (ADDED, REMOVED, CHANGED,
                                                               AFFECTED)))
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.details = QTextBrowser()
        self._fill_list()
        self.list.currentItemChanged.connect(self._chosen)
        self.scene.selectionChanged.connect(self._selected_on_canvas)

        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(4, 4, 4, 4)
        col.addWidget(self.summary)
        col.addWidget(legend)
        col.addWidget(self.list, 3)
        col.addWidget(QLabel("Details"))
        col.addWidget(self.details, 2)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.view)
        splitter.setSizes([340, 860])
        self.setCentralWidget(splitter)
        self.view.fit()

    def showEvent(self, event):
        super().showEvent(event)
        QTimer.singleShot(0, self.view.show_network)      # once the view has its size

    def _fill_list(self) -> None:
        order = {CHANGED: 0, ADDED: 1, REMOVED: 2, AFFECTED: 3}
        for node_id, mark in sorted(self.marks.items(), key=lambda kv: (order[kv[1].kind],
                                                                         kv[0])):
            item = QListWidgetItem(f"{KIND_WORDS[mark.kind]}: {node_id}"
                                   + (f" — {mark.text}" if mark.text else ""))
            item.setForeground(QColor(MARK_COLOURS[mark.kind]).darker(120))
            item.setData(Qt.UserRole, node_id)
            item.setToolTip(mark.text)
            self.list.addItem(item)
        for wire in self.result.wires:
            item = QListWidgetItem(f"wire {wire.kind}: {wire.text()}")
            item.setData(Qt.UserRole, wire.edge.target)
            self.list.addItem(item)
        for setting in self.result.settings:
            self.list.addItem(QListWidgetItem(f"setting: {setting.text()}"))
        for block in self.result.blocks:
            inner = block.diff.summary() if block.diff is not None else ""
            self.list.addItem(QListWidgetItem(f"block {block.kind}: {block.name}"
                                              + (f" — {inner}" if inner else "")))
        if self.list.count() == 0:
            self.list.addItem(QListWidgetItem("The two designs are the same."))

    def _chosen(self, item, _previous=None) -> None:
        node_id = item.data(Qt.UserRole) if item is not None else None
        if node_id in self.scene.nodes:
            self.scene.select_only([node_id])
            self.view.center_on_node(node_id)
        self._show_details(node_id)

    def _selected_on_canvas(self) -> None:
        ids = self.scene.selected_node_ids()
        if len(ids) == 1:
            self._show_details(ids[0])

    def _show_details(self, node_id) -> None:
        """The layer's parameters, the changed ones marked old -> new."""
        if node_id is None or node_id not in self.document.graph:
            self.details.setPlainText("")
            return
        node = self.document.graph.node(node_id)
        mark = self.marks.get(node_id)
        change = next((c for c in self.result.layers if c.id == node_id
                       or (mark is not None and mark.kind == REMOVED
                           and c.old_id == mark.old_id and c.kind == REMOVED)), None)
        changed = {p.name: p for p in change.params} if change is not None else {}
        esc = html.escape
        rows = [f"<b>{node_id}</b> ({node.type}) — "
                f"{KIND_WORDS[mark.kind] if mark else 'unchanged'}"]
        if change is not None and change.renamed:
            rows.append(f"was <b>{change.old_id}</b>")
        for name, value in node.params.items():
            if name in changed:
                p = changed[name]
                rows.append(f"<span style='color:{MARK_COLOURS[CHANGED]}'>■</span> "
                            f"<b>{name}</b>: {esc(repr(p.old))} → {esc(repr(p.new))}")
            else:
                rows.append(f"{name}: {esc(repr(value))}")
        if mark is not None and mark.text:
            rows.append(f"<i>{esc(mark.text)}</i>")
        self.details.setHtml("<br>".join(rows))

    def closeEvent(self, event):
        self.document.close()
        super().closeEvent(event)
