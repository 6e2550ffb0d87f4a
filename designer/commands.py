"""Undo/redo: every edit is a `QUndoCommand` that calls the graph model's mutators.

Commands capture what they need to undo when they are created (or on their first redo) and
never touch the scene: the scene follows the model's events. They are testable without a view.
"""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from netdesigner.graph import Edge, Graph
from netdesigner.graph.model import BlockDef

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


class CollapseToBlockCommand(QUndoCommand):
    """Replace a selection of layers by one Block node whose new definition holds them: each
    distinct tensor coming in becomes an input of the block (an Input layer inside, of the
    shape it carries), each tensor going out (or a model output) an output of the block."""

    def __init__(self, graph: Graph, node_ids, name: str, feed_shapes: dict):
        super().__init__(f"Collapse {len(node_ids)} layers into block {name}")
        self.graph, self.name, self.feed_shapes = graph, name, dict(feed_shapes)
        order = {n: i for i, n in enumerate(graph.nodes())}
        self.ids = sorted(node_ids, key=order.get)
        chosen = set(self.ids)
        edges = graph.edges()
        self.incoming = [e for e in edges if e.source not in chosen and e.target in chosen]
        self.outgoing = [e for e in edges if e.source in chosen and e.target not in chosen]
        self.internal = [e for e in edges if e.source in chosen and e.target in chosen]
        self.feeds = sorted({(e.source, e.source_port) for e in self.incoming},
                            key=lambda f: (order[f[0]], f[1]))
        outs = {(e.source, e.source_port) for e in self.outgoing}
        outs |= {(n, 0) for n in self.ids if not graph.out_edges(n)}      # model outputs
        self.outs = sorted(outs, key=lambda f: (order[f[0]], f[1]))
        self.saved = [copy.deepcopy(graph.node(n)) for n in self.ids]
        xs = [node.position[0] for node in self.saved]
        ys = [node.position[1] for node in self.saved]
        self.origin = (min(xs), min(ys))
        self.position = (sum(xs) / len(xs), sum(ys) / len(ys))
        self.block_node: str | None = None

    def redo(self):
        inner = Graph()
        ox, oy = self.origin
        for node in self.saved:
            x, y = node.position
            inner.add_node(node.type, copy.deepcopy(node.params), (x - ox, y - oy + 150), node.id)
        input_ids = []
        for k, feed in enumerate(self.feeds):
            shape, dtype = self.feed_shapes[feed]
            input_ids.append(inner.add_node("Input", {"shape": shape, "dtype": dtype},
                                            (k * 240.0, 0.0)))
        for e in self.internal:
            inner.restore_edge(e)
        for e in self.incoming:
            source = input_ids[self.feeds.index((e.source, e.source_port))]
            inner.restore_edge(Edge(source, 0, e.target, e.target_port))
        for n in self.ids:
            self.graph.remove_node(n)
        self.graph.define_block(BlockDef(self.name, inner, input_ids, list(self.outs)))
        self.block_node = self.graph.add_node("Block", {"block": self.name, "repeat": 1},
                                              self.position, self.block_node)
        for k, (source, port) in enumerate(self.feeds):
            self.graph.restore_edge(Edge(source, port, self.block_node, k))
        for e in self.outgoing:
            j = self.outs.index((e.source, e.source_port))
            self.graph.restore_edge(Edge(self.block_node, j, e.target, e.target_port))

    def undo(self):
        self.graph.remove_node(self.block_node)
        self.graph.remove_block(self.name)
        for node in self.saved:
            self.graph.add_node(node.type, copy.deepcopy(node.params), node.position, node.id)
        for e in self.internal + self.incoming + self.outgoing:
            self.graph.restore_edge(e)
