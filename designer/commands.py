"""Undo/redo: every edit is a `QUndoCommand` that calls the graph model's mutators.

Commands capture what they need to undo when they are created (or on their first redo) and
never touch the scene: the scene follows the model's events. They are testable without a view.
"""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from netdesigner.graph import Edge, Graph

MERGE_PARAM = 1001        # QUndoCommand ids for merging consecutive edits
MERGE_TRAINING = 1003


class AddNodeCommand(QUndoCommand):
    def __init__(self, graph: Graph, type_id: str, params=None, position=(0.0, 0.0),
                 node_id: str | None = None):
        super().__init__(f"Add {type_id}")
        self.graph, self.type_id, self.params, self.position = graph, type_id, params, position
        self.node_id = node_id

    def redo(self):
        # the id is chosen on the first redo and kept, so redo recreates the same node
        self.node_id = self.graph.add_node(self.type_id, self.params, self.position,
                                           self.node_id)

    def undo(self):
        self.graph.remove_node(self.node_id)


class InsertCommand(QUndoCommand):
    """Insert several nodes and the wires between them (paste, duplicate, templates)."""

    def __init__(self, graph: Graph, nodes: list[dict], edges: list[Edge], text="Paste"):
        super().__init__(text)
        self.graph, self.nodes, self.edges = graph, nodes, edges

    def redo(self):
        for n in self.nodes:
            self.graph.add_node(n["type"], n["params"], n["position"], n["id"])
        for e in self.edges:
            self.graph.connect(e.source, e.source_port, e.target, e.target_port)

    def undo(self):
        for n in reversed(self.nodes):
            self.graph.remove_node(n["id"])

    @property
    def node_ids(self) -> list[str]:
        return [n["id"] for n in self.nodes]


class RemoveNodesCommand(QUndoCommand):
    def __init__(self, graph: Graph, node_ids: list[str]):
        super().__init__(f"Delete {len(node_ids)} layer{'s' if len(node_ids) != 1 else ''}")
        self.graph, self.node_ids = graph, list(node_ids)
        self.saved: list = []
        self.edges: list[Edge] = []

    def redo(self):
        self.saved, edges = [], set()
        for n in self.node_ids:
            edges.update(self.graph.in_edges(n))
            edges.update(self.graph.out_edges(n))
            self.saved.append(copy.deepcopy(self.graph.node(n)))
        self.edges = sorted(edges)
        for n in self.node_ids:
            self.graph.remove_node(n)

    def undo(self):
        for node in self.saved:
            self.graph.add_node(node.type, node.params, node.position, node.id)
        for edge in self.edges:
            self.graph.restore_edge(edge)


class ConnectCommand(QUndoCommand):
    def __init__(self, graph: Graph, edge: Edge):
        super().__init__(f"Wire {edge.source} to {edge.target}")
        self.graph, self.edge = graph, edge

    def redo(self):
        e = self.edge
        self.graph.connect(e.source, e.source_port, e.target, e.target_port)

    def undo(self):
        self.graph.disconnect(self.edge)


class DisconnectCommand(QUndoCommand):
    def __init__(self, graph: Graph, edge: Edge):
        super().__init__(f"Remove wire {edge.source} to {edge.target}")
        self.graph, self.edge = graph, edge

    def redo(self):
        self.graph.disconnect(self.edge)

    def undo(self):
        self.graph.restore_edge(self.edge)


class SetParamCommand(QUndoCommand):
    """Set one parameter. Consecutive edits of the same parameter merge into one undo step."""

    def __init__(self, graph: Graph, node_id: str, name: str, value):
        super().__init__(f"Set {node_id}.{name}")
        self.graph, self.node_id, self.name = graph, node_id, name
        self.old = graph.node(node_id).params[name]
        self.new = graph.node(node_id).layer_type.params[name].coerce(value)

    def id(self):
        return MERGE_PARAM

    def mergeWith(self, other) -> bool:
        if (other.node_id, other.name) != (self.node_id, self.name):
            return False
        self.new = other.new
        return True

    def redo(self):
        self.graph.set_param(self.node_id, self.name, self.new)

    def undo(self):
        self.graph.set_param(self.node_id, self.name, self.old)


class MoveNodesCommand(QUndoCommand):
    """Move one or several nodes: a drag of a selection is one step."""

    def __init__(self, graph: Graph, moves: dict, text: str | None = None):
        n = len(moves)
        super().__init__(text or f"Move {n} layer{'s' if n != 1 else ''}")
        self.graph = graph
        self.moves = {k: (tuple(old), tuple(new)) for k, (old, new) in moves.items()}

    def redo(self):
        for node_id, (_, new) in self.moves.items():
            self.graph.move_node(node_id, new)

    def undo(self):
        for node_id, (old, _) in self.moves.items():
            self.graph.move_node(node_id, old)


class SetTrainingCommand(QUndoCommand):
    """Change one training setting (or optimizer parameter) of the project."""

    def __init__(self, graph: Graph, key: str, value):
        super().__init__(f"Set training {key}")
        self.graph, self.key = graph, key
        self.old = copy.deepcopy(graph.training.get(key))
        self.new = value

    def id(self):
        return MERGE_TRAINING

    def mergeWith(self, other) -> bool:
        if other.key != self.key:
            return False
        self.new = other.new
        return True

    def redo(self):
        self.graph.set_training(self.key, copy.deepcopy(self.new))

    def undo(self):
        self.graph.set_training(self.key, copy.deepcopy(self.old))
