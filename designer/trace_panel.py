"""The Trace panel: one sample of the data set through the network, layer by layer.

Pick a sample (split and row) and Trace: the trace runs in a worker process (a Keras trace
loads TensorFlow there, never in the GUI), with the project's trained weights when it has
some. Every layer on the canvas then shows a small preview of its output for that sample; the
list beside it steps through the layers in order ("Previous" / "Next"), showing the layer's
input and output side by side, the gradient of the loss with respect to its output and their
statistics. Clicking a value of a Dense or Conv2D output works it out with the real numbers
(inputs × weights, sum, bias, activation).
"""
from __future__ import annotations

import multiprocessing
from html import escape
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (QComboBox, QGraphicsPixmapItem, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QSizePolicy, QSpinBox,
                               QSplitter, QTabWidget, QTextBrowser, QVBoxLayout, QWidget)

from netdesigner.backends.trace import (SPLITS, Given, TraceError, drawing_shape, explain,
                                        parse_tokens, preview, run_trace, tile_at, token_input)
from netdesigner.backends.decoding import run_decoding
from netdesigner.graph import fileformat
from netdesigner.graph.events import NodeMoved
from netdesigner.graph.expand import SEPARATOR

from .canvas.items import NODE_WIDTH

PREVIEW_HEIGHT = 36
WHY_TAB = 1                             # the tab with the saliency map and Grad-CAM
ATTENTION_TAB = 2                       # an attention layer's weights for the sample
POLL_MS = 50


def grey_pixmap(grey: np.ndarray, width: int | None = None, height: int | None = None,
                smooth: bool = False) -> QPixmap:
    """A uint8 2-D array as a pixmap, scaled to fit width x height (aspect kept)."""
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    if grey.shape[0] == 1 and grey.shape[1] > 8:
        # a vector: a strip an eighth as tall as it is long (one pixel row scaled to fit came
        # out one pixel tall, an LSTM's 64 values a hairline)
        grey = np.ascontiguousarray(np.repeat(grey, grey.shape[1] // 8, axis=0))
    h, w = grey.shape
    image = QImage(grey.data, w, h, w, QImage.Format_Grayscale8).copy()
    pixmap = QPixmap.fromImage(image)
    if width or height:
        pixmap = pixmap.scaled(width or 10_000, height or 10_000, Qt.KeepAspectRatio,
                               Qt.SmoothTransformation if smooth else Qt.FastTransformation)
    return pixmap


def tile_columns(values) -> int | None:
    """Channels to a row for an image output: a square grid (16 channels: 4 by 4)."""
    if values is None or np.ndim(values) != 3:
        return None
    return int(np.ceil(np.sqrt(min(np.shape(values)[2], 16))))


class ValueMap(QLabel):
    """A layer's output as a picture (an image's channels as a grid of tiles) scaled to the
    room it has; a click names the output position under the mouse."""
    valueClicked = Signal(tuple)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.values: np.ndarray | None = None
        self.grey: np.ndarray | None = None
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.setMinimumSize(60, 60)
        # the picture follows the label's size, never the other way round
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)

    def columns(self) -> int | None:
        return tile_columns(self.values)

    def show_values(self, values) -> None:
        self.values = None if values is None else np.asarray(values)
        self.grey = None if self.values is None else preview(self.values,
                                                             columns=self.columns())
        self._draw()

    def _draw(self) -> None:
        if self.grey is None:
            self.clear()
            return
        self.setPixmap(grey_pixmap(self.grey, max(self.width(), 20), max(self.height(), 20)))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._draw()

    def position_at(self, point: QPointF) -> tuple | None:
        """The output index under `point`."""
        pixmap = self.pixmap()
        if self.values is None or pixmap is None or pixmap.isNull():
            return None
        fx, fy = point.x() / pixmap.width(), point.y() / pixmap.height()
        if not (0 <= fx < 1 and 0 <= fy < 1):
            return None
        return tile_at(self.values, int(fy * self.grey.shape[0]), int(fx * self.grey.shape[1]),
                       columns=self.columns())

    def mousePressEvent(self, event):
        position = self.position_at(event.position())
        if position is not None:
            self.valueClicked.emit(position)
        super().mousePressEvent(event)


class DrawingPad(QWidget):
    """A grid of the data set's picture size to draw a grey image on with the mouse: ink from
    0 (black) to 1 (white), bright strokes on black as in the digits. A stroke inks the cells
    it passes fully and their neighbours half (a pen about as wide as the data set's)."""
    drawn = Signal()                   # a stroke ended

    def __init__(self, parent=None):
        super().__init__(parent)
        self.ink = np.zeros((8, 8), dtype=np.float32)
        self._last: tuple | None = None
        self.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        self.setCursor(Qt.CrossCursor)
        self.set_shape((8, 8))

    def set_shape(self, shape: tuple) -> None:
        self.ink = np.zeros(tuple(shape), dtype=np.float32)
        cell = max(3, 136 // max(shape))
        self.setFixedSize(cell * shape[1], cell * shape[0])
        self.update()

    def clear(self) -> None:
        self.ink[:] = 0
        self.update()

    def cell_at(self, point: QPointF) -> tuple | None:
        h, w = self.ink.shape
        r = int(point.y() * h // max(self.height(), 1))
        c = int(point.x() * w // max(self.width(), 1))
        return (r, c) if 0 <= r < h and 0 <= c < w else None

    def _ink(self, r: int, c: int) -> None:
        h, w = self.ink.shape
        reach = max(h, w) / 16            # 8 x 8: one cell; 28 x 28: about two
        span = int(np.ceil(reach + 1))
        for dr in range(-span, span + 1):
            for dc in range(-span, span + 1):
                y, x = r + dr, c + dc
                if 0 <= y < h and 0 <= x < w:
                    d = np.hypot(dr, dc)
                    level = 1.0 if d <= reach else 0.5 if d <= reach + 1 else 0.0
                    self.ink[y, x] = max(self.ink[y, x], level)

    def stroke(self, cells) -> None:
        """Ink a stroke through `cells` ((row, column) each), as the mouse draws one."""
        self._last = None
        for cell in cells:
            self._stroke_to(tuple(cell))
        self._last = None

    def _stroke_to(self, cell: tuple) -> None:
        start = self._last or cell
        steps = max(abs(cell[0] - start[0]), abs(cell[1] - start[1]), 1)
        for t in np.linspace(0, 1, steps + 1):      # every cell between, for a fast move
            self._ink(round(start[0] + (cell[0] - start[0]) * t),
                      round(start[1] + (cell[1] - start[1]) * t))
        self._last = cell
        self.update()

    def mousePressEvent(self, event):
        cell = self.cell_at(event.position())
        if event.button() == Qt.LeftButton and cell is not None:
            self._last = None
            self._stroke_to(cell)

    def mouseMoveEvent(self, event):
        cell = self.cell_at(event.position())
        if event.buttons() & Qt.LeftButton and cell is not None:
            self._stroke_to(cell)

    def mouseReleaseEvent(self, event):
        if event.button() == Qt.LeftButton and self._last is not None:
            self._last = None
            self.drawn.emit()

    def paintEvent(self, event):
        painter = QPainter(self)
        h, w = self.ink.shape
        cw, ch = self.width() / w, self.height() / h
        for r in range(h):
            for c in range(w):
                level = int(self.ink[r, c] * 255)
                painter.fillRect(QRectF(c * cw, r * ch, cw, ch), QColor(level, level, level))
        painter.setPen(QColor(70, 70, 70))
        painter.drawRect(0, 0, self.width() - 1, self.height() - 1)
        painter.end()


def trace_worker() -> ProcessPoolExecutor:
    """The process traces run in: spawned (a Keras trace loads TensorFlow there, never in the
    GUI), one at a time."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


class TracePanel(QWidget):
    traced = Signal()                  # a trace arrived (or failed: `error` says why)
    #: makes the executor traces run in (quick tests hand in a thread, which skips the
    #: second or so a spawned process takes to start; the trace itself is the same call)
    new_executor = staticmethod(trace_worker)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.result: dict | None = None
        self.error = ""
        self._future = None
        self._pool: ProcessPoolExecutor | None = None
        self._request = 0
        self.previews: dict[str, QGraphicsPixmapItem] = {}

        self.split = QComboBox()
        self.split.addItems(SPLITS)
        self.index = QSpinBox()
        self.index.setRange(0, 1_000_000)
        self.backend = QComboBox()
        self.backend.addItems(["numpy", "keras"])
        self.backend.setToolTip("NumPy is the exact reference; Keras traces the same values "
                                "in its own engine")
        self.trace_button = QPushButton("Trace")
        self.clear_button = QPushButton("Clear")
        self.previous_button = QPushButton("◀ Previous layer")
        self.next_button = QPushButton("Next layer ▶")
        self.status = QLabel("Pick a sample of the data set and press Trace: every layer shows "
                             "what it makes of it.")
        self.status.setWordWrap(True)
        self.layers = QListWidget()
        self.input_map = ValueMap()
        self.output_map = ValueMap()
        self.gradient_map = ValueMap()
        self.saliency_map = ValueMap()
        self.gradcam_map = ValueMap()
        self.why_label = QLabel()
        self.why_label.setWordWrap(True)
        self.details = QTextBrowser()
        # a sample the user gives: a drawing (grey image designs), a typed token sequence
        self.pad = DrawingPad()
        self.trace_drawing_button = QPushButton("Trace drawing")
        self.clear_drawing_button = QPushButton("Clear drawing")
        self.tokens = QLineEdit()
        self.tokens.setPlaceholderText("token ids, e.g. 3 1 4 1 5 9")
        self.trace_tokens_button = QPushButton("Trace sequence")
        self.tokens_status = QLabel()
        self.tokens_status.setWordWrap(True)
        # a design trained with teacher forcing: greedy decoding of typed source sequences
        # (what `netdesigner predict` does; backends.decoding)
        self.decode_tokens = QLineEdit()
        self.decode_tokens.setPlaceholderText("3 1 4 1 5 9; 2 7 1 8 2 8")
        self.decode_tokens.setToolTip("Source sequences of token ids, apart by spaces; several "
                                      "apart by ';'. Return decodes them.")
        self.decode_button = QPushButton("Decode")
        self.decoded = QLabel()
        self.decoded.setWordWrap(True)
        self.decoded.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.decode_box = QWidget()
        decode_col = QVBoxLayout(self.decode_box)
        decode_col.setContentsMargins(0, 0, 0, 0)
        intro = QLabel("Decode greedily (the decoder reads its own previous prediction):")
        intro.setWordWrap(True)
        decode_col.addWidget(intro)
        decode_col.addWidget(self.decode_tokens)
        decode_col.addWidget(self.decode_button)
        decode_col.addWidget(self.decoded)
        self._decoding = None             # (request number, future) of the decoding running
        self.given_box = QWidget()
        given = QVBoxLayout(self.given_box)
        given.setContentsMargins(0, 0, 0, 0)
        self.drawing_box = QWidget()
        drawing = QVBoxLayout(self.drawing_box)
        drawing.setContentsMargins(0, 0, 0, 0)
        drawing.addWidget(QLabel("Or draw one (left button):"))
        drawing.addWidget(self.pad, alignment=Qt.AlignHCenter)
        pad_buttons = QHBoxLayout()
        pad_buttons.addWidget(self.trace_drawing_button)
        pad_buttons.addWidget(self.clear_drawing_button)
        drawing.addLayout(pad_buttons)
        self.tokens_box = QWidget()
        typed = QVBoxLayout(self.tokens_box)
        typed.setContentsMargins(0, 0, 0, 0)
        typed.addWidget(QLabel("Or type a sequence:"))
        typed.addWidget(self.tokens)
        typed.addWidget(self.trace_tokens_button)
        typed.addWidget(self.tokens_status)
        given.addWidget(self.drawing_box)
        given.addWidget(self.tokens_box)
        given.addWidget(self.decode_box)
        given.addStretch()

        top = QHBoxLayout()
        for label, widget in (("split", self.split), ("sample", self.index),
                              ("backend", self.backend)):
            top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addWidget(self.trace_button)
        top.addWidget(self.clear_button)
        top.addStretch()
        steps = QHBoxLayout()
        steps.addWidget(self.previous_button)
        steps.addWidget(self.next_button)
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.layers)
        col.addLayout(steps)
        maps = QWidget()
        grid = QVBoxLayout(maps)
        grid.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        for title, widget in (("input", self.input_map), ("output (click a value)",
                                                          self.output_map),
                              ("gradient of the loss", self.gradient_map)):
            box = QVBoxLayout()
            box.addWidget(QLabel(title))
            box.addWidget(widget, 1)
            row.addLayout(box)
        grid.addLayout(row, 2)
        grid.addWidget(self.details, 1)
        self.why_box = QWidget()
        why = QHBoxLayout(self.why_box)
        why.addWidget(self.why_label, 1)
        for title, widget in (("saliency", self.saliency_map), ("Grad-CAM", self.gradcam_map)):
            box = QVBoxLayout()
            box.addWidget(QLabel(title))
            box.addWidget(widget, 1)
            why.addLayout(box, 2)
        self.views = QTabWidget()
        self.views.addTab(maps, "Layer")
        self.views.addTab(self.why_box, "Why this prediction")
        self.views.setTabEnabled(WHY_TAB, False)
        self.attention_box = QWidget()
        self.attention_label = QLabel()
        self.attention_label.setWordWrap(True)
        self.attention_map = ValueMap()
        attention = QVBoxLayout(self.attention_box)
        attention.addWidget(self.attention_label)
        attention.addWidget(self.attention_map, 1)
        self.views.addTab(self.attention_box, "Attention")
        self.views.setTabEnabled(ATTENTION_TAB, False)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.given_box)
        splitter.addWidget(left)
        splitter.addWidget(self.views)
        splitter.setSizes([170, 260, 900])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

        self.trace_button.clicked.connect(lambda: self.start())
        self.clear_button.clicked.connect(self.clear)
        self.previous_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.layers.currentItemChanged.connect(lambda item, _: self.show_layer(
            item.data(Qt.UserRole) if item is not None else None))
        self.output_map.valueClicked.connect(self.explain_value)
        self.trace_drawing_button.clicked.connect(lambda: self.trace_drawing())
        self.clear_drawing_button.clicked.connect(self.pad.clear)
        self.tokens.textEdited.connect(lambda _: self.check_tokens())
        self.tokens.returnPressed.connect(self.trace_tokens)
        self.trace_tokens_button.clicked.connect(lambda: self.trace_tokens())
        self.decode_tokens.returnPressed.connect(lambda: self.decode())
        self.decode_button.clicked.connect(lambda: self.decode())
        self.decode_timer = QTimer(self)
        self.decode_timer.setInterval(POLL_MS)
        self.decode_timer.timeout.connect(self.poll_decoding)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._update_buttons()
        self.update_given()

    # -- a sample of the user's -----------------------------------------------------------------
    def update_given(self) -> None:
        """The drawing pad for a design that reads grey images, the sequence field for one
        that reads token ids; neither for others."""
        graph = self.window.document.graph if getattr(self.window, "document", None) else None
        shape = drawing_shape(graph) if graph is not None else None
        tokens = token_input(graph) if graph is not None else None
        if shape is not None and tuple(self.pad.ink.shape) != tuple(shape):
            self.pad.set_shape(shape)
        # two Inputs: perhaps a teacher-forced sequence design (the worker says if not)
        decodes = graph is not None and len(graph.inputs()) == 2
        self.drawing_box.setVisible(shape is not None)
        self.tokens_box.setVisible(tokens is not None)
        self.decode_box.setVisible(decodes)
        self.given_box.setVisible(shape is not None or tokens is not None or decodes)
        if tokens is not None:
            steps, vocabulary = tokens
            example = " ".join(str((3 * i + 1) % (vocabulary or 10)) for i in range(steps or 6))
            self.tokens.setPlaceholderText(example)
            self.tokens.setToolTip(
                f"{steps} token ids" + (f" from 0 to {vocabulary - 1}" if vocabulary else "")
                + f", apart by spaces or commas, e.g. {example}; Return traces them")

    def trace_drawing(self) -> bool:
        """Trace what is drawn on the pad (as a grey image of the data set, scaled as its
        samples are)."""
        if not self.pad.ink.any():
            self._failed("the drawing pad is empty: draw a sample with the left mouse button")
            return False
        return self.start(Given("drawing", self.pad.ink.copy(), "the drawing"))

    def check_tokens(self) -> Given | None:
        """The typed sequence, or None with a sentence under the field saying what is wrong."""
        try:
            given = parse_tokens(self.window.document.graph, self.tokens.text())
        except TraceError as e:
            self.tokens_status.setText(f"<span style='color:#d32f2f'>{e}</span>")
            return None
        self.tokens_status.setText("")
        return given

    def trace_tokens(self) -> bool:
        given = self.check_tokens()
        return given is not None and self.start(given)

    def decode(self) -> bool:
        """Decode the typed source sequences greedily in the worker process (the saved weights,
        else the initial ones, on the chosen backend); False if one is running."""
        if self._decoding is not None:
            return False
        try:
            text, base_dir, weights = self._worker_input()
        except (ValueError, OverflowError) as e:
            self._show_decoded(f"<span style='color:#d32f2f'>cannot decode this project: "
                               f"{escape(str(e))}</span>")
            return False
        which = (f"{self.backend.currentText()} with "
                 + (escape(weights.name) if weights else "the initial (untrained) weights"))
        self._decoding = (*self._submit(
            run_decoding, text, base_dir, self.decode_tokens.text(),
            None if weights is None else str(weights), self.backend.currentText()), which)
        self._show_decoded(f"Decoding on {which}…")
        self.decode_timer.start()
        self.decode_button.setEnabled(False)
        return True

    def poll_decoding(self) -> None:
        if self._decoding is None:
            self.decode_timer.stop()
            return
        number, future, which = self._decoding
        if not future.done():
            return
        self._decoding = None
        self.decode_timer.stop()
        self.decode_button.setEnabled(True)
        answer = self._collect(future)
        if number != self._request:
            return                   # asked for by a project that is not open any more
        if "error" in answer:
            self._show_decoded(f"<span style='color:#d32f2f'>Cannot decode: "
                               f"{escape(answer['error'])}</span>")
            return
        plan = answer["plan"]
        rows = "<br>".join(f"{' '.join(map(str, src))} → <b>{' '.join(map(str, out))}</b>"
                           for src, out in zip(answer["sources"], answer["decoded"]))
        self._show_decoded(f"On {which}: {escape(plan['decoder_input'])} starts with "
                           f"{plan['start']}, then reads the previous prediction:<br>{rows}")

    def _show_decoded(self, html: str) -> None:
        self.decoded.setText(html)

    def trace_sample(self, split: str, index: int) -> bool:
        """Trace row `index` of `split` (a thumbnail of the Test set tab asked for it)."""
        self.split.setCurrentText(split)
        self.index.setValue(index)
        return self.start()

    # -- running --------------------------------------------------------------------------------
    def start(self, given: Given | None = None) -> bool:
        """Trace the chosen sample (or the one `given`) in the worker process; False (with the
        reason) if not now."""
        if self._future is not None:
            return False
        try:
            text, base_dir, weights = self._worker_input()
        except (ValueError, OverflowError) as e:
            self._failed(f"cannot trace this project: {e}")
            return False
        self._future = self._submit(
            run_trace, text, base_dir, self.index.value(), self.split.currentText(),
            None if weights is None else str(weights), self.backend.currentText(), given)
        what = (given.label if given is not None else
                f"sample {self.index.value()} of the {self.split.currentText()} split")
        self.status.setText(f"Tracing {what} on {self.backend.currentText()}"
                            + (f" with {weights.name}…" if weights else
                               " with the initial (untrained) weights…"))
        self.timer.start()
        self._update_buttons()
        return True

    def _worker_input(self) -> tuple:
        """(the project as .graph text, its folder, its saved weights or None): what a trace or
        a decoding in the worker needs (ValueError: a project that cannot be written)."""
        document = self.window.document
        text = fileformat.dumps(document.graph)
        base_dir = str(document.path.parent) if document.path else str(Path.cwd())
        return text, base_dir, self.window.training.saved_weights()

    def _submit(self, function, *args) -> tuple:
        """(request number, future) of `function(*args)` in the worker process; a newer
        request, or another project, makes the answer of an older one stale."""
        if self._pool is None:
            self._pool = self.new_executor()
        self._request += 1
        return self._request, self._pool.submit(function, *args)

    def _collect(self, future) -> dict:
        """A finished worker's answer; a dead worker's as an error sentence (and a new worker
        next time)."""
        try:
            return future.result()
        except Exception as e:       # noqa: BLE001 - the worker died: said, not raised
            self._shutdown_pool()
            return {"error": f"the trace worker failed ({type(e).__name__}: {e})"}

    def poll(self) -> None:
        if self._future is None:
            self.timer.stop()
            return
        number, future = self._future
        if not future.done():
            return
        self._future = None
        self.timer.stop()
        answer = self._collect(future)
        if number != self._request:
            return                   # a trace of a project that is not open any more
        if "error" in answer:
            self._failed(answer["error"])
        else:
            self._show(answer)
        self._update_buttons()
        self.traced.emit()

    def _failed(self, message: str) -> None:
        self.error = message
        self.result = None
        self.status.setText(f"<span style='color:#d32f2f'>Cannot trace: {message}</span>")
        self._update_buttons()
        self.traced.emit()

    # -- showing --------------------------------------------------------------------------------
    def _show(self, answer: dict) -> None:
        self.error = ""
        self.result = answer
        traced = answer["trace"]
        predicted = traced.predicted_class()
        name = traced.name()
        self.status.setText(
            f"{name[0].upper()}{name[1:]} on {traced.backend}: "
            + (f"loss {traced.loss:.4g}" if traced.target is not None
               else "no target (so no loss or gradients)")
            + (f", predicted <b>{traced.classes[predicted]}</b>"
               if predicted is not None else "")
            + (f", target {traced.classes[int(np.argmax(traced.target))]}"
               if predicted is not None and traced.target is not None
               and np.ndim(traced.target) == 1 else ""))
        self.layers.blockSignals(True)
        self.layers.clear()
        for n, t in traced.layers.items():
            item = QListWidgetItem(f"{n} ({t.type}) {tuple(np.shape(t.outputs[0]))}")
            item.setData(Qt.UserRole, n)
            item.setIcon(grey_pixmap(preview(t.outputs[0]), 64, 24))
            self.layers.addItem(item)
        self.layers.blockSignals(False)
        self._canvas_previews(traced)
        self._show_why(answer.get("why"))
        self.layers.setCurrentRow(0)

    def _show_why(self, why) -> None:
        """Why this prediction: the saliency map and Grad-CAM (image classifiers only)."""
        if why is None or np.ndim(why.saliency) != 2:
            self.views.setTabEnabled(WHY_TAB, False)
            self.saliency_map.show_values(None)
            self.gradcam_map.show_values(None)
            return
        self.why_label.setText(
            f"<b>Why “{why.class_name}”?</b><br>Saliency (middle): how much each pixel moves "
            f"the class's score. Grad-CAM (right): where the last convolution"
            f"{f' ({why.conv_layer})' if why.conv_layer else ''} saw the class.")
        self.saliency_map.show_values(why.saliency)
        self.gradcam_map.show_values(why.gradcam)
        self.views.setTabEnabled(WHY_TAB, True)

    def _canvas_previews(self, traced) -> None:
        """A preview under every layer on the canvas (a block shows its last layer's)."""
        self._remove_previews()
        scene = self.window.scene
        shown: dict[str, str] = {}
        for n in traced.layers:
            shown[n.split(SEPARATOR, 1)[0]] = n          # block copies: the block's last layer
        for node_id, traced_id in shown.items():
            item = scene.nodes.get(node_id)
            if item is None:
                continue
            values = traced.layers[traced_id].outputs[0]
            pixmap = grey_pixmap(preview(values, columns=tile_columns(values)),
                                 int(NODE_WIDTH), PREVIEW_HEIGHT * (2 if np.ndim(values) == 3
                                                                    else 1))
            picture = QGraphicsPixmapItem(pixmap, item)
            picture.setPos(0, item.height + 3)
            picture.setToolTip(f"{traced_id}: output for {traced.name()}")
            self.previews[node_id] = picture

    def _remove_previews(self) -> None:
        for picture in self.previews.values():
            try:
                scene = picture.scene()
                if scene is not None:
                    scene.removeItem(picture)
            except RuntimeError:
                pass                  # its node (and so the picture) was deleted already
        self.previews = {}

    def show_layer(self, node_id) -> None:
        if self.result is None or node_id is None:
            return
        traced = self.result["trace"]
        t = traced.layers[node_id]
        graph = self.window.document.graph
        source = None
        if node_id in graph and graph.in_edges(node_id):
            source = graph.in_edges(node_id)[0].source
        order = list(traced.layers)
        if source is None and order.index(node_id) > 0 and t.type != "Input":
            source = order[order.index(node_id) - 1]
        self.input_map.show_values(traced.layers[source].outputs[0]
                                   if source in traced.layers else None)
        self.output_map.show_values(t.outputs[0])
        self.gradient_map.show_values(t.gradients[0] if t.gradients else None)
        self._show_attention(node_id, traced)
        st = t.stats()
        grad = "—" if st["grad_mean_abs"] is None else f"{st['grad_mean_abs']:.4g}"
        self.details.setHtml(
            f"<b>{node_id}</b> ({t.type}), output {tuple(np.shape(t.outputs[0]))}<br>"
            f"mean {st['mean']:.4g}, std {st['std']:.4g}, min {st['min']:.4g}, max "
            f"{st['max']:.4g}, zeros {st['zeros']:.0%}; mean |gradient| {grad}"
            + ("<br><i>Click a value of the output to see how it was computed.</i>"
               if t.type in ("Dense", "Conv2D") else ""))
        if node_id in self.window.scene.nodes:
            self.window.scene.select_only([node_id])
            self.window.view.center_on_node(node_id)

    def _show_attention(self, node_id: str, traced) -> None:
        """An attention layer's weights for the sample: one map per head, query steps down,
        key steps across (each row sums to 1)."""
        weights = traced.attention.get(node_id)
        self.views.setTabEnabled(ATTENTION_TAB, weights is not None)
        if weights is None:
            self.attention_map.show_values(None)
            if self.views.currentIndex() == ATTENTION_TAB:
                self.views.setCurrentIndex(0)
            return
        heads, queries, keys = weights.shape
        self.attention_label.setText(
            f"<b>{node_id}</b>: {heads} head{'s' if heads > 1 else ''}, each a map of "
            f"{queries} query steps (down) by {keys} key steps (across); a row is how much "
            f"that step draws on every step, and sums to 1. Bright = much.")
        self.attention_map.show_values(np.moveaxis(weights, 0, -1))

    def current_layer(self) -> str | None:
        item = self.layers.currentItem()
        return item.data(Qt.UserRole) if item is not None else None

    def step(self, delta: int) -> None:
        row = self.layers.currentRow() + delta
        if 0 <= row < self.layers.count():
            self.layers.setCurrentRow(row)

    def explain_value(self, position: tuple) -> str:
        node_id = self.current_layer()
        if self.result is None or node_id is None:
            return ""
        try:
            e = explain(self.window.document.graph, self.result["trace"],
                        self.result["weights"], node_id, position)
            text = e.text()
        except (TraceError, KeyError, IndexError) as err:
            text = str(err)
        value = self.result["trace"].layers[node_id].outputs[0][position]
        self.details.setPlainText(f"{node_id}{list(position)} = {float(value):.6g}\n\n{text}")
        return text

    # -- project changes ------------------------------------------------------------------------
    def show_project(self, project) -> None:
        """Another project is open: nothing of the last trace stays (ProjectViews), nor what
        was drawn or typed for the last project."""
        self.clear()
        self.pad.clear()
        self.tokens.clear()
        self.decode_tokens.clear()
        self._decoding = None               # a decoding still running is dropped (clear())
        self.decode_timer.stop()
        self.decode_button.setEnabled(True)
        self._show_decoded("")
        project.document.graphEvent.connect(self.design_changed)
        self.update_given()

    def design_changed(self, event) -> None:
        """An edit after the trace: its previews no longer show this design (a move is not an
        edit of the network)."""
        if isinstance(event, NodeMoved):
            return
        self.update_given()
        if self.result is None:
            return
        self._remove_previews()
        self.status.setText("The network changed since this trace: press Trace again to see "
                            "what it does now.")

    def clear(self) -> None:
        """Forget the trace (another project was opened, or Clear)."""
        self._request += 1                 # a trace still running is dropped on arrival
        self._future = None
        self.timer.stop()
        self.result = None
        self.error = ""
        self._remove_previews()
        self.layers.clear()
        for view in (self.input_map, self.output_map, self.gradient_map, self.saliency_map,
                     self.gradcam_map, self.attention_map):
            view.show_values(None)
        self.views.setTabEnabled(ATTENTION_TAB, False)
        self.views.setTabEnabled(WHY_TAB, False)
        self.views.setCurrentIndex(0)
        self.details.clear()
        self.status.setText("Pick a sample of the data set and press Trace: every layer shows "
                            "what it makes of it.")
        self._update_buttons()

    def _update_buttons(self) -> None:
        busy = self._future is not None
        for b in (self.trace_button, self.trace_drawing_button, self.trace_tokens_button):
            b.setEnabled(not busy)
        has = self.result is not None
        for b in (self.previous_button, self.next_button, self.clear_button):
            b.setEnabled(has)

    def _shutdown_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def shutdown(self) -> None:
        self.clear()
        self._shutdown_pool()
