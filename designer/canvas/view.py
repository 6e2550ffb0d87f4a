"""The canvas view: zoom, pan, rubber-band selection, fit, a minimap, and drops from the palette."""
from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsView

from .items import GRID

LAYER_MIME = "application/x-netdesigner-layer-type"
MIN_ZOOM, MAX_ZOOM = 0.08, 4.0
READABLE_ZOOM = 0.8        # the layers' text is about 9 px high: the smallest worth reading
FIT_MAX_ZOOM = 1.25        # a tiny network is not blown up beyond this


class NetworkView(QGraphicsView):
    layerDropped = Signal(str, QPointF)     # type id, scene position

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.NoFrame)
        self.setSceneRect(QRectF(-50_000, -50_000, 100_000, 100_000))
        self._pan_from: QPointF | None = None
        # the view frames the network again when it is resized (docks settling after a file
        # is opened) until the user zooms or pans
        self._framing = False
        self.minimap = Minimap(self)

    # -- zoom and pan ---------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        self._framing = False
        factor = max(MIN_ZOOM / self.zoom(), min(MAX_ZOOM / self.zoom(), factor))
        self.scale(factor, factor)
        self.minimap.refresh()

    def wheelEvent(self, event):
        self._framing = False
        self.set_zoom(1.0015 ** event.angleDelta().y())
        event.accept()

    def fit(self) -> None:
        scene = self.scene()
        rect = scene.items_bounding_rect() if scene is not None else QRectF()
        if rect.isNull():
            return
        self._room_for(rect)
        self.fitInView(rect.adjusted(-60, -60, 60, 60), Qt.KeepAspectRatio)
        if self.zoom() > FIT_MAX_ZOOM:      # a tiny network is shown at a readable size
            self.set_zoom(FIT_MAX_ZOOM / self.zoom())
        self.minimap.refresh()

    def _room_for(self, rect: QRectF) -> None:
        """The scroll area reaches every layer (a 500-layer top-down drawing is 75,000 units
        tall) with room to spare around it."""
        room = rect.adjusted(-50_000, -50_000, 50_000, 50_000)
        if not self.sceneRect().contains(room):
            self.setSceneRect(self.sceneRect().united(room))

    def show_network(self, readable_zoom: float = READABLE_ZOOM) -> None:
        """The view after opening a file or a layout: everything if it fits at a readable
        size; else as wide (top-down drawing) or as tall (left to right) as fits, never
        below `readable_zoom`, showing the start of the network (its inputs)."""
        scene = self.scene()
        rect = scene.items_bounding_rect() if scene is not None else QRectF()
        if rect.isNull():
            return
        self._room_for(rect)
        self._framing = True
        margin = 60.0
        frame = rect.adjusted(-margin, -margin, margin, margin)
        vp = self.viewport().rect()
        if vp.width() < 10 or vp.height() < 10:
            return
        zx, zy = vp.width() / frame.width(), vp.height() / frame.height()
        vertical = getattr(scene, "vertical", False)
        if min(zx, zy) >= readable_zoom:
            target = min(zx, zy, FIT_MAX_ZOOM)
            centre = rect.center()
        else:
            target = readable_zoom          # as much of it as can be read
            across = zx if vertical else zy
            half_w, half_h = vp.width() / target / 2, vp.height() / target / 2
            if vertical:         # the top of the network, centred if its width fits
                x = rect.center().x() if zx >= target else frame.left() + half_w
                centre = QPointF(x, frame.top() + half_h)
            else:                # its left end
                y = rect.center().y() if zy >= target else frame.top() + half_h
                centre = QPointF(frame.left() + half_w, y)
        self.resetTransform()
        self.scale(target, target)
        self.centerOn(centre)
        self.minimap.refresh()

    def center_on_node(self, node_id: str) -> None:
        item = self.scene().nodes.get(node_id)
        if item is not None:
            self._framing = False
            self.centerOn(item)
            self.minimap.refresh()

    def mousePressEvent(self, event):
        self._framing = False
        if event.button() == Qt.MiddleButton:
            self._pan_from = event.position()
            self.setCursor(Qt.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            self.minimap.refresh()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        if event.button() == Qt.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def scrollContentsBy(self, dx, dy):
        super().scrollContentsBy(dx, dy)
        self.minimap.refresh()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.minimap.place()
        if self._framing:
            self.show_network()

    # -- background -----------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF):
        scene = self.scene()
        if scene is None:
            return
        theme = scene.theme
        painter.fillRect(rect, theme.colour("canvas"))
        if self.zoom() < 0.35:
            return                         # a grid this dense is noise
        step = GRID * (5 if self.zoom() < 0.7 else 1)
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        painter.setPen(QPen(theme.colour("grid"), 0))
        x = left
        lines = []
        while x < rect.right():
            lines.append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines.append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        painter.drawLines(lines)

    # -- drops from the palette -----------------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event):
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event):
        if event.mimeData().hasFormat(LAYER_MIME):
            type_id = bytes(event.mimeData().data(LAYER_MIME)).decode()
            self.layerDropped.emit(type_id, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
        else:
            super().dropEvent(event)


class Minimap(QGraphicsView):
    """An overview of the whole network in a corner; click or drag in it to move the view."""

    SIZE = (200, 130)          # the largest it gets
    SHARE = 0.2                # at most this share of the view's width and of its height

    def __init__(self, view: NetworkView):
        super().__init__(view)
        self.main = view
        self.setInteractive(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setRenderHints(QPainter.Antialiasing)
        self.setFrameShape(QFrame.Box)
        self.setFixedSize(*self.SIZE)
        self.fits = True           # False when the view is too small to spare a corner
        self.setToolTip("Overview: click to move there")
        self.setCacheMode(QGraphicsView.CacheBackground)

    def place(self) -> None:
        """A small corner: at most SHARE of the view's width and height (so at most 4 % of
        its area), hidden altogether when that would be too small to be of use."""
        vp = self.main.viewport().geometry()
        w = int(min(self.SIZE[0], vp.width() * self.SHARE))
        h = int(min(self.SIZE[1], vp.height() * self.SHARE))
        self.fits = w >= 80 and h >= 50
        if (w, h) != (self.width(), self.height()) and self.fits:
            self.setFixedSize(w, h)
        self.move(vp.right() - self.width() - 10, vp.bottom() - self.height() - 10)
        self.refresh()

    def refresh(self) -> None:
        scene = self.main.scene()
        if scene is None:
            return
        if self.scene() is not scene:
            self.setScene(scene)
        rect = scene.items_bounding_rect()
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        # an overview is only useful when part of the network is out of sight
        self.setVisible(self.fits and not rect.isNull() and not visible.contains(rect))
        if not rect.isNull():
            self.fitInView(rect.adjusted(-80, -80, 80, 80), Qt.KeepAspectRatio)
        self.viewport().update()

    def drawBackground(self, painter, rect):
        scene = self.main.scene()
        painter.fillRect(rect, scene.theme.colour("canvas") if scene else QColor("white"))

    def drawForeground(self, painter, rect):
        visible = self.main.mapToScene(self.main.viewport().rect()).boundingRect()
        scene = self.main.scene()
        colour = scene.theme.colour("selection") if scene else QColor("blue")
        painter.setPen(QPen(colour, 0))
        fill = QColor(colour)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.drawRect(visible)

    def mousePressEvent(self, event):
        self.main.centerOn(self.mapToScene(event.position().toPoint()))
        self.viewport().update()

    def mouseMoveEvent(self, event):
        if event.buttons() & Qt.LeftButton:
            self.mousePressEvent(event)

    def wheelEvent(self, event):
        event.ignore()
