"""Automatic layout: layers placed left to right by depth (a layered, Sugiyama-style layout).

Pure positions; the designer applies them through undoable moves, importers through the model.
"""
from __future__ import annotations

import networkx as nx

from .model import Graph

COLUMN = 280.0      # horizontal distance between depths (room for a shape label)
ROW = 120.0         # vertical distance between layers of the same depth


def layered_positions(graph: Graph, origin=(0.0, 0.0)) -> dict[str, tuple[float, float]]:
    """Position of every node: x by longest path from an input, y ordered to limit crossings."""
    g = nx.DiGraph()
    g.add_nodes_from(graph.nodes())
    g.add_edges_from((e.source, e.target) for e in graph.edges())
    if not nx.is_directed_acyclic_graph(g):
        # a loop from a broken file: lay out what we can by breadth-first depth
        order = list(g.nodes())
    else:
        order = list(nx.topological_sort(g))
    depth: dict[str, int] = {}
    for n in order:
        preds = [p for p in g.predecessors(n) if p in depth]
        depth[n] = 1 + max((depth[p] for p in preds), default=-1)
    columns: dict[int, list[str]] = {}
    for n in order:
        columns.setdefault(depth[n], []).append(n)
    # barycentre ordering: each column sorted by the mean row of its predecessors
    row: dict[str, float] = {}
    for d in sorted(columns):
        nodes = columns[d]
        if d > 0:
            def key(n):
                ys = [row[p] for p in g.predecessors(n) if p in row]
                return (sum(ys) / len(ys)) if ys else 0.0
            nodes.sort(key=key)
        for i, n in enumerate(nodes):
            row[n] = i - (len(nodes) - 1) / 2
    ox, oy = origin
    return {n: (ox + depth[n] * COLUMN, oy + row[n] * ROW) for n in graph.nodes()}
