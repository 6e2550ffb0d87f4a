"""The network model: one class, `Graph`, is the only thing that changes a network.

It wraps a NetworkX `MultiDiGraph` (a node may feed several ports of the same target, as in
self-attention). Every change is announced to plain-Python observers (`graph.events`), which is
how validation, the designer's scene and undo/redo follow along.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import networkx as nx

from .catalog import CATALOG, LayerType
from .events import (BlockChanged, Edge, EdgeAdded, EdgeRemoved, NodeAdded, NodeMoved,
                     NodeRemoved, Observable, ParamChanged, SettingsChanged)
from .training import default_settings

# Used with fullmatch only: `$` in a .match would also accept an id ending in a newline.
NODE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class WiringError(ValueError):
    """A refused change to the network's wiring; the message says why."""


def snake_case(type_id: str) -> str:
    """Conv2DTranspose -> conv2d_transpose, SimpleRNN -> simple_rnn (as Keras names layers)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", type_id)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclass
class Node:
    id: str
    type: str
    params: dict
    position: tuple = (0.0, 0.0)

    @property
    def layer_type(self) -> LayerType:
        return CATALOG[self.type]


@dataclass
class BlockDef:
    """A named sub-graph used by reference from Block nodes (a residual unit, an encoder layer).

    Its Input nodes, in the order of `inputs`, are the block's input ports; `outputs` lists the
    (node, output port) pairs that are its output ports.
    """
    name: str
    graph: "Graph"
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    description: str = ""


class Graph:
    def __init__(self):
        self.events = Observable()
        self._g = nx.MultiDiGraph()
        self._nodes: dict[str, Node] = {}
        self._in: dict[str, dict[int, Edge]] = {}      # target -> port -> edge
        self._out: dict[str, set[Edge]] = {}           # source -> edges
        self._counters: dict[str, int] = {}
        self.blocks: dict[str, BlockDef] = {}
        self.training: dict = default_settings()
        self.metadata: dict = {}
        self.runs: list = []
        self._relays: dict = {}          # block name -> observer relaying its edits

    # -- observers ------------------------------------------------------------------------------
    def subscribe(self, observer) -> None:
        self.events.subscribe(observer)

    def unsubscribe(self, observer) -> None:
        self.events.unsubscribe(observer)

    # -- queries --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._nodes

    def nodes(self) -> list[str]:
        """Node ids in insertion order."""
        return list(self._nodes)

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id!r} in the network") from None

    def edges(self) -> list[Edge]:
        return [e for ports in self._in.values() for e in ports.values()]

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into a node, ordered by input port."""
        ports = self._in[node_id]
        return [ports[p] for p in sorted(ports)]

    def input_ports(self, node_id: str) -> dict[int, Edge]:
        return self._in[node_id]

    def out_edges(self, node_id: str) -> list[Edge]:
        return sorted(self._out[node_id])

    def out_edge_set(self, node_id: str) -> set[Edge]:
        """Edges out of a node, unordered (cheap; do not modify)."""
        return self._out[node_id]

    def predecessors(self, node_id: str) -> set[str]:
        return {e.source for e in self._in[node_id].values()}

    def successors(self, node_id: str) -> set[str]:
        return {e.target for e in self._out[node_id]}

    def inputs(self) -> list[str]:
        """The network's Input nodes."""
        return [n for n, node in self._nodes.items() if node.type == "Input"]

    def outputs(self) -> list[str]:
        """Nodes whose outputs nobody consumes: the network's outputs."""
        return [n for n in self._nodes if not self._out[n] and self._nodes[n].type != "Input"]

    def nx_graph(self) -> nx.MultiDiGraph:
        """A read-only view of the NetworkX graph (for algorithms; never mutate it)."""
        return self._g.copy(as_view=True)

    def topological_order(self) -> list[str]:
        """Node ids, every node after its inputs; ties in the order the nodes were added, so the
        order is the same on every run. Raises networkx.NetworkXUnfeasible on a loop."""
        g = nx.DiGraph()
        g.add_nodes_from(self._nodes)
        g.add_edges_from((e.source, e.target) for e in self.edges())
        index = {n: i for i, n in enumerate(self._nodes)}
        return list(nx.lexicographical_topological_sort(g, key=index.__getitem__))

    def output_count(self, node_id: str) -> int:
        node = self._nodes[node_id]
        return node.layer_type.output_count(node.params, self)

    # -- ids ------------------------------------------------------------------------------------
    def new_id(self, type_id: str) -> str:
        prefix = snake_case(CATALOG.resolve(type_id))
        n = self._counters.get(prefix, 0) + 1
        while f"{prefix}_{n}" in self._nodes:
            n += 1
        return f"{prefix}_{n}"

    def _count_id(self, node_id: str) -> None:
        m = re.match(r"^(.*)_(\d+)$", node_id)
        if m:
            prefix, n = m.group(1), int(m.group(2))
            self._counters[prefix] = max(self._counters.get(prefix, 0), n)

    # -- mutators -------------------------------------------------------------------------------
    def add_node(self, type_id: str, params: dict | None = None, position=(0.0, 0.0),
                 node_id: str | None = None) -> str:
        """Add a layer; parameters not given take their declared defaults. Returns its id."""
        layer_type = CATALOG[type_id]       # KeyError names an unknown type
        if node_id is None:
            node_id = self.new_id(layer_type.type_id)
        elif not NODE_ID.fullmatch(node_id):
            raise ValueError(f"node id {node_id!r} must start with a letter or _ and contain "
                             f"only letters, digits and _")
        if node_id in self._nodes:
            raise ValueError(f"there is already a node {node_id!r}")
        values = layer_type.default_params()
        for name, value in (params or {}).items():
            if name not in layer_type.params:
                raise KeyError(f"{layer_type.type_id} has no parameter {name!r}")
            values[name] = layer_type.params[name].coerce(value)
        node = Node(node_id, layer_type.type_id, values, _position(position))
        self._nodes[node_id] = node
        self._in[node_id] = {}
        self._out[node_id] = set()
        self._g.add_node(node_id)
        self._count_id(node_id)
        self.events.emit(NodeAdded(node_id))
        return node_id

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its wires; returns both so that undo can put them back."""
        node = self.node(node_id)
        edges = self.in_edges(node_id) + self.out_edges(node_id)
        for edge in edges:
            self.disconnect(edge)
        del self._nodes[node_id], self._in[node_id], self._out[node_id]
        self._g.remove_node(node_id)
        self.events.emit(NodeRemoved(node_id))
        return copy.deepcopy(node), edges

    def connection_problem(self, source: str, source_port: int, target: str,
                           target_port: int, ignore: Edge | None = None) -> str | None:
        """Why a wire cannot be made (structure only; shapes are validation's job), or None.

        `ignore` judges as if that wire were gone (a wire picked up to be moved elsewhere)."""
        if source not in self._nodes:
            return f"there is no node {source!r}"
        if target not in self._nodes:
            return f"there is no node {target!r}"
        if source == target:
            return "a layer cannot feed itself"
        n_out = self.output_count(source)
        if not 0 <= source_port < n_out:
            return (f"{source} has {n_out} output{'s' if n_out != 1 else ''}; there is no "
                    f"output port {source_port}")
        tnode = self._nodes[target]
        if not tnode.layer_type.accepts_input_port(target_port, self, tnode.params):
            if tnode.layer_type.max_inputs == 0:
                return f"{target} is an Input layer: nothing can be wired into it"
            return (f"{target} ({tnode.type}) takes {tnode.layer_type.arity_text()}; there is "
                    f"no input port {target_port}")
        g = self._g if ignore is None else nx.restricted_view(
            self._g, [], [(ignore.source, ignore.target, (ignore.source_port, ignore.target_port))])
        if nx.has_path(g, target, source):
            return (f"wiring {source} into {target} would make a loop ({target} already feeds "
                    f"{source}); data must flow one way through the network")
        if target_port in self._in[target] and self._in[target][target_port] != ignore:
            other = self._in[target][target_port]
            return f"input port {target_port} of {target} is already fed by {other.source}"
        return None

    def connect(self, source: str, source_port: int, target: str, target_port: int) -> Edge:
        problem = self.connection_problem(source, source_port, target, target_port)
        if problem:
            raise WiringError(problem)
        return self._add_edge(Edge(source, source_port, target, target_port))

    def restore_edge(self, edge: Edge) -> Edge:
        """Add a wire without the cycle and port checks: loading keeps a user's file as it is
        (validation reports what is wrong with it), and undo puts back exactly what was there."""
        if edge.source not in self._nodes or edge.target not in self._nodes:
            raise WiringError(f"cannot restore {edge}: a node is missing")
        if edge.target_port in self._in[edge.target]:
            raise WiringError(f"cannot restore {edge}: the input port is taken")
        return self._add_edge(edge)

    def _add_edge(self, edge: Edge) -> Edge:
        self._in[edge.target][edge.target_port] = edge
        self._out[edge.source].add(edge)
        self._g.add_edge(edge.source, edge.target, key=(edge.source_port, edge.target_port))
        self.events.emit(EdgeAdded(edge))
        return edge

    def disconnect(self, edge: Edge) -> None:
        if self._in.get(edge.target, {}).get(edge.target_port) != edge:
            raise WiringError(f"there is no wire {edge}")
        del self._in[edge.target][edge.target_port]
        self._out[edge.source].discard(edge)
        self._g.remove_edge(edge.source, edge.target, key=(edge.source_port, edge.target_port))
        self.events.emit(EdgeRemoved(edge))

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set one parameter (stored in canonical form); returns the old value.

        The model accepts any value so that a file can be loaded as it is; validation reports
        out-of-range values, and the property editor refuses them before they get here.
        """
        node = self.node(node_id)
        spec = node.layer_type.params
        if name not in spec:
            raise KeyError(f"{node.type} has no parameter {name!r}")
        old = node.params[name]
        new = spec[name].coerce(value)
        if new == old and type(new) is type(old):
            return old
        node.params[name] = new
        self.events.emit(ParamChanged(node_id, name, old, new))
        return old

    def move_node(self, node_id: str, position) -> tuple:
        node = self.node(node_id)
        old, node.position = node.position, _position(position)
        if old != node.position:
            self.events.emit(NodeMoved(node_id, old, node.position))
        return old

    def set_training(self, key: str, value: Any) -> Any:
        old = self.training.get(key)
        self.training[key] = value
        self.events.emit(SettingsChanged(f"training.{key}"))
        return old

    def set_metadata(self, key: str, value: Any) -> Any:
        old = self.metadata.get(key)
        self.metadata[key] = value
        self.events.emit(SettingsChanged(f"metadata.{key}"))
        return old

    # -- blocks ---------------------------------------------------------------------------------
    def block_named(self, name) -> BlockDef | None:
        """The block definition `name`; None for an unknown name or a value that is no name (a
        file may hold a list in a Block's `block` parameter: validation names it)."""
        return self.blocks.get(name) if isinstance(name, str) else None

    def define_block(self, block: BlockDef) -> None:
        """Add or replace a block definition; edits inside it are announced as BlockChanged."""
        if not NODE_ID.fullmatch(block.name):
            raise ValueError(f"block name {block.name!r} must be an identifier")
        old = self.blocks.get(block.name)
        if old is not None:
            old.graph.unsubscribe(self._relay(old.name))
        self.blocks[block.name] = block
        block.graph.blocks = self.blocks     # one namespace: blocks may use other blocks
        block.graph.subscribe(self._relay(block.name))
        self.events.emit(BlockChanged(block.name))

    def remove_block(self, name: str) -> BlockDef:
        block = self.blocks.pop(name)
        block.graph.unsubscribe(self._relay(name))
        self.events.emit(BlockChanged(name))
        return block

    def _relay(self, name: str):
        if name not in self._relays:
            self._relays[name] = lambda event: self.events.emit(BlockChanged(name))
        return self._relays[name]


def _position(position: Iterable) -> tuple:
    x, y = position
    return (float(x), float(y))
