"""What the canvas draws: layers (nodes with ports), wires, and the hint shown while wiring.

Items hold ids, never data: they read the graph model and the analysis when they paint.
"""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QGraphicsPathItem

from netdesigner.graph.shapes import fmt

NODE_WIDTH = 184.0
HEADER = 22.0
LINE = 16.0
PORT_RADIUS = 6.0
PORT_SPACING = 20.0
GRID = 20.0
DETOUR_MIN = 220.0      # a wire this long (along the drawing) may run through other layers
# below this scale text is too small to read (about 4 px): items draw only their shapes and
# colours, which is what the overview and a fitted big network need, at a fraction of the cost
DETAIL_LOD = 0.45

TITLE_FONT = QFont()
TITLE_FONT.setPointSizeF(9.0)
TITLE_FONT.setBold(True)
BODY_FONT = QFont()
BODY_FONT.setPointSizeF(8.5)
LABEL_FONT = QFont()
LABEL_FONT.setPointSizeF(7.5)


def repaint(item: QGraphicsItem) -> None:
    """Repaint a cached item in every view. QGraphicsItem.update() alone left stale pixels
    in the canvas while the overview (a second view of the scene) was repainted: a layer
    restored by Undo kept "shape ?", the layers stayed white after a switch to the dark theme.
    Dropping the device cache and making it again repaints it everywhere."""
    mode = item.cacheMode()
    if mode != QGraphicsItem.NoCache:
        item.setCacheMode(QGraphicsItem.NoCache)
        item.setCacheMode(mode)
    item.update()


def level_of_detail(painter: QPainter) -> float:
    t = painter.worldTransform()
    return (t.m11() ** 2 + t.m12() ** 2) ** 0.5


def shapes_text(shapes) -> str:
    if shapes is None:
        return "shape ?"
    return ", ".join(fmt(s) for s in shapes)


class LazyToolTip:
    """A canvas item's tooltip, made on first use (`tooltip_text`): making 1,250 port
    tooltips up front took a tenth of the time to open a 500-layer network. Qt asks for it
    after hoverEnterEvent. Mixed in before the Qt item class."""

    def toolTip(self) -> str:
        text = super().toolTip()
        if not text:
            text = self.tooltip_text()
            self.setToolTip(text)
        return text

    def hoverEnterEvent(self, event):
        self.toolTip()
        super().hoverEnterEvent(event)


class PortItem(LazyToolTip, QGraphicsItem):
    """An input (left side) or output (right side) port of a node."""

    def __init__(self, node_item: "NodeItem", index: int, is_output: bool, name: str):
        super().__init__(node_item)
        self.node_item, self.index, self.is_output, self.name = node_item, index, is_output, name
        self.highlight: QColor | None = None
        self.setAcceptHoverEvents(True)

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    def tooltip_text(self) -> str:
        return (f"{'output' if self.is_output else 'input'} {self.index}: {self.name}"
                + ("\nDrag to an input port to wire it." if self.is_output else ""))

    def boundingRect(self):
        r = PORT_RADIUS + 3
        return QRectF(-r, -r, 2 * r, 2 * r)

    def shape(self):
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    def paint(self, painter: QPainter, option, widget=None):
        if level_of_detail(painter) < DETAIL_LOD:
            return                          # the node's outline says enough from afar
        theme = self.node_item.scene_theme()
        colour = self.highlight or (theme.category(self.node_item.category()) if self.is_output
                                    else theme.colour("wire"))
        painter.setPen(QPen(theme.colour("node"), 1.5))
        painter.setBrush(colour)
        painter.drawEllipse(QPointF(0, 0), PORT_RADIUS, PORT_RADIUS)


class NodeItem(LazyToolTip, QGraphicsObject):
    """A layer: type, id, output shape and parameter count, with its ports."""

    def __init__(self, scene, node_id: str):
        super().__init__()
        self.canvas, self.node_id = scene, node_id
        self.inputs: list[PortItem] = []
        self.outputs: list[PortItem] = []
        self._vertical = None          # the orientation the ports were placed for
        self._state = None             # what the last refresh showed
        self.training_level: float | None = None    # 0 weakest .. 1 strongest gradients
        self.training_gradient: float | None = None
        self.training_warnings: list[str] = []
        self.height = HEADER + 3 * LINE + 10
        self.setFlags(QGraphicsItem.ItemIsMovable | QGraphicsItem.ItemIsSelectable
                      | QGraphicsItem.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.rebuild_ports()
        self.setPos(QPointF(*self.model().position))

    def mouseDoubleClickEvent(self, event):
        self.canvas.nodeOpened.emit(self.node_id)       # a Block opens its definition
        event.accept()

    # -- model ----------------------------------------------------------------------------------
    def model(self):
        return self.canvas.document.graph.node(self.node_id)

    def category(self) -> str:
        return self.model().layer_type.category

    def scene_theme(self):
        return self.canvas.theme

    def report(self):
        # may lag one edit behind; the scene repaints after each validation
        return self.canvas.document.analysis.peek(self.node_id)

    # -- ports ----------------------------------------------------------------------------------
    def input_count(self) -> int:
        graph = self.canvas.document.graph
        node = self.model()
        lt = node.layer_type
        if node.type == "Block":
            block = graph.block_named(node.params.get("block"))
            if block is not None:
                return len(block.inputs)
        ports = graph.input_ports(self.node_id)
        used = (max(ports) + 1) if ports else 0
        if lt.max_inputs is None:
            return max(used + 1, lt.min_inputs)         # always one free port on a merge
        return max(lt.max_inputs, used)

    def rebuild_ports(self) -> None:
        graph = self.canvas.document.graph
        node = self.model()
        lt = node.layer_type
        n_in = self.input_count()
        out_names = lt.output_port_names(node.params, graph)
        vertical = self.canvas.vertical
        if (len(self.inputs), [p.name for p in self.outputs], self._vertical) == (
                n_in, out_names, vertical):
            return
        self._vertical = vertical
        for port in self.inputs + self.outputs:
            port.setParentItem(None)
            if port.scene():
                port.scene().removeItem(port)
        self.prepareGeometryChange()
        self.height = max(HEADER + 3 * LINE + 10, HEADER + 8 + PORT_SPACING * max(n_in, len(out_names)))
        self.inputs = [PortItem(self, i, False, lt.input_port_name(i)) for i in range(n_in)]
        self.outputs = [PortItem(self, i, True, name) for i, name in enumerate(out_names)]
        if vertical:            # top-down drawing: inputs on the top edge, outputs below
            for ports, y in ((self.inputs, 0.0), (self.outputs, self.height)):
                spacing = min(3 * PORT_SPACING, (NODE_WIDTH - 24) / max(1, len(ports)))
                left = (NODE_WIDTH - spacing * (len(ports) - 1)) / 2
                for i, port in enumerate(ports):
                    port.setPos(left + i * spacing, y)
        else:
            for ports, x in ((self.inputs, 0.0), (self.outputs, NODE_WIDTH)):
                top = HEADER + (self.height - HEADER - PORT_SPACING * (len(ports) - 1)) / 2
                for i, port in enumerate(ports):
                    port.setPos(x, top + i * PORT_SPACING)
        repaint(self)

    def port_pos(self, is_output: bool, index: int) -> QPointF:
        ports = self.outputs if is_output else self.inputs
        if index < len(ports):
            return ports[index].scenePos()
        if self.canvas.vertical:
            return self.mapToScene(QPointF(NODE_WIDTH / 2, self.height if is_output else 0.0))
        return self.mapToScene(QPointF(NODE_WIDTH if is_output else 0.0, self.height / 2))

    # -- painting -------------------------------------------------------------------------------
    def boundingRect(self):
        return QRectF(-4, -4, NODE_WIDTH + 8, self.height + 8)

    def paint(self, painter: QPainter, option, widget=None):
        theme = self.canvas.theme
        node = self.model()
        report = self.report()
        rect = QRectF(0, 0, NODE_WIDTH, self.height)
        errors = report is not None and not report.ok
        warnings = report is not None and report.problems and not errors
        painter.setRenderHint(QPainter.Antialiasing)
        if self.isSelected():
            outline = QPen(theme.colour("selection"), 3)
        elif errors:
            outline = QPen(theme.colour("error"), 2.5)
        elif warnings:
            outline = QPen(theme.colour("warning"), 2)
        else:
            outline = QPen(theme.colour("grid").darker(130), 1)
        painter.setPen(outline)
        painter.setBrush(theme.colour("node"))
        painter.drawRoundedRect(rect, 6, 6)
        if self.training_level is not None:       # gradient flow: cold (weak) to warm (strong)
            tint = gradient_colour(self.training_level)
            tint.setAlpha(70)
            painter.setPen(Qt.NoPen)
            painter.setBrush(tint)
            painter.drawRoundedRect(rect.adjusted(1, HEADER, -1, -1), 5, 5)
        header = QPainterPath()
        header.setFillRule(Qt.WindingFill)       # rounded top corners, square bottom ones
        header.addRoundedRect(QRectF(0, 0, NODE_WIDTH, HEADER), 6, 6)
        header.addRect(QRectF(0, HEADER / 2, NODE_WIDTH, HEADER / 2))
        painter.fillPath(header, theme.category(node.layer_type.category))
        if level_of_detail(painter) < DETAIL_LOD:
            return                          # no text to read at this scale
        if self.training_warnings:      # a training warning: a yellow triangle
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor("#fdd835"))
            x0 = NODE_WIDTH - (30 if errors or warnings else 12)
            tri = QPainterPath(QPointF(x0, 4))
            tri.lineTo(QPointF(x0 + 8, HEADER - 4))
            tri.lineTo(QPointF(x0 - 8, HEADER - 4))
            tri.closeSubpath()
            painter.drawPath(tri)
            painter.setPen(QColor("#000000"))
            painter.setFont(TITLE_FONT)
            painter.drawText(QRectF(x0 - 6, 5, 12, HEADER - 8), Qt.AlignCenter, "!")
        if errors or warnings:          # a badge in the header
            painter.setBrush(theme.colour("error" if errors else "warning"))
            painter.setPen(Qt.NoPen)
            painter.drawEllipse(QPointF(NODE_WIDTH - 12, HEADER / 2), 6, 6)
            painter.setPen(QColor("#ffffff"))
            painter.setFont(TITLE_FONT)
            painter.drawText(QRectF(NODE_WIDTH - 18, 0, 12, HEADER), Qt.AlignCenter, "!")
        painter.setPen(QColor("#ffffff"))
        painter.setFont(TITLE_FONT)
        title = node.type if node.type != "Block" else f"Block: {node.params.get('block')}"
        if node.type == "Block" and node.params.get("repeat", 1) > 1:
            title += f" ×{node.params['repeat']}"
        painter.drawText(QRectF(10, 0, NODE_WIDTH - 34, HEADER), Qt.AlignVCenter | Qt.AlignLeft,
                         _elide(title, TITLE_FONT, NODE_WIDTH - 34))
        painter.setFont(BODY_FONT)
        painter.setPen(theme.colour("node_text"))
        lines = [self.node_id, _summary(node),
                 shapes_text(report.outputs if report else None)]
        params = report.params if report else 0
        y = HEADER + 4
        for i, text in enumerate(lines):
            if i == 1:
                painter.setPen(theme.colour("node_subtle"))
            if i == 2:
                painter.setPen(theme.colour("node_text"))
                if params:
                    text = f"{text}  ·  {params:,} params"
            painter.drawText(QRectF(12, y, NODE_WIDTH - 24, LINE), Qt.AlignVCenter | Qt.AlignLeft,
                             _elide(text, BODY_FONT, NODE_WIDTH - 24))
            y += LINE

    def refresh(self) -> None:
        """Re-read the model after validation: ports, tooltip, and a repaint only if what it
        shows changed (on a big network an edit repaints a few layers, not all of them)."""
        self.rebuild_ports()
        report = self.report()
        node = self.model()
        state = (tuple(node.params.items()), None if report is None else (
            report.outputs, report.params, tuple(report.problems)))
        if state == self._state:
            return
        self._state = state
        self.setToolTip("")                 # made again when asked for (see toolTip)
        if self.isUnderMouse():
            self.toolTip()
        repaint(self)

    def tooltip_text(self) -> str:
        node = self.model()
        report = self.report()
        tip = [f"{node.type} — {node.layer_type.description}"]
        if report is not None:
            tip.append(f"output: {shapes_text(report.outputs)}   parameters: {report.params:,}")
            tip += [f"{'⚠' if p.severity == 'warning' else '✖'} {p.message}" for p in report.problems]
        if self.training_gradient is not None:
            tip.append(f"training: mean |gradient| {self.training_gradient:.3g}")
        tip += [f"⚡ {w}" for w in self.training_warnings]
        return "\n".join(tip)

    def set_training(self, level, gradient, warnings) -> None:
        if (level, gradient, warnings) == (self.training_level, self.training_gradient,
                                           self.training_warnings):
            return
        self.training_level, self.training_gradient = level, gradient
        self.training_warnings = list(warnings)
        self._state = None                      # the tooltip changes too
        self.refresh()

    # -- interaction ----------------------------------------------------------------------------
    def itemChange(self, change, value):
        # Qt calls this ~15 times per layer while a network opens: the enum members are
        # looked up once (module constants), not on every call
        if change not in _WATCHED_CHANGES:
            return value
        if change == _POSITION_CHANGE and self.canvas.snap_to_grid:
            return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)
        if change == _POSITION_HAS_CHANGED:
            self.canvas.node_moved(self.node_id)
        if change == _SELECTED_HAS_CHANGED:
            self.update()
        return value


_POSITION_CHANGE = QGraphicsItem.ItemPositionChange
_POSITION_HAS_CHANGED = QGraphicsItem.ItemPositionHasChanged
_SELECTED_HAS_CHANGED = QGraphicsItem.ItemSelectedHasChanged
_WATCHED_CHANGES = frozenset((_POSITION_CHANGE, _POSITION_HAS_CHANGED, _SELECTED_HAS_CHANGED))


def gradient_colour(level: float) -> QColor:
    """Blue for the weakest gradients, through green, to red for the strongest."""
    level = max(0.0, min(1.0, level))
    return QColor.fromHsvF((1.0 - level) * 0.66, 0.85, 0.95)


def _summary(node) -> str:
    """The one or two parameters that say most about a layer, e.g. '32 units, relu'."""
    p = node.params
    t = node.type
    if t == "Input":
        return f"{p['dtype']}"
    if t in ("Dense", "TimeDistributed"):
        return f"{p['units']} units, {p['activation']}"
    if t in ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
             "SeparableConv2D", "ConvLSTM2D"):
        k = p["kernel_size"]
        k = "×".join(map(str, k)) if isinstance(k, tuple) else str(k)
        return f"{p['filters']} filters {k}, {p['padding']}"
    if t in ("SimpleRNN", "LSTM", "GRU"):
        return f"{p['units']} units" + (", sequences" if p["return_sequences"] else "")
    if t == "Bidirectional":
        return f"{p['layer']} {p['units']} units, {p['merge_mode']}"
    if t == "Activation":
        return p["activation"]
    if t in ("Dropout", "SpatialDropout1D", "SpatialDropout2D"):
        return f"rate {p['rate']:g}"
    if t == "MultiHeadAttention":
        return f"{p['num_heads']} heads × {p['key_dim']}"
    if t == "Embedding":
        return f"{p['input_dim']} tokens → {p['output_dim']}"
    if t == "Block":
        return f"repeat ×{p['repeat']}"
    if "pool_size" in p:
        k = p["pool_size"]
        return ("pool " + ("×".join(map(str, k)) if isinstance(k, tuple) else str(k))
                + (", channels first" if p.get("data_format") == "channels_first" else ""))
    if p.get("data_format") == "channels_first":
        return "channels first"
    return node.layer_type.category.lower()


_METRICS: dict = {}


@lru_cache(maxsize=4096)
def _label_width(text: str) -> float:
    return QFontMetricsF(LABEL_FONT).horizontalAdvance(text)


@lru_cache(maxsize=4096)
def _elide_cached(text: str, font_key: str, width: float) -> str:
    return _METRICS[font_key].elidedText(text, Qt.ElideRight, width)


def _elide(text: str, font: QFont, width: float) -> str:
    """Elided text, remembered: a 500-layer canvas asked Qt the same question thousands of
    times while painting."""
    key = font.key()
    if key not in _METRICS:
        _METRICS[key] = QFontMetricsF(font)
    return _elide_cached(text, key, width)


class EdgeItem(QGraphicsPathItem):
    """A wire, drawn as a curve and labelled with the shape of the tensor it carries."""

    def __init__(self, scene, edge):
        super().__init__()
        self.canvas, self.edge = scene, edge
        self.label = ""
        self.setZValue(0)
        self.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.setFlag(QGraphicsItem.ItemIsSelectable)
        self.update_path()

    def update_path(self) -> None:
        src = self.canvas.nodes.get(self.edge.source)
        dst = self.canvas.nodes.get(self.edge.target)
        if src is None or dst is None:
            return
        a = src.port_pos(True, self.edge.source_port)
        b = dst.port_pos(False, self.edge.target_port)
        vertical = self.canvas.vertical
        detour = self._detour(a, b, vertical, (src, dst))
        self.setPath(wire_path(a, b, vertical) if detour is None
                     else detour_path(a, b, detour, vertical))

    def may_need_detour(self) -> bool:
        p = self.path()
        a, b = p.pointAtPercent(0), p.pointAtPercent(1)
        return ((b.y() - a.y()) if self.canvas.vertical else (b.x() - a.x())) >= DETOUR_MIN

    def _detour(self, a: QPointF, b: QPointF, vertical: bool, ends) -> float | None:
        """A long wire (a skip connection) that would run through layers goes around them:
        the lane beside the layers in its way (right of them top-down, below them left to
        right), where the auto-layout leaves room for it. None: the plain curve is clear."""
        along = (b.y() - a.y()) if vertical else (b.x() - a.x())
        if along < DETOUR_MIN or getattr(self.canvas, "building", False):
            return None                     # next to each other, or the scene is being made
        if vertical:
            x1, y1 = min(a.x(), b.x()) - 8, a.y() + 8
            x2, y2 = max(a.x(), b.x()) + 8, b.y() - 8
        else:
            x1, y1 = a.x() + 8, min(a.y(), b.y()) - 8
            x2, y2 = b.x() - 8, max(a.y(), b.y()) + 8
        blockers = [r for r in self.canvas.node_rects()
                    if r[0] < x2 and r[2] > x1 and r[1] < y2 and r[3] > y1 and r[4] not in ends]
        if not blockers:
            return None
        if vertical:
            return max(r[2] for r in blockers) + 2 * GRID
        return max(r[3] for r in blockers) + 2 * GRID

    def refresh(self) -> None:
        shape = self.canvas.document.analysis.edge_shape(self.edge)
        label = "?" if shape is None else fmt(shape)
        if label == self.label:
            return
        self.label = label
        self.setToolTip(f"{self.edge.source} → {self.edge.target}: {self.label}")
        repaint(self)

    def boundingRect(self):
        return super().boundingRect().adjusted(-60, -14, 60, 14)

    def paint(self, painter: QPainter, option, widget=None):
        theme = self.canvas.theme
        painter.setRenderHint(QPainter.Antialiasing)
        colour = theme.colour("selection" if self.isSelected() else "wire")
        pen = QPen(colour, 2.2 if self.isSelected() else 1.6)
        if self.label == "?":
            pen.setStyle(Qt.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
        if (self.label and self.canvas.show_wire_labels
                and level_of_detail(painter) >= DETAIL_LOD):
            mid = self.path().pointAtPercent(0.5)
            w = _label_width(self.label) + 8
            box = QRectF(mid.x() - w / 2, mid.y() - 8, w, 16)
            painter.setPen(QPen(colour, 0.8))
            painter.setBrush(theme.colour("wire_label"))
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(theme.colour("node_text"))
            painter.setFont(LABEL_FONT)
            painter.drawText(box, Qt.AlignCenter, self.label)


def wire_path(a: QPointF, b: QPointF, vertical: bool = False) -> QPainterPath:
    """A curve leaving an output port and entering an input port: rightwards between side
    ports, downwards between the bottom and top ports of a top-down drawing."""
    path = QPainterPath(a)
    if vertical:
        dy = max(40.0, abs(b.y() - a.y()) / 2)
        path.cubicTo(QPointF(a.x(), a.y() + dy), QPointF(b.x(), b.y() - dy), b)
    else:
        dx = max(40.0, abs(b.x() - a.x()) / 2)
        path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path


def detour_path(a: QPointF, b: QPointF, lane: float, vertical: bool) -> QPainterPath:
    """Out of the output port, along `lane` (an x top-down, a y left to right) past the layers
    in the way, and into the input port."""
    bend = 3 * GRID
    path = QPainterPath(a)
    if vertical:
        path.cubicTo(QPointF(a.x(), a.y() + bend), QPointF(lane, a.y()), QPointF(lane, a.y() + 2 * bend))
        path.lineTo(QPointF(lane, b.y() - 2 * bend))
        path.cubicTo(QPointF(lane, b.y()), QPointF(b.x(), b.y() - bend), b)
    else:
        path.cubicTo(QPointF(a.x() + bend, a.y()), QPointF(a.x(), lane), QPointF(a.x() + 2 * bend, lane))
        path.lineTo(QPointF(b.x() - 2 * bend, lane))
        path.cubicTo(QPointF(b.x(), lane), QPointF(b.x() - bend, b.y()), b)
    return path


class HintItem(QGraphicsItem):
    """A short message at the cursor while wiring: the tensor shape, or why a wire is refused."""

    def __init__(self):
        super().__init__()
        self.text, self.ok = "", True
        self.flip = (False, False)       # shown left of / above the cursor near the view's edge
        self.setZValue(10)
        # screen-sized at any zoom: readable when zoomed out on a big network
        self.setFlag(QGraphicsItem.ItemIgnoresTransformations)
        self.theme = None

    def set(self, text: str, ok: bool, theme) -> None:
        self.prepareGeometryChange()
        self.text, self.ok, self.theme = text, ok, theme
        self.update()

    def size(self) -> tuple[float, float]:
        metrics = QFontMetricsF(BODY_FONT)
        r = metrics.boundingRect(QRectF(0, 0, 320, 1000), Qt.TextWordWrap, self.text)
        return r.width() + 14, r.height() + 8

    def set_flip(self, flip_x: bool, flip_y: bool) -> None:
        if (flip_x, flip_y) != self.flip:
            self.prepareGeometryChange()
            self.flip = (flip_x, flip_y)

    def _rect(self):
        w, h = self.size()
        x = -14 - w if self.flip[0] else 14
        y = -14 - h if self.flip[1] else 14
        return QRectF(x, y, w, h)

    def boundingRect(self):
        return self._rect().adjusted(-1, -1, 1, 1)

    def paint(self, painter, option, widget=None):
        if not self.text or self.theme is None:
            return
        if widget is not None and hasattr(widget.parent(), "main"):
            return                  # not in the overview, where screen-sized text would cover it
        rect = self._rect()
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(self.theme.colour("ok" if self.ok else "error"), 1.2))
        painter.setBrush(QBrush(self.theme.colour("base")))
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(self.theme.colour("text"))
        painter.setFont(BODY_FONT)
        painter.drawText(rect.adjusted(6, 4, -6, -4), Qt.TextWordWrap, self.text)
