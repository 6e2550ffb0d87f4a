"""Block expansion: the flat network that the backends compile.

Each Block node is replaced by `repeat` copies of its definition's layers, chained: copy r reads
the outputs of copy r-1. Inner nodes get ids `<block node>__<copy>__<inner id>` (e.g.
`block_1__2__conv_a`), so every weight of the expanded network traces back to the design.
Blocks inside blocks are expanded too.
"""
from __future__ import annotations

from .events import Edge
from .model import Graph

SEPARATOR = "__"


def expanded_id(block_node: str, copy: int, inner: str) -> str:
    return f"{block_node}{SEPARATOR}{copy}{SEPARATOR}{inner}"


def expand_blocks(graph: Graph) -> Graph:
    """A copy of `graph` without Block nodes (the graph itself is not changed)."""
    return expand_with_sources(graph)[0]


def expand_with_sources(graph: Graph) -> tuple[Graph, dict]:
    """The flat graph, and where each (node, output port) of `graph` now comes from."""
    flat = Graph()
    flat.training, flat.metadata = dict(graph.training), dict(graph.metadata)
    # where each output port of an original node now comes from
    source_of: dict[tuple[str, int], tuple[str, int]] = {}
    order = graph.topological_order()
    for n in order:
        node = graph.node(n)
        if node.type != "Block":
            flat.add_node(node.type, dict(node.params), node.position, n)
            for port in range(graph.output_count(n)):
                source_of[(n, port)] = (n, port)
            continue
        block = graph.blocks.get(node.params["block"])
        if block is None:
            raise ValueError(f"{n}: there is no block named {node.params['block']!r}")
        inner, inner_sources = expand_with_sources(block.graph)      # blocks inside the block, first
        outputs = [inner_sources[(o, port)] for o, port in block.outputs]
        feeds = [source_of[(e.source, e.source_port)] for e in graph.in_edges(n)]
        for copy in range(1, node.params["repeat"] + 1):
            feeds = _instantiate(flat, inner, block.inputs, outputs, n, copy, feeds,
                                 node.position)
        for port, feed in enumerate(feeds):
            source_of[(n, port)] = feed
    for e in graph.edges():
        if graph.node(e.target).type == "Block":
            continue                      # wired inside the copies
        src, sport = source_of[(e.source, e.source_port)]
        flat.restore_edge(Edge(src, sport, e.target, e.target_port))
    return flat, source_of


def _instantiate(flat: Graph, inner: Graph, input_ids: list, outputs: list, node_id: str,
                 copy: int, feeds: list, position) -> list:
    """Add one copy of a (flat) block's layers fed by `feeds`; returns the copy's outputs."""
    inputs = {inner_id: feed for inner_id, feed in zip(input_ids, feeds)}
    names = {}
    for inner_id in inner.nodes():
        if inner_id in inputs:
            continue
        inner_node = inner.node(inner_id)
        names[inner_id] = expanded_id(node_id, copy, inner_id)
        x, y = inner_node.position
        flat.add_node(inner_node.type, dict(inner_node.params),
                      (position[0] + x / 4 + 40 * copy, position[1] + y / 4), names[inner_id])
    for e in inner.edges():
        src = inputs[e.source] if e.source in inputs else (names[e.source], e.source_port)
        flat.restore_edge(Edge(src[0], src[1], names[e.target], e.target_port))
    return [inputs[n] if n in inputs else (names[n], port) for n, port in outputs]


class DesignError(ValueError):
    """A design that cannot be compiled; the message names every problem."""


def validated_flat(graph: Graph) -> tuple[Graph, dict]:
    """What both backends compile: the design checked, its blocks expanded, the expansion
    checked again. Returns (flat graph, sources as `expand_with_sources` gives them); raises
    DesignError naming every problem."""
    from .validation import Analysis, problems_text
    errors = Analysis(graph, live=False).errors()
    if errors:
        raise DesignError(f"the network has {len(errors)} problem(s); fix them first:\n"
                          + problems_text(errors))
    if not graph.inputs():
        raise DesignError("the network has no Input layer")
    try:
        flat, source_of = expand_with_sources(graph)
    except (ValueError, KeyError) as e:
        raise DesignError(f"cannot expand the blocks: {e}") from None
    errors = Analysis(flat, live=False).errors()
    if errors:
        raise DesignError("the expanded network has problems:\n" + problems_text(errors))
    return flat, source_of
