"""A form built from parameter declarations (`graph.params.Param`).

Each parameter kind gets one widget: spin boxes with the declared range, drop-downs for
choices, check boxes, text fields for numbers with decimals, tuples and shapes. A refused value
is not applied; the field says why, in red, until it is fixed. Used by the property editor
(layer parameters) and the training panel (training settings, optimizer parameters).
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QSpinBox,
                               QVBoxLayout, QWidget)

from netdesigner.graph.params import BOOL, CHOICE, FLOAT, INT, INT_TUPLE, SHAPE, Param
from netdesigner.graph.shapes import fmt

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


class ParamForm(QWidget):
    """Widgets for a list of declarations. `apply(name, value)` is called with checked values
    only; `choices_for(spec)` may offer choices for a text parameter (e.g. block names)."""

    def __init__(self, specs, values: dict, apply: Callable[[str, object], None],
                 choices_for: Callable[[Param], list] | None = None, parent=None):
        super().__init__(parent)
        self.specs = {s.name: s for s in specs}
        self._apply = apply
        self._updating = False
        self.fields: dict[str, tuple] = {}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        for spec in specs:
            options = choices_for(spec) if choices_for else None
            widget = self._make_widget(spec, values.get(spec.name, spec.default), options)
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

    def _make_widget(self, spec: Param, value, options):
        name = spec.name
        if spec.kind == BOOL:
            w = QCheckBox()
            w.setChecked(bool(value))
            w.toggled.connect(lambda checked: self.submit(name, checked))
        elif spec.kind == CHOICE or options is not None:
            w = QComboBox()
            w.setEditable(spec.kind != CHOICE)
            # as narrow as the form's column allows (a long choice, such as a data set's path,
            # would otherwise widen the whole form past a 1280-pixel window's panel)
            w.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(6)
            w.addItems([str(c) for c in (spec.choices if spec.kind == CHOICE else options)])
            w.setCurrentText(str(value if value is not None else ""))
            w.currentTextChanged.connect(lambda text: self.submit(name, text))
        elif spec.kind == INT and not spec.optional:
            w = QSpinBox()
            w.setRange(int(spec.min) if spec.min is not None else -INT_LIMIT,
                       int(spec.max) if spec.max is not None else INT_LIMIT)
            w.setKeyboardTracking(False)          # apply on Enter / arrows, not every digit
            w.setValue(value if isinstance(value, int) else 0)
            w.valueChanged.connect(lambda v: self.submit(name, v))
        else:
            w = QLineEdit(format_value(spec, value))
            if spec.optional:
                w.setPlaceholderText("auto")
            w.editingFinished.connect(lambda w=w: self.submit_text(name, w.text()))
        return w

    def submit_text(self, name: str, text: str) -> bool:
        try:
            value = parse_text(self.specs[name], text)
        except ValueError as e:
            self.refuse(name, str(e))
            return False
        return self.submit(name, value)

    def submit(self, name: str, value) -> bool:
        """Apply a value if the declaration allows it; otherwise show why not."""
        if self._updating:
            return False
        spec = self.specs[name]
        if spec.kind == CHOICE and value == "":
            return False
        value = spec.coerce(value)
        problem = spec.check(value)
        if problem:
            self.refuse(name, problem)
            return False
        widget, error = self.fields[name]
        error.hide()
        widget.setStyleSheet("")
        self._apply(name, value)
        return True

    def refuse(self, name: str, reason: str) -> None:
        widget, error = self.fields[name]
        error.setText(f"Not applied: {name} {reason}.")
        error.show()
        widget.setStyleSheet("border: 1px solid #d32f2f;")

    def error_text(self, name: str) -> str:
        widget, error = self.fields[name]
        return error.text() if not error.isHidden() else ""

    def set_value(self, name: str, value) -> None:
        """Show a value that changed elsewhere (undo), without applying it again."""
        if name not in self.fields:
            return
        widget, error = self.fields[name]
        spec = self.specs[name]
        self._updating = True
        try:
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QComboBox):
                widget.setCurrentText(str(value if value is not None else ""))
            elif isinstance(widget, QSpinBox):
                widget.setValue(value)
            else:
                widget.setText(format_value(spec, value))
            error.hide()
            widget.setStyleSheet("")
        finally:
            self._updating = False
