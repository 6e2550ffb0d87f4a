"""The problems list: every validation problem; clicking one selects and centres its layer."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem

NODE_ROLE = Qt.UserRole + 1


class ProblemsList(QListWidget):
    nodeActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def show_problems(self, problems) -> None:
        self.clear()
        if not problems:
            item = QListWidgetItem("✔  No problems: every layer fits.")
            item.setForeground(QColor("#2e7d32"))
            item.setFlags(Qt.ItemIsEnabled)
            self.addItem(item)
            return
        for p in problems:
            mark = "✖" if p.severity == "error" else "⚠"
            item = QListWidgetItem(f"{mark}  {p}")
            item.setData(NODE_ROLE, p.node)
            item.setForeground(QColor("#d32f2f" if p.severity == "error" else "#e65100"))
            item.setToolTip(p.message)
            self.addItem(item)

    def _clicked(self, item) -> None:
        node = item.data(NODE_ROLE)
        if node:
            self.nodeActivated.emit(node)
