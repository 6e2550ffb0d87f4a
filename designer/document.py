"""One open project: the graph model, its file, its undo stack and its live validation.

The document is the bridge between the plain-Python model and Qt: it relays the model's events
as a Qt signal and re-validates once per burst of edits (a paste of twenty layers validates once,
before the next repaint).
"""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from netdesigner.graph import Analysis, Edge, Graph, fileformat
from netdesigner.graph.layout import layered_positions
from netdesigner.graph.training import SETTINGS

from .commands import (AddNodeCommand, CollapseToBlockCommand, ConnectCommand, DisconnectCommand, InsertCommand,
                       MoveNodesCommand, RemoveNodesCommand, SetParamCommand,
                       SetTrainingCommand)

AUTO_LAYOUT = "Auto Layout"        # the undo text; the canvas re-places ports when it is undone


CLIPBOARD_MIME = "application/x-netdesigner-layers"
DEFAULT_DATASET = "digits"          # a new project trains on it until another is chosen


class Document(QObject):
    graphEvent = Signal(object)      # every model event, in order
    validated = Signal()             # the analysis is up to date after a burst of edits
    fileChanged = Signal()           # path or modified state changed

    def __init__(self, graph: Graph | None = None, path: str | None = None, parent=None,
                 undo: QUndoStack | None = None):
        """`undo`: share another document's history (a block's definition is edited within
        its project's undo history: Ctrl+Z in either window undoes the last edit of both)."""
        super().__init__(parent)
        self.graph = graph if graph is not None else Graph()
        self.path = Path(path) if path else None
        self.analysis = Analysis(self.graph)
        self.undo = undo if undo is not None else QUndoStack(self)
        # a slot of this object (not a lambda): Qt drops the connection when the document is
        # deleted, so a shared or dying undo stack never emits into a deleted document
        self.undo.cleanChanged.connect(self._clean_changed)
        # the sample an untitled copy was made from (its folder resolves relative data paths)
        self.origin: Path | None = None
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(0)
        self._validate_timer.timeout.connect(self.revalidate)
        self._pushing = False
        self.graph.subscribe(self._on_event)

    # -- files ----------------------------------------------------------------------------------
    @classmethod
    def new(cls, parent=None) -> "Document":
        """An empty project whose settings are all stored, a data set included: what the
        training panel shows is what the project holds."""
        graph = Graph()
        if not graph.training.get("dataset"):
            graph.training["dataset"] = DEFAULT_DATASET
        for spec in SETTINGS:
            graph.training.setdefault(spec.name, spec.default)
        return cls(graph, None, parent)

    @classmethod
    def open(cls, path, parent=None) -> "Document":
        """Raises graph.fileformat.GraphFileError with a message for the user."""
        return cls(fileformat.load(path), path, parent)

    @classmethod
    def open_copy(cls, path, parent=None) -> "Document":
        """An untitled copy of the file at `path` (a shipped sample): saving it asks for a
        name. Raises GraphFileError."""
        document = cls(fileformat.load(path), None, parent)
        document.origin = Path(path)
        return document

    @property
    def base_dir(self) -> Path:
        """Where relative paths in the settings (a data file) are read from."""
        if self.path is not None:
            return self.path.parent
        if self.origin is not None:
            return self.origin.parent
        return Path.cwd()

    def save(self, path=None) -> None:
        target = Path(path) if path else self.path
        if target is None:
            raise ValueError("no file name yet: use Save As")
        fileformat.save(self.graph, target)
        self.path = target
        self.undo.setClean()
        self.fileChanged.emit()

    @property
    def modified(self) -> bool:
        return not self.undo.isClean()

    @property
    def title(self) -> str:
        if self.path:
            return self.path.name
        if self.origin:
            return f"untitled copy of {self.origin.name}"
        return "untitled.graph"

    def close(self) -> None:
        """The document goes away: no more events, validations or file signals from it."""
        self.graph.unsubscribe(self._on_event)
        self._validate_timer.stop()
        try:
            self.undo.cleanChanged.disconnect(self._clean_changed)
        except (RuntimeError, TypeError):     # already gone with the stack
            pass
        self.analysis.close()

    # -- events ---------------------------------------------------------------------------------
    def _clean_changed(self, clean: bool) -> None:
        self.fileChanged.emit()

    def _on_event(self, event) -> None:
        self.graphEvent.emit(event)
        self._validate_timer.start()

    def revalidate(self) -> None:
        self._validate_timer.stop()
        self.analysis.refresh()
        self.validated.emit()

    # -- edits (each one undoable) --------------------------------------------------------------
    def push(self, command) -> None:
        if self._pushing:            # a command must never trigger another one
            raise RuntimeError(f"re-entrant edit: {command.text()}")
        self._pushing = True
        try:
            self.undo.push(command)
        finally:
            self._pushing = False

    def add_node(self, type_id: str, position, params=None) -> str:
        command = AddNodeCommand(self.graph, type_id, params, position)
        self.push(command)
        return command.node_id

    def remove_nodes(self, node_ids) -> None:
        node_ids = [n for n in node_ids if n in self.graph]
        if node_ids:
            self.push(RemoveNodesCommand(self.graph, node_ids))

    def connect(self, source, source_port, target, target_port) -> Edge:
        edge = Edge(source, source_port, target, target_port)
        self.push(ConnectCommand(self.graph, edge))
        return edge

    def disconnect(self, edge: Edge) -> None:
        self.push(DisconnectCommand(self.graph, edge))

    def set_param(self, node_id: str, name: str, value) -> None:
        command = SetParamCommand(self.graph, node_id, name, value)
        if command.new != command.old or type(command.new) is not type(command.old):
            self.push(command)

    def set_training(self, key: str, value) -> None:
        if self.graph.training.get(key) != value:
            self.push(SetTrainingCommand(self.graph, key, value))

    def move_nodes(self, moves: dict) -> None:
        moves = {k: v for k, v in moves.items() if tuple(v[0]) != tuple(v[1])}
        if moves:
            self.push(MoveNodesCommand(self.graph, moves))

    def auto_layout(self, direction: str | None = None, view_width: float = 1600.0) -> None:
        """One undoable move of every layer (see graph.layout: top-down when the network is
        wider than `view_width` left to right, unless `direction` says which)."""
        positions = layered_positions(self.graph, direction=direction, view_width=view_width)
        moves = {n: (self.graph.node(n).position, positions[n]) for n in self.graph.nodes()}
        moves = {k: v for k, v in moves.items() if tuple(v[0]) != tuple(v[1])}
        if moves:
            self.push(MoveNodesCommand(self.graph, moves, AUTO_LAYOUT))

    def collapse_to_block(self, node_ids) -> tuple[str | None, str]:
        """Replace the layers by one Block node holding them (one undo step). Returns the
        Block node's id and "" , or None and why it cannot be done."""
        graph = self.graph
        ids = [n for n in graph.nodes() if n in set(node_ids)]
        if not ids:
            return None, "Select the layers to collapse into a block."
        if any(graph.node(n).type == "Input" for n in ids):
            return None, "Input layers stay outside a block: select the layers after them."
        chosen = set(ids)
        feed_shapes = {}
        for e in graph.edges():
            if e.source not in chosen and e.target in chosen:
                shape = self.analysis.edge_shape(e)
                if shape is None:
                    return None, (f"The shape reaching {e.target} from {e.source} is not known "
                                  f"yet: fix the problems first.")
                source = graph.node(e.source)
                dtype = source.params.get("dtype", "float32") if source.type == "Input" \
                    else "float32"
                feed_shapes[(e.source, e.source_port)] = (tuple(shape), dtype)
        k = 1
        while f"group_{k}" in graph.blocks:
            k += 1
        command = CollapseToBlockCommand(graph, ids, f"group_{k}", feed_shapes)
        self.push(command)
        return command.block_node, ""

    # -- clipboard ------------------------------------------------------------------------------
    def copy_data(self, node_ids) -> str:
        """The selected layers and the wires among them, as JSON text."""
        chosen = [n for n in self.graph.nodes() if n in set(node_ids)]
        nodes = []
        for n in chosen:
            node = self.graph.node(n)
            spec = node.layer_type.params
            nodes.append({"id": n, "type": node.type,
                          "params": {k: spec[k].to_json(v) for k, v in node.params.items()},
                          "position": list(node.position)})
        edges = [{"source": e.source, "source_port": e.source_port, "target": e.target,
                  "target_port": e.target_port}
                 for e in self.graph.edges() if e.source in chosen and e.target in chosen]
        return json.dumps({"format": CLIPBOARD_MIME, "nodes": nodes, "edges": edges})

    def paste_data(self, text: str, offset=(40.0, 40.0), label="Paste") -> list[str]:
        """Insert copied layers with fresh ids; returns the new ids ([] if text is not ours)."""
        try:
            data = json.loads(text)
            if data.get("format") != CLIPBOARD_MIME:
                return []
        except (ValueError, AttributeError):
            return []
        renamed, nodes, taken = {}, [], set(self.graph.nodes())
        for n in data["nodes"]:
            new_id = self.graph.new_id(n["type"])
            while new_id in taken:                  # ids chosen before any is inserted
                prefix, _, k = new_id.rpartition("_")
                new_id = f"{prefix}_{int(k) + 1}"
            taken.add(new_id)
            renamed[n["id"]] = new_id
            x, y = n["position"]
            nodes.append({"id": new_id, "type": n["type"], "params": n["params"],
                          "position": (x + offset[0], y + offset[1])})
        edges = [Edge(renamed[e["source"]], e["source_port"], renamed[e["target"]],
                      e["target_port"]) for e in data["edges"]]
        command = InsertCommand(self.graph, nodes, edges, label)
        self.push(command)
        return command.node_ids

    def duplicate(self, node_ids) -> list[str]:
        return self.paste_data(self.copy_data(node_ids), label="Duplicate")
