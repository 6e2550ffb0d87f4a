"""Repaint stress: PySide6 6.12.0 on Python 3.11 over-releases None on every void QPainter call
and kills the process ("none_dealloc") after a few hundred repaints. The version pin in
pyproject.toml avoids it; this test repaints a live plot and a painted scene thousands of times
so that a bad PySide6 shows up here rather than in a user's session. Measured: with PySide6
6.12.0 on Python 3.11 this test aborts the process; with 6.11.3 it passes."""
import sys

import numpy as np
import pyqtgraph as pg
import PySide6
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem

REPAINTS = 2000


class PaintedNode(QGraphicsItem):
    """Uses the void QPainter calls a canvas node uses: save/restore, transforms, paths."""
    paints = 0

    def boundingRect(self):
        return QRectF(-60, -30, 120, 60)

    def paint(self, painter: QPainter, option, widget=None):
        PaintedNode.paints += 1
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(QColor("#336"), 2))
        painter.setBrush(QColor("#eef"))
        painter.drawRoundedRect(self.boundingRect(), 6, 6)
        path = QPainterPath(QPointF(-60, 0))
        path.cubicTo(QPointF(-20, -30), QPointF(20, 30), QPointF(60, 0))
        painter.drawPath(path)
        painter.drawLine(QPointF(-50, 20), QPointF(50, 20))
        painter.translate(1, 1)
        painter.drawText(self.boundingRect(), Qt.AlignCenter, "Dense (32,)")
        painter.restore()


def test_pyside_version_is_safe_for_this_python():
    major, minor = (int(v) for v in PySide6.__version__.split(".")[:2])
    if sys.version_info < (3, 12):
        assert (major, minor) < (6, 12), "PySide6 >= 6.12 crashes on Python 3.11 (none_dealloc)"


def test_plot_and_canvas_survive_thousands_of_repaints(qtbot):
    from pathlib import Path

    from netdesigner.designer.canvas.scene import NetworkScene
    from netdesigner.designer.canvas.view import NetworkView
    from netdesigner.designer.document import Document

    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curve = plot.plot(pen="y")
    plot.resize(320, 200)
    plot.show()
    sample = Path(__file__).resolve().parents[2] / "samples" / "cnn_digits.graph"
    document = Document.open(sample)
    scene = NetworkScene(document)
    view = NetworkView()
    qtbot.addWidget(view)
    view.setScene(scene)
    view.resize(640, 300)
    view.show()
    view.fit()
    painted = PaintedNode()
    scene.addItem(painted)
    x = np.arange(200, dtype=float)
    PaintedNode.paints = 0
    for i in range(REPAINTS):
        curve.setData(x, np.sin(x / 10 + i / 50))
        plot_image = plot.grab()          # grab() really paints, even offscreen
        if i % 4 == 0:
            scene.repaint_items()         # the canvas caches pixels: make it paint again
            view.grab()
    assert PaintedNode.paints >= REPAINTS // 4, "the canvas was really painted"
    image = plot_image.toImage()
    assert not image.isNull() and image.width() == 320
    # the curve was drawn: the plot's pixels are not all one colour
    colours = {image.pixel(x_, y_) for x_ in range(0, 320, 7) for y_ in range(0, 200, 7)}
    assert len(colours) > 2
    document.close()
