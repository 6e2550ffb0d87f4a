"""The property editor, built from the catalog's parameter declarations.

Each parameter kind gets one widget: spin boxes with the declared range, drop-downs for choices,
check boxes, and text fields for numbers with decimals, tuples and shapes. A refused value is
not applied; the field says why, in red, until it is fixed. Every applied edit is an undoable
command, and the canvas re-validates at once.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QScrollArea,
                               QSpinBox, QVBoxLayout, QWidget)

from graph.events import ParamChanged
from graph.params import BOOL, CHOICE, FLOAT, INT, INT_TUPLE, SHAPE, TEXT, Param
from graph.shapes import fmt

INT_LIMIT = 2**31 - 1


def parse_text(spec: Param, text: str):
    """Turn what a user typed into a value for `spec`; raises ValueError with a reason."""
    text = text.strip()
    if text == "" or text.lower() in ("none", "auto"):
        if spec.optional:
            return None
        raise ValueError("a value is required")
    if spec.kind == FLOAT:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if spec.kind == INT:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
    if spec.kind in (INT_TUPLE, SHAPE):
        parts = [p.strip() for p in text.strip("()[] ").split(",") if p.strip()]
        values = []
        for p in parts:
            if spec.kind == SHAPE and p.lower() == "none":
                values.append(None)
                continue
            try:
                values.append(int(p))
            except ValueError:
                raise ValueError(f"{p!r} is not a whole number") from None
        return spec.coerce(tuple(values) if len(values) != 1 or spec.kind == SHAPE
                           else values[0])
    return text


def format_value(spec: Param, value) -> str:
    if value is None:
        return ""
    if spec.kind == SHAPE:
        return fmt(value)
    if spec.kind == INT_TUPLE:
        return ", ".join(map(str, value))
    if spec.kind == FLOAT:
        return f"{value:g}"
    return str(value)


class PropertyEditor(QScrollArea):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.document = None
        self.node_id: str | None = None
        self.fields: dict[str, tuple] = {}      # name -> (widget, error label)
        self._updating = False
        self._show_empty()

    # -- building -------------------------------------------------------------------------------
    def _show_empty(self, text="Select a layer to edit its parameters.") -> None:
        self.fields = {}
        holder = QWidget()
        layout = QVBoxLayout(holder)
        label = QLabel(text)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignTop)
        layout.addWidget(label)
        layout.addStretch()
        self.setWidget(holder)

    def set_document(self, document) -> None:
        if self.document is not None:
            try:
                self.document.graphEvent.disconnect(self._on_event)
                self.document.validated.disconnect(self._refresh_info)
            except (RuntimeError, TypeError):
                pass
        self.document = document
        document.graphEvent.connect(self._on_event)
        document.validated.connect(self._refresh_info)
        self.set_node(None)

    def set_node(self, node_id: str | None) -> None:
        self.node_id = node_id
        if node_id is None or self.document is None or node_id not in self.document.graph:
            self.node_id = None
            self._show_empty()
            return
        node = self.document.graph.node(node_id)
        lt = node.layer_type
        holder = QWidget()
        outer = QVBoxLayout(holder)
        title = QLabel(f"<b>{lt.type_id}</b> &nbsp; <code>{node_id}</code>")
        description = QLabel(lt.description)
        description.setWordWrap(True)
        description.setStyleSheet("color: palette(placeholder-text);")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.RichText)
        outer.addWidget(title)
        outer.addWidget(description)
        outer.addWidget(self.info)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.fields = {}
        for spec in lt.params:
            widget = self._make_widget(spec, node.params.get(spec.name))
            widget.setToolTip(spec.help)
            widget.setObjectName(f"param_{spec.name}")
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet("color: #d32f2f;")
            error.hide()
            box = QWidget()
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(2)
            col.addWidget(widget)
            col.addWidget(error)
            label = QLabel(spec.name)
            label.setToolTip(spec.help)
            form.addRow(label, box)
            self.fields[spec.name] = (widget, error)
        outer.addLayout(form)
        outer.addStretch()
        self.setWidget(holder)
        self._refresh_info()

    def _make_widget(self, spec: Param, value):
        name = spec.name
        if spec.kind == BOOL:
            w = QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda checked: self.apply(name, checked))
        elif spec.kind == CHOICE:
            w = QComboBox()
            w.addItems([str(c) for c in spec.choices])
            w.setCurrentText(str(value))
            w.currentTextChanged.connect(lambda text: self.apply(name, text))
        elif spec.kind == INT and not spec.optional:
            w = QSpinBox()
            w.setRange(int(spec.min) if spec.min is not None else -INT_LIMIT,
                       int(spec.max) if spec.max is not None else INT_LIMIT)
            w.setKeyboardTracking(False)          # apply on Enter / arrows, not every digit
            w.setValue(value if isinstance(value, int) else 0)
            w.valueChanged.connect(lambda v: self.apply(name, v))
        elif spec.kind == TEXT and name == "block" and self.document is not None:
            w = QComboBox()
            w.setEditable(True)
            w.addItems(sorted(self.document.graph.blocks))
            w.setCurrentText(value or "")
            w.currentTextChanged.connect(lambda text: self.apply(name, text))
        else:
            w = QLineEdit(format_value(spec, value))
            if spec.optional:
                w.setPlaceholderText("auto")
            w.editingFinished.connect(lambda w=w: self.apply_text(name, w.text()))
        return w

    # -- applying -------------------------------------------------------------------------------
    def apply_text(self, name: str, text: str) -> bool:
        spec = self.document.graph.node(self.node_id).layer_type.params[name]
        try:
            value = parse_text(spec, text)
        except ValueError as e:
            self._refuse(name, str(e))
            return False
        return self.apply(name, value)

    def apply(self, name: str, value) -> bool:
        """Apply a value if the declaration allows it; otherwise show why not."""
        if self._updating or self.node_id is None:
            return False
        spec = self.document.graph.node(self.node_id).layer_type.params[name]
        value = spec.coerce(value)
        problem = spec.check(value)
        if problem:
            self._refuse(name, problem)
            return False
        widget, error = self.fields[name]
        error.hide()
        widget.setStyleSheet("")
        self.document.set_param(self.node_id, name, value)
        return True

    def _refuse(self, name: str, reason: str) -> None:
        widget, error = self.fields[name]
        error.setText(f"Not applied: {name} {reason}.")
        error.show()
        widget.setStyleSheet("border: 1px solid #d32f2f;")

    def error_text(self, name: str) -> str:
        widget, error = self.fields[name]
        return error.text() if not error.isHidden() else ""

    # -- following the model --------------------------------------------------------------------
    def _on_event(self, event) -> None:
        if isinstance(event, ParamChanged) and event.node == self.node_id:
            self._set_widget_value(event.name, event.new)
        elif self.node_id is not None and self.node_id not in self.document.graph:
            self.set_node(None)

    def _set_widget_value(self, name: str, value) -> None:
        if name not in self.fields:
            return
        widget, error = self.fields[name]
        spec = self.document.graph.node(self.node_id).layer_type.params[name]
        self._updating = True
        try:
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(str(value))
            elif isinstance(widget, QSpinBox):
                widget.setValue(value)
            else:
                widget.setText(format_value(spec, value))
            error.hide()
            widget.setStyleSheet("")
        finally:
            self._updating = False

    def _refresh_info(self) -> None:
        if self.node_id is None or self.node_id not in self.document.graph:
            return
        report = self.document.analysis.peek(self.node_id)
        if report is None:
            return
        outputs = ", ".join(fmt(s) for s in report.outputs) if report.outputs else "?"
        inputs = ", ".join(fmt(s) for s in report.inputs) if report.inputs else "?"
        lines = [f"in: {inputs} &nbsp;→&nbsp; out: <b>{outputs}</b>",
                 f"parameters: {report.params:,} &nbsp; FLOPs: {report.flops:,}"]
        for p in report.problems:
            colour = "#d32f2f" if p.severity == "error" else "#f57c00"
            lines.append(f"<span style='color:{colour}'>{p.message}</span>")
        self.info.setText("<br>".join(lines))
