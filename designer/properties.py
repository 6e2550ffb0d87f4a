"""The property editor: the selected layer's parameters, as a form built from its declaration.

Every applied edit is an undoable command, and the canvas re-validates at once; a refused value
is not applied and its field says why.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from netdesigner.graph.events import ParamChanged
from netdesigner.graph.params import TEXT
from netdesigner.graph.shapes import fmt

from .param_form import ParamForm


class PropertyEditor(QScrollArea):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.document = None
        self.node_id: str | None = None
        self.form: ParamForm | None = None
        self.info: QLabel | None = None
        self._show_empty()

    @property
    def fields(self) -> dict:
        return self.form.fields if self.form is not None else {}

    def error_text(self, name: str) -> str:
        return self.form.error_text(name)

    # -- building -------------------------------------------------------------------------------
    def _show_empty(self, text="Select a layer to edit its parameters.") -> None:
        self.form = None
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
        blocks = sorted(self.document.graph.blocks)
        self.form = ParamForm(
            list(lt.params), node.params,
            apply=lambda name, value: self.document.set_param(self.node_id, name, value),
            choices_for=lambda spec: blocks if spec.kind == TEXT and spec.name == "block"
            else None)
        outer.addWidget(self.form)
        outer.addStretch()
        self.setWidget(holder)
        self._refresh_info()

    # -- following the model --------------------------------------------------------------------
    def _on_event(self, event) -> None:
        if isinstance(event, ParamChanged) and event.node == self.node_id and self.form:
            self.form.set_value(event.name, event.new)
        elif self.node_id is not None and self.node_id not in self.document.graph:
            self.set_node(None)

    def _refresh_info(self) -> None:
        if self.node_id is None or self.node_id not in self.document.graph or self.info is None:
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
