"""Feature maps: what the convolution layers see, live while training."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout,
                               QWidget)

from .images import array_pixmap


class FeatureMapsView(QWidget):
    """What the convolution layers see: channel images of one fixed sample, updated live."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layer = QComboBox()
        self.layer.setMinimumContentsLength(18)
        self.caption = QLabel("Feature maps appear here while a network with convolutions "
                              "trains: each picture is one channel's response to the same "
                              "validation sample.")
        self.caption.setWordWrap(True)
        self.holder = QWidget()
        self.grid = QGridLayout(self.holder)
        self.grid.setSpacing(4)
        top = QHBoxLayout()
        top.addWidget(QLabel("layer"))
        top.addWidget(self.layer, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.caption)
        layout.addWidget(self.holder, 1)
        self.maps: dict = {}
        self.step = 0
        self.layer.currentTextChanged.connect(lambda _: self.redraw())

    def clear(self) -> None:
        self.maps = {}
        self.layer.clear()
        self.redraw()

    def update_maps(self, event: dict) -> None:
        self.maps = event["maps"]
        self.step = event["step"]
        for name in self.maps:
            if self.layer.findText(name) < 0:
                self.layer.addItem(name)

    def redraw(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        channels = self.maps.get(self.layer.currentText())
        if not channels:
            return
        self.caption.setText(f"{self.layer.currentText()} after batch {self.step}: "
                             f"{len(channels)} channels of one validation sample")
        for c, image in enumerate(channels):
            cell = QWidget()
            col = QVBoxLayout(cell)
            col.setContentsMargins(0, 0, 0, 0)
            picture = QLabel()
            picture.setPixmap(array_pixmap(image, 72))
            col.addWidget(picture, alignment=Qt.AlignCenter)
            col.addWidget(QLabel(f"channel {c}"), alignment=Qt.AlignCenter)
            self.grid.addWidget(cell, c // 4, c % 4)
