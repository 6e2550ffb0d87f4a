"""Automatic layout: a layered (Sugiyama-style) drawing, top-down or left to right.

1. layers: each layer's depth is its longest path from an input (an input that feeds only deep
   layers sits just above its first reader);
2. a wire that spans several layers gets a placeholder in each layer it crosses, so that long
   skip connections are routed beside the main path instead of through it;
3. crossing reduction: layers are reordered by the barycentre (mean position) of their
   neighbours, sweeping down then up, keeping the order with the fewest crossings;
4. coordinates: each layer's positions are the closest (least squares) to the barycentres of
   its neighbours that keep a minimum gap, found exactly by isotonic regression.

Pure positions; the designer applies them through undoable moves, importers through the model.
Deterministic: the same graph gives the same positions.
"""
from __future__ import annotations

from .model import Graph

DOWN, RIGHT = "down", "right"

# left to right: distance between depths (room for a shape label) and between rows
COLUMN = 280.0
ROW = 120.0
# top-down: distance between depths (a layer is about 80 high, plus a wire label) and columns
LEVEL = 150.0
LANE = 240.0
# a chain longer than this (scene units) is laid out top-down when no view width is given
AUTO_WIDTH = 1600.0
SWEEPS = 4
PLACEHOLDER_WEIGHT = 0.01   # how much a long wire's placeholder pulls on positions
SNAP = 20.0                 # positions on the canvas grid (a multiple of LANE and ROW)


def choose_direction(graph: Graph, view_width: float = AUTO_WIDTH) -> str:
    """Top-down when the network laid out left to right would be wider than the view."""
    depth = _depths(graph, _acyclic_edges(graph))
    levels = 1 + max(depth.values(), default=0)
    return DOWN if (levels - 1) * COLUMN + 200 > view_width else RIGHT


def layered_positions(graph: Graph, origin=(0.0, 0.0), direction: str | None = None,
                      view_width: float = AUTO_WIDTH) -> dict[str, tuple[float, float]]:
    """Position of every node. `direction` is DOWN, RIGHT, or None to choose by `view_width`
    (see `choose_direction`). The first layer is at `origin` (its top or left edge)."""
    if direction is None:
        direction = choose_direction(graph, view_width)
    edges = _acyclic_edges(graph)
    depth = _depths(graph, edges)
    layers, preds, succs = _with_placeholders(graph, edges, depth)
    _reduce_crossings(layers, preds, succs)
    across = _coordinates(layers, preds, succs)
    ox, oy = origin
    out = {}
    for n in graph.nodes():
        if direction == DOWN:
            out[n] = (ox + _snap(across[n] * LANE), oy + depth[n] * LEVEL)
        else:
            out[n] = (ox + depth[n] * COLUMN, oy + _snap(across[n] * ROW))
    return out


def _snap(v: float) -> float:
    # rounding keeps gaps of LANE or ROW (multiples of SNAP) at least that wide
    return float(round(v / SNAP) * SNAP)


def crossings(graph: Graph, positions: dict, direction: str = DOWN) -> int:
    """How many pairs of wires between adjacent depths cross (for tests and benches)."""
    key = 0 if direction == DOWN else 1
    total = 0
    edges = [(positions[e.source], positions[e.target]) for e in graph.edges()]
    for i, (a, b) in enumerate(edges):
        for c, d in edges[i + 1:]:
            if a[1 - key] == c[1 - key] and b[1 - key] == d[1 - key]:
                if (a[key] - c[key]) * (b[key] - d[key]) < 0:
                    total += 1
    return total


# -- steps ---------------------------------------------------------------------------------------

def _acyclic_edges(graph: Graph) -> list[tuple[str, str]]:
    """(source, target) pairs without duplicates; on a loop (a broken file) the edges that
    close a cycle, in a depth-first walk, are left out."""
    nodes = graph.nodes()
    out: dict[str, list[str]] = {n: [] for n in nodes}
    seen_pairs = set()
    for e in graph.edges():
        if (e.source, e.target) not in seen_pairs and e.source != e.target:
            seen_pairs.add((e.source, e.target))
            out[e.source].append(e.target)
    state: dict[str, int] = {}          # 1 on the stack, 2 done
    kept = []
    for root in nodes:
        if root in state:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                continue                 # a back edge: closes a cycle
            else:
                kept.append((node, nxt))
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(out[nxt])))
    order = {n: i for i, n in enumerate(nodes)}
    kept.sort(key=lambda st: (order[st[0]], order[st[1]]))
    return kept


def _depths(graph: Graph, edges) -> dict[str, int]:
    preds: dict[str, list[str]] = {n: [] for n in graph.nodes()}
    succs: dict[str, list[str]] = {n: [] for n in graph.nodes()}
    for s, t in edges:
        preds[t].append(s)
        succs[s].append(t)
    depth: dict[str, int] = {}
    indegree = {n: len(p) for n, p in preds.items()}
    ready = [n for n in graph.nodes() if indegree[n] == 0]
    i = 0
    while i < len(ready):
        n = ready[i]
        i += 1
        depth[n] = 1 + max((depth[p] for p in preds[n]), default=-1)
        for t in succs[n]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    # an input that feeds only deep layers moves down to just above its first reader
    for n in graph.nodes():
        if not preds[n] and succs[n]:
            depth[n] = max(0, min(depth[t] for t in succs[n]) - 1)
    return depth


def _with_placeholders(graph, edges, depth):
    """Layers (lists of node ids, placeholders included) and the neighbour lists."""
    preds: dict[str, list[str]] = {n: [] for n in graph.nodes()}
    succs: dict[str, list[str]] = {n: [] for n in graph.nodes()}
    for s, t in edges:
        chain = [s]
        for d in range(depth[s] + 1, depth[t]):
            dummy = f"\0{s}\0{t}\0{d}"
            depth[dummy] = d
            preds[dummy], succs[dummy] = [], []
            chain.append(dummy)
        chain.append(t)
        for a, b in zip(chain, chain[1:]):
            succs[a].append(b)
            preds[b].append(a)
    layers: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    # first order: a depth-first walk from the inputs keeps each branch together
    seen = set()
    for root in [n for n in graph.nodes() if not preds[n]] + graph.nodes():
        stack = [root]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            layers[depth[n]].append(n)
            stack.extend(reversed(succs[n]))
    return layers, preds, succs


def _layer_crossings(upper, lower, succs) -> int:
    pos = {n: i for i, n in enumerate(lower)}
    ends = [pos[t] for n in upper for t in sorted(succs[n], key=pos.get) if t in pos]
    # inversions in `ends` (sources already in order) = crossings; n log n by merge sort
    return _inversions(ends)


def _inversions(xs: list[int]) -> int:
    if len(xs) < 2:
        return 0
    mid = len(xs) // 2
    left, right = xs[:mid], xs[mid:]
    count = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    j = 0
    for x in left:
        while j < len(right) and right[j] < x:
            j += 1
        count += j
    return count


def _reduce_crossings(layers, preds, succs) -> None:
    def total():
        return sum(_layer_crossings(a, b, succs) for a, b in zip(layers, layers[1:]))

    best, best_order = total(), [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        rng = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in rng:
            ref = layers[i - 1] if down else layers[i + 1]
            pos = {n: k for k, n in enumerate(ref)}
            nbrs = preds if down else succs
            layer = layers[i]

            def key(item, pos=pos, nbrs=nbrs):
                k, n = item
                ps = [pos[m] for m in nbrs[n] if m in pos]
                return (sum(ps) / len(ps) if ps else k, k)
            layers[i] = [n for _, n in sorted(enumerate(layer), key=key)]
        now = total()
        if now < best:
            best, best_order = now, [list(layer) for layer in layers]
        if best == 0:
            break
    layers[:] = best_order


def _coordinates(layers, preds, succs) -> dict[str, float]:
    """Positions across the layers, in units of one lane: each as close as it can be to the
    mean of its neighbours' positions, at least one lane from the next in its layer."""
    x: dict[str, float] = {}
    for layer in layers:
        for k, n in enumerate(layer):
            x[n] = k - (len(layer) - 1) / 2
    def weight(n: str) -> float:
        # a placeholder gives way: the layers of a main path stay in one straight line and
        # a long skip wire is the one pushed aside
        return PLACEHOLDER_WEIGHT if n.startswith("\0") else 1.0

    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        order = layers if down else layers[::-1]
        nbrs = preds if down else succs
        for layer in order:
            want = []
            for n in layer:
                ns = nbrs[n]
                total = sum(weight(m) for m in ns)
                want.append(sum(x[m] * weight(m) for m in ns) / total if ns else x[n])
            for n, v in zip(layer, _spaced(want, [weight(n) for n in layer])):
                x[n] = v
    # a whole drawing starts at 0 on its leftmost lane
    low = min(x.values(), default=0.0)
    return {n: v - low for n, v in x.items()}


def _spaced(want: list[float], weights: list[float]) -> list[float]:
    """The list closest to `want` (weighted least squares) with each value >= the previous + 1:
    with y_i = x_i - i the constraint is y non-decreasing, solved by pool-adjacent-violators."""
    blocks: list[list[float]] = []       # [mean, weight, count]
    for i, (w, k) in enumerate(zip(want, weights)):
        blocks.append([w - i, k, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, c2 = blocks.pop()
            m1, w1, c1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
    out = []
    for mean, _, count in blocks:
        out.extend([mean] * count)
    return [y + i for i, y in enumerate(out)]


def orientation(graph: Graph) -> str:
    """Which way the wires of a drawing mostly run: DOWN or RIGHT (the ports follow it)."""
    along_y = along_x = 0.0
    for e in graph.edges():
        (sx, sy), (tx, ty) = graph.node(e.source).position, graph.node(e.target).position
        along_x += max(0.0, tx - sx)
        along_y += max(0.0, ty - sy)
    return DOWN if along_y > along_x else RIGHT
