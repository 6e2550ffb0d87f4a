"""The layer palette: every catalog type by category, searchable, draggable onto the canvas."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from netdesigner.graph import CATALOG

from .canvas.view import LAYER_MIME

TYPE_ROLE = Qt.UserRole + 1


class LayerTree(QTreeWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setRootIsDecorated(True)
        self.setIndentation(12)

    def mimeData(self, items):
        data = QMimeData()
        type_id = items[0].data(0, TYPE_ROLE) if items else None
        if type_id:
            data.setData(LAYER_MIME, type_id.encode())
            data.setText(type_id)
        return data

    def mimeTypes(self):
        return [LAYER_MIME]

    def startDrag(self, actions):
        item = self.currentItem()
        if item is None or not item.data(0, TYPE_ROLE):
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        drag.exec(Qt.CopyAction)


class Palette(QWidget):
    """Search box + tree. Double-click (or Enter) adds the layer at the centre of the view."""
    activated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search layers…  (e.g. conv, lstm, attention)")
        self.search.setClearButtonEnabled(True)
        self.tree = LayerTree()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.items: dict[str, QTreeWidgetItem] = {}
        for category, types in CATALOG.categories().items():
            parent = QTreeWidgetItem(self.tree, [category])
            parent.setFlags(Qt.ItemIsEnabled)
            for t in types:
                item = QTreeWidgetItem(parent, [t.type_id])
                item.setData(0, TYPE_ROLE, t.type_id)
                item.setToolTip(0, f"<b>{t.type_id}</b><br>{t.description}")
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                self.items[t.type_id] = item
        self.tree.expandAll()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._activate_first)
        self.tree.itemActivated.connect(self._activated)

    def filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            parent = self.tree.topLevelItem(i)
            shown = 0
            for j in range(parent.childCount()):
                child = parent.child(j)
                t = CATALOG[child.data(0, TYPE_ROLE)]
                haystack = f"{t.type_id} {t.category} {t.description}".lower()
                match = all(w in haystack for w in words)
                child.setHidden(not match)
                shown += match
            parent.setHidden(shown == 0)

    def visible_types(self) -> list[str]:
        return [t for t, item in self.items.items()
                if not item.isHidden() and not item.parent().isHidden()]

    def _activate_first(self) -> None:
        visible = self.visible_types()
        if visible:
            self.activated.emit(visible[0])

    def _activated(self, item, column) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.activated.emit(type_id)
