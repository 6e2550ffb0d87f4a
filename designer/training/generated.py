"""GAN mode, live: what the generator makes from one fixed noise batch, after every epoch.

Fed with the run's `generated` events (`backends.gan_loop`): 2-D points are drawn as a scatter
over the real training points, images as a grid, anything else as the first two values of each
sample. Events only store the newest samples; the drawing happens once per burst of events
(a zero-delay timer), so a fast run cannot flood the GUI.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from .images import array_pixmap
from .plots import PENS, make_plot

GRID_COLUMNS = 12
PICTURE_SIZE = 48             # pixels per generated picture, at most ...
MIN_PICTURE_SIZE = 12         # ... and at least (a narrower view scrolls nothing: it shrinks)
IDLE_CAPTION = ("In training mode gan, the generator's samples appear here after every epoch; "
                "in mode vae, what the decoder makes of new codes.")


def is_image_samples(samples: np.ndarray) -> bool:
    return samples.ndim == 4 and samples.shape[-1] in (1, 3) and min(samples.shape[1:3]) >= 4


class GeneratedView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.caption = QLabel(IDLE_CAPTION)
        self.caption.setWordWrap(True)
        self.plot = make_plot("Generated (orange) over real (grey) samples", "value 1", "value 2",
                          long_series=False)
        self.real_points = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(120, 120, 120,
                                                                                 110),
                                              name="real")
        self.fake_points = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(PENS[3]),
                                              name="generated")
        self.plot.addItem(self.real_points)
        self.plot.addItem(self.fake_points)
        self.grid_holder = QWidget()
        self.grid = QGridLayout(self.grid_holder)
        self.grid.setSpacing(2)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plot)
        self.stack.addWidget(self.grid_holder)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.stack, 1)
        self._pending = False
        self.clear()

    def show_project(self, project) -> None:
        self.clear()

    def clear(self) -> None:
        self.latest: dict | None = None
        self.real: np.ndarray | None = None
        self.updates = 0                   # generated events received
        self.real_points.setData([], [])
        self.fake_points.setData([], [])
        self.caption.setText(IDLE_CAPTION)
        self._clear_grid()
        self.stack.setCurrentWidget(self.plot)

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def add_event(self, event: dict) -> None:
        kind = event["event"]
        if kind == "train_begin":
            self.clear()
        elif kind == "generated":
            self.latest = event
            self.updates += 1
            if "real" in event:
                self.real = np.asarray(event["real"], dtype=float)
            if not self._pending:
                self._pending = True
                QTimer.singleShot(0, self.redraw)

    def redraw(self) -> None:
        self._pending = False
        if self.latest is None:
            return
        samples = np.asarray(self.latest["samples"], dtype=float)
        epoch = self.latest["epoch"]
        when = "before training" if epoch < 0 else f"after epoch {epoch + 1}"
        self.caption.setText(self.latest.get("caption") or
                             f"{len(samples)} samples the generator makes from a fixed noise "
                             f"batch, {when}.")
        if is_image_samples(samples):
            self._images(samples)
        else:
            self._points(samples)

    def _xy(self, values: np.ndarray):
        flat = values.reshape(len(values), -1)
        if flat.shape[1] >= 2:
            return flat[:, 0], flat[:, 1]
        return flat[:, 0], np.arange(len(flat), dtype=float)      # one value: against index

    def _points(self, samples: np.ndarray) -> None:
        self.fake_points.setData(*self._xy(samples))
        if self.real is not None and self.real.size:
            self.real_points.setData(*self._xy(self.real))
        self.stack.setCurrentWidget(self.plot)

    def grid_layout(self, count: int, columns: int | None) -> tuple[int, int]:
        """(columns, pixels per picture) of the largest pictures, up to PICTURE_SIZE, that fit
        `count` of them into the view (a narrow panel would otherwise cut every picture to a
        sliver); `columns` when the event fixes them (a VAE's grid over its code space)."""
        gap = 2 * self.grid.spacing()
        width = self.width() - 24
        height = self.height() - self.caption.height() - 24
        best = (columns or GRID_COLUMNS, MIN_PICTURE_SIZE)
        for c in ([columns] if columns else range(1, GRID_COLUMNS + 1)):
            rows = -(-count // c)
            size = min(PICTURE_SIZE, width // c - gap, height // rows - gap)
            if size > best[1]:
                best = (c, int(size))
        return best

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.stack.currentWidget() is self.grid_holder and not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.redraw)

    def _images(self, samples: np.ndarray) -> None:
        self._clear_grid()
        columns, size = self.grid_layout(len(samples), self.latest.get("columns"))
        for k, sample in enumerate(samples):
            picture = QLabel()
            picture.setPixmap(array_pixmap(sample, size))
            picture.setMinimumSize(1, 1)        # the view may shrink; resizeEvent redraws
            self.grid.addWidget(picture, k // columns, k % columns, Qt.AlignCenter)
        self.stack.setCurrentWidget(self.grid_holder)
