"""A look at the training data: an image grid, or a table of the first rows."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QLabel, QStackedWidget,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from netdesigner.backends.evaluation import class_ids

from .images import array_pixmap

SHOWN_IMAGES = 36
SHOWN_ROWS = 40
NO_DATA = "No data yet."


def is_image_batch(x: np.ndarray) -> bool:
    return x.ndim == 4 and x.shape[-1] in (1, 3) and min(x.shape[1:3]) >= 4


def _class_label(ids, names: list) -> str:
    """A class name, or the names of a sequence of classes (one per time step)."""
    if np.ndim(ids):
        return " ".join(_class_label(i, names) for i in ids)
    return names[ids] if ids < len(names) else str(ids)


def class_balance(dataset) -> str:
    """'Classes (whole data set): cat 120, dog 480 — imbalanced: ...' from the labels the data
    set holds in memory (a streamed set keeps its labels; its samples are not read)."""
    if dataset.task != "classification" or not dataset.classes:
        return ""
    y = np.asarray(dataset.y)
    if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == len(dataset.classes)):
        return ""                                # a class per time step: not one per sample
    counts = np.bincount(class_ids(y), minlength=len(dataset.classes))
    names = dataset.classes
    shown = ", ".join(f"{names[i] if i < len(names) else i} {n:,}"
                      for i, n in enumerate(counts[:20])) + (", …" if len(counts) > 20 else "")
    text = f"Classes (whole data set): {shown}"
    present = counts[counts > 0]
    if len(present) > 1 and present.max() >= 3 * present.min():
        text += (f" — imbalanced: the largest class has {present.max() / present.min():.0f}x "
                 f"the samples of the smallest; accuracy alone can mislead (see the per-class "
                 f"table of the Test set tab).")
    return text + "."


class DataPreview(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.caption = QLabel(NO_DATA)
        self.caption.setWordWrap(True)
        self.mapping = QLabel()          # which label in the data is which class
        self.mapping.setWordWrap(True)
        self.mapping.setVisible(False)
        self.grid_holder = QWidget()
        self.grid = QGridLayout(self.grid_holder)
        self.grid.setSpacing(2)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.grid_holder)
        self.stack.addWidget(self.table)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.mapping)
        layout.addWidget(self.stack, 1)
        self.shown = 0

    def show_project(self, project) -> None:
        """Until the project's data set is read: nothing of the previous one's."""
        self.caption.setText(NO_DATA)
        self.mapping.clear()
        self.mapping.setVisible(False)
        self._clear_grid()
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.shown = 0

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def show_split(self, split, mapping: str = "") -> None:
        """The first training samples; `mapping` says which label in the data is which class
        (shown when the labels are not the class ids)."""
        self.mapping.setText(mapping)
        self.mapping.setVisible(bool(mapping))
        if split.multi:                  # several Inputs or outputs: no one row per sample
            self._clear_grid()
            self.caption.setText(f"{split.summary()}. A sample here is several arrays (one "
                                 f"per Input and output), which this view does not show.")
            return
        shown = SHOWN_IMAGES if is_image_batch(split.x_train[:1]) else SHOWN_ROWS
        # only the samples shown are read: a streamed data set stays on disk
        x, y = split.x_train[:shown], split.y_train[:shown]
        names = split.dataset.classes
        if split.dataset.task == "reconstruction":       # the target is the sample itself
            labels = ["(itself)"] * len(y)
        elif names:
            labels = [_class_label(i, names) for i in class_ids(y)]
        else:
            labels = [", ".join(f"{v:.3g}" for v in np.ravel(t)[:3]) for t in y]
        balance = class_balance(split.dataset)
        self.caption.setText(f"{split.summary()}." + (f" {balance}" if balance else "")
                             + " First training samples:")
        if is_image_batch(x):
            self._images(x, labels)
        else:
            self._rows(x, labels)

    def _images(self, x, labels) -> None:
        self._clear_grid()
        for k, sample in enumerate(x):
            cell = QWidget()
            col = QVBoxLayout(cell)
            col.setContentsMargins(0, 0, 0, 0)
            picture = QLabel()
            picture.setPixmap(array_pixmap(sample))
            col.addWidget(picture, alignment=Qt.AlignCenter)
            col.addWidget(QLabel(labels[k]), alignment=Qt.AlignCenter)
            self.grid.addWidget(cell, k // 12, k % 12)
        self.shown = len(x)
        self.stack.setCurrentWidget(self.grid_holder)

    def _rows(self, x, labels) -> None:
        flat = x.reshape(len(x), -1)
        width = min(flat.shape[1], 32)
        t = self.table
        t.setRowCount(len(flat))
        t.setColumnCount(width + 1)
        header = [f"x{i}" for i in range(width)] + ["target"]
        if x.ndim == 3:
            header = [f"t{i // x.shape[2]}.{i % x.shape[2]}" for i in range(width)] + ["target"]
        t.setHorizontalHeaderLabels(header)
        for r, row in enumerate(flat):
            for c in range(width):
                t.setItem(r, c, QTableWidgetItem(f"{row[c]:.4g}"))
            t.setItem(r, width, QTableWidgetItem(labels[r]))
        t.resizeColumnsToContents()
        self.shown = len(flat)
        self.stack.setCurrentWidget(self.table)
