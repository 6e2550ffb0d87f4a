"""A structural diff of two designs: what a person changed between `net.graph` and
`net-v2.graph`, in the words of the design rather than of its JSON.

Layers are matched by id first; the layers left over are matched by type, neighbours that are
already matched and place in the topological order, so a layer that was deleted and re-created
(or renamed) is one "renamed" layer, not a removal and an addition. Wires are compared through
that matching; a wire of an added or removed layer belongs to that layer's entry and is not
listed again. Changed output shapes and parameter counts are reported as consequences on the
layers they reach. Positions on the canvas are layout, not design: moves are not differences.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .events import Edge
from .fileformat import from_dict, to_dict
from .model import Graph
from .shapes import fmt
from .validation import Analysis

ADDED, REMOVED, CHANGED, AFFECTED = "added", "removed", "changed", "affected"
REWIRED = "rewired"
#: a leftover pair needs at least this much evidence to be called the same layer
MIN_MATCH_SCORE = 2.0


@dataclass(frozen=True)
class ValueChange:
    """One parameter or setting: its name, the value before and after (None: absent)."""
    name: str
    old: object
    new: object

    def text(self) -> str:
        return f"{self.name} {_value_text(self.old)} -> {_value_text(self.new)}"


@dataclass
class LayerChange:
    """A layer added, removed, changed (its own parameters or id) or affected (only its output
    shape or parameter count changed, as a consequence of a change elsewhere)."""
    kind: str
    old_id: str | None
    new_id: str | None
    type: str
    params: list[ValueChange] = field(default_factory=list)
    shape: tuple | None = None           # (old shapes, new shapes) when they differ
    param_count: tuple | None = None     # (old, new) when they differ
    wires: list[str] = field(default_factory=list)   # an added/removed layer's own wires

    @property
    def id(self) -> str:
        return self.new_id if self.new_id is not None else self.old_id

    @property
    def renamed(self) -> bool:
        return (self.old_id is not None and self.new_id is not None
                and self.old_id != self.new_id)

    def details(self) -> str:
        parts = [c.text() for c in self.params]
        if self.kind == ADDED and self.shape is not None:
            parts.append(f"output {_shapes_text(self.shape[1])}")
        elif self.shape is not None:
            parts.append(f"output {_shapes_text(self.shape[0])} -> {_shapes_text(self.shape[1])}")
        if self.param_count is not None:
            parts.append(f"params {self.param_count[0]:,} -> {self.param_count[1]:,}")
        if self.wires:
            parts.append(", ".join(self.wires))
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "old_id": self.old_id, "new_id": self.new_id,
                "type": self.type, "renamed": self.renamed,
                "params": [{"name": c.name, "old": c.old, "new": c.new} for c in self.params],
                "shape": None if self.shape is None else
                {"old": _shapes_json(self.shape[0]), "new": _shapes_json(self.shape[1])},
                "param_count": None if self.param_count is None else
                {"old": self.param_count[0], "new": self.param_count[1]},
                "wires": list(self.wires)}


@dataclass(frozen=True)
class WireChange:
    """A wire between two layers present in both designs: added, removed, or rewired (another
    source on the same input port). `edge` has the ids of the design it is in (the new one,
    except for a removed wire); `old` is the wire a rewired one replaced (old ids)."""
    kind: str
    edge: Edge
    old: Edge | None = None

    def text(self) -> str:
        e = self.edge
        if self.kind == REWIRED:
            o = self.old
            return (f"{e.target} input {e.target_port}: from {o.source}:{o.source_port} "
                    f"-> from {e.source}:{e.source_port}")
        return f"{e.source}:{e.source_port} -> {e.target}:{e.target_port}"

    def to_dict(self) -> dict:
        e = self.edge
        data = {"kind": self.kind, "source": e.source, "source_port": e.source_port,
                "target": e.target, "target_port": e.target_port}
        if self.old is not None:
            data["old_source"], data["old_source_port"] = self.old.source, self.old.source_port
        return data


@dataclass
class BlockChange:
    """A block definition added, removed or changed (with the diff of its sub-graph)."""
    kind: str
    name: str
    diff: "GraphDiff | None" = None
    ports: list[ValueChange] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name,
                "ports": [{"name": c.name, "old": c.old, "new": c.new} for c in self.ports],
                "diff": None if self.diff is None else self.diff.to_dict()}


@dataclass
class GraphDiff:
    layers: list[LayerChange] = field(default_factory=list)
    wires: list[WireChange] = field(default_factory=list)
    settings: list[ValueChange] = field(default_factory=list)
    blocks: list[BlockChange] = field(default_factory=list)
    metadata: list[ValueChange] = field(default_factory=list)
    matching: dict = field(default_factory=dict)      # old id -> new id of every kept layer
    totals: tuple = (0, 0)                            # parameter counts, old and new

    @property
    def equal(self) -> bool:
        return not (self.layers or self.wires or self.settings or self.blocks or self.metadata)

    def layers_of(self, kind: str) -> list[LayerChange]:
        return [c for c in self.layers if c.kind == kind]

    def summary(self) -> str:
        if self.equal:
            return "no differences"
        counts = [(len(self.layers_of(CHANGED)), "layer changed", "layers changed"),
                  (len(self.layers_of(ADDED)), "layer added", "layers added"),
                  (len(self.layers_of(REMOVED)), "layer removed", "layers removed"),
                  (len(self.layers_of(AFFECTED)), "layer affected", "layers affected"),
                  (len(self.wires), "wire changed", "wires changed"),
                  (len(self.settings), "setting changed", "settings changed"),
                  (len(self.blocks), "block changed", "blocks changed"),
                  (len(self.metadata), "description field changed",
                   "description fields changed")]
        return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counts if n)

    def lines(self) -> list[str]:
        """The diff as rows of a table a person reads (what `netdesigner diff` prints)."""
        rows = []
        order = {CHANGED: 0, ADDED: 1, REMOVED: 2, AFFECTED: 3}
        for c in sorted(self.layers, key=lambda c: order[c.kind]):
            name = (f"{c.old_id} -> {c.new_id}" if c.renamed else c.id) + f" ({c.type})"
            rows.append((c.kind, name, c.details()))
        for w in self.wires:
            rows.append((f"wire {w.kind}", w.text(), ""))
        for s in self.settings:
            rows.append(("setting", s.name, f"{_value_text(s.old)} -> {_value_text(s.new)}"))
        for b in self.blocks:
            detail = "; ".join([p.text() for p in b.ports]
                               + ([b.diff.summary()] if b.diff is not None else []))
            rows.append((f"block {b.kind}", b.name, detail))
            if b.diff is not None:
                rows.extend(("", "", "  " + line) for line in b.diff.lines())
        for m in self.metadata:
            rows.append(("metadata", m.name, f"{_value_text(m.old)} -> {_value_text(m.new)}"))
        if self.totals[0] != self.totals[1]:
            rows.append(("total", "parameters", f"{self.totals[0]:,} -> {self.totals[1]:,}"))
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(2)]
        return [f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2]}".rstrip()
                for r in rows]

    def to_dict(self) -> dict:
        return {"equal": self.equal, "summary": self.summary(),
                "layers": [c.to_dict() for c in self.layers],
                "wires": [w.to_dict() for w in self.wires],
                "settings": [{"name": s.name, "old": s.old, "new": s.new}
                             for s in self.settings],
                "blocks": [b.to_dict() for b in self.blocks],
                "metadata": [{"name": m.name, "old": m.old, "new": m.new}
                             for m in self.metadata],
                "matching": dict(self.matching),
                "params": {"old": self.totals[0], "new": self.totals[1]}}


def _value_text(value) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_value_text(v) for v in value) + ")"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _shapes_text(shapes) -> str:
    if shapes is None:
        return "?"
    return ", ".join(fmt(s) for s in shapes)


def _shapes_json(shapes):
    return None if shapes is None else [list(s) for s in shapes]


# -- matching ------------------------------------------------------------------------------------
def _params_json(graph: Graph, node_id: str) -> dict:
    node = graph.node(node_id)
    spec = node.layer_type.params
    return {k: (spec[k].to_json(v) if k in spec else v) for k, v in node.params.items()}


def _rank(graph: Graph) -> dict:
    """Each layer's place in the topological order, from 0 to 1 (a cyclic design: file order)."""
    try:
        order = graph.topological_order()
    except Exception:            # noqa: BLE001 - a cycle: the file order is the best there is
        order = graph.nodes()
    n = max(len(order) - 1, 1)
    return {node: i / n for i, node in enumerate(order)}


#: the leftover pairs (same type) scored one against another at most; beyond, the leftovers
#: are matched only along wires (a diff of two big unrelated designs must not take hours)
MAX_SCORED_PAIRS = 20_000


def match_layers(a: Graph, b: Graph) -> dict:
    """old id -> new id for the layers of `a` that are still in `b`: by id; then along the wires
    of matched layers (a layer whose only unmatched neighbour of its type on that port is
    unmatched on the other side too is the same layer), starting from the inputs in order;
    then, for what is left, by score (type, matched neighbours, equal parameters, place)."""
    matching = {n: n for n in a.nodes() if n in b and a.node(n).type == b.node(n).type}
    taken = set(matching.values())
    inputs_a = [n for n in a.inputs() if n not in matching]
    inputs_b = [n for n in b.inputs() if n not in taken]
    if len(inputs_a) == len(inputs_b):
        for x, y in zip(inputs_a, inputs_b):
            if a.node(x).type == b.node(y).type:
                matching[x] = y
                taken.add(y)
    _propagate(a, b, matching, taken)
    left_a = [n for n in a.nodes() if n not in matching]
    left_b = [n for n in b.nodes() if n not in taken]
    if not left_a or not left_b:
        return matching
    pairs = sum(1 for x in left_a for y in left_b if a.node(x).type == b.node(y).type) \
        if len(left_a) * len(left_b) <= 50 * MAX_SCORED_PAIRS else MAX_SCORED_PAIRS + 1
    if pairs > MAX_SCORED_PAIRS:
        return matching
    rank_a, rank_b = _rank(a), _rank(b)
    params_a = {n: _params_json(a, n) for n in left_a}
    params_b = {n: _params_json(b, n) for n in left_b}
    # every pair scored once, the surest first; each match then matches along its wires
    scored = sorted(((_score(a, b, x, y, matching, params_a[x], params_b[y], rank_a[x],
                             rank_b[y]), x, y)
                     for x in left_a for y in left_b if a.node(x).type == b.node(y).type),
                    key=lambda t: -t[0])
    for score, x, y in scored:
        if score < MIN_MATCH_SCORE:
            break
        if x in matching or y in taken:
            continue
        matching[x] = y
        taken.add(y)
        _propagate(a, b, matching, taken, [(x, y)])
    return matching


def _propagate(a: Graph, b: Graph, matching: dict, taken: set, start=None) -> None:
    """Match along wires from matched pairs: the one unmatched layer of a type on a port of x
    (a wire into it, or out of it) is the one unmatched layer of that type on the same port of
    x's match. Linear in the wires."""
    queue = list(matching.items()) if start is None else list(start)
    while queue:
        x, y = queue.pop()
        for side in ("out", "in"):
            mine = a.out_edges(x) if side == "out" else a.in_edges(x)
            theirs = b.out_edges(y) if side == "out" else b.in_edges(y)

            def key(e, g, other):
                return (e.source_port, e.target_port, g.node(other).type)
            candidates_a: dict = {}
            for e in mine:
                other = e.target if side == "out" else e.source
                if other not in matching:
                    candidates_a.setdefault(key(e, a, other), []).append(other)
            if not candidates_a:
                continue
            candidates_b: dict = {}
            for e in theirs:
                other = e.target if side == "out" else e.source
                if other not in taken:
                    candidates_b.setdefault(key(e, b, other), []).append(other)
            for k, xs in candidates_a.items():
                ys = candidates_b.get(k, [])
                if len(xs) == 1 and len(ys) == 1 and xs[0] not in matching \
                        and ys[0] not in taken:
                    matching[xs[0]] = ys[0]
                    taken.add(ys[0])
                    queue.append((xs[0], ys[0]))


def _score(a, b, x, y, matching, px, py, rx, ry) -> float:
    """How sure it is that layer x of `a` is layer y of `b` (same type already checked)."""
    score = 1.0 - abs(rx - ry)                            # near the same place in the order
    same = sum(px.get(k) == py.get(k) for k in set(px) | set(py))
    score += same / max(len(set(px) | set(py)), 1)        # the share of equal parameters
    for ea in a.in_edges(x):                              # wired to the same matched layers
        if matching.get(ea.source) is not None and any(
                eb.source == matching[ea.source] for eb in b.in_edges(y)):
            score += 1.0
    for ea in a.out_edges(x):
        if matching.get(ea.target) is not None and any(
                eb.target == matching[ea.target] for eb in b.out_edges(y)):
            score += 1.0
    return score


# -- the diff ------------------------------------------------------------------------------------
def _analysis(graph: Graph) -> Analysis:
    return Analysis(graph, live=False)


def _dict_changes(old: dict, new: dict, prefix: str = "") -> list[ValueChange]:
    changes = []
    for key in sorted(set(old) | set(new), key=str):
        x, y = old.get(key), new.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            changes.extend(_dict_changes(x, y, f"{prefix}{key}."))
        elif x != y:
            changes.append(ValueChange(f"{prefix}{key}", x, y))
    return changes


def _wire_text(edge: Edge, node: str) -> str:
    if edge.target == node:
        return f"from {edge.source}" + (f":{edge.source_port}" if edge.source_port else "")
    return f"to {edge.target}" + (f":{edge.target_port}" if edge.target_port else "")


def diff(a: Graph, b: Graph, *, blocks: bool = True) -> GraphDiff:
    """What changed from design `a` (old) to design `b` (new). `blocks`: also compare the block
    definitions (a block's own graph shares its project's definitions: compared once, at the
    top)."""
    result = GraphDiff()
    matching = match_layers(a, b)
    result.matching = matching
    analysis_a, analysis_b = _analysis(a), _analysis(b)
    result.totals = (analysis_a.total_params(), analysis_b.total_params())
    kept_b = set(matching.values())

    for old_id, new_id in matching.items():
        params = [ValueChange(k, x, y) for k, x, y in _param_changes(a, b, old_id, new_id)]
        report_a, report_b = analysis_a.report(old_id), analysis_b.report(new_id)
        shape = ((report_a.outputs, report_b.outputs)
                 if report_a.outputs != report_b.outputs else None)
        count = ((report_a.params, report_b.params)
                 if report_a.params != report_b.params else None)
        if params or old_id != new_id:
            kind = CHANGED
        elif shape or count:
            kind = AFFECTED
        else:
            continue
        result.layers.append(LayerChange(kind, old_id, new_id, a.node(old_id).type, params,
                                         shape, count))
    for n in b.nodes():
        if n not in kept_b:
            report = analysis_b.report(n)
            wires = [_wire_text(e, n) for e in b.in_edges(n) + b.out_edges(n)]
            result.layers.append(LayerChange(ADDED, None, n, b.node(n).type,
                                             shape=(None, report.outputs), wires=wires))
    for n in a.nodes():
        if n not in matching:
            wires = [_wire_text(e, n) for e in a.in_edges(n) + a.out_edges(n)]
            result.layers.append(LayerChange(REMOVED, n, None, a.node(n).type, wires=wires))

    result.wires = _wire_changes(a, b, matching, result.layers)
    result.settings = _dict_changes(a.training, b.training)
    result.metadata = _dict_changes(a.metadata, b.metadata)
    for name in sorted(set(a.blocks) | set(b.blocks)) if blocks else ():
        if name not in b.blocks:
            result.blocks.append(BlockChange(REMOVED, name))
        elif name not in a.blocks:
            result.blocks.append(BlockChange(ADDED, name))
        else:
            old, new = a.blocks[name], b.blocks[name]
            inner = diff(old.graph, new.graph, blocks=False)
            ports = [c for c in (ValueChange("inputs", list(old.inputs), list(new.inputs)),
                                 ValueChange("outputs", [list(o) for o in old.outputs],
                                             [list(o) for o in new.outputs]),
                                 ValueChange("description", old.description,
                                             new.description))
                     if c.old != c.new]
            if not inner.equal or ports:
                result.blocks.append(BlockChange(CHANGED, name,
                                                 None if inner.equal else inner, ports))
    return result


def _wire_changes(a: Graph, b: Graph, matching: dict, layers: list) -> list[WireChange]:
    """Wires between kept layers that differ. A wire replaced on the same input port is one
    "rewired" change; a wire that an added layer now sits on (or a removed layer's bypass) is
    told on that layer's entry ("inserted between", "bypassed"), not again here."""
    kept_b = set(matching.values())
    back = {new: old for old, new in matching.items()}
    old_edges = {Edge(matching[e.source], e.source_port, matching[e.target], e.target_port): e
                 for e in a.edges() if e.source in matching and e.target in matching}
    new_edges = {e for e in b.edges() if e.source in kept_b and e.target in kept_b}
    removed = [e for e in old_edges if e not in new_edges]
    added = [e for e in new_edges if e not in old_edges]
    by_kind = {c.id: c for c in layers if c.kind in (ADDED, REMOVED)}

    def between(e: Edge, kind: str, graph: Graph, src: str, tgt: str, words: str) -> bool:
        """Whether a `kind` layer of `graph` sits between src and tgt (on e's input port);
        if so its entry tells `words` in place of its two wires."""
        for n, change in by_kind.items():
            if change.kind == kind and n in graph and any(
                    x.source == src for x in graph.in_edges(n)) and any(
                    x.target == tgt and x.target_port == e.target_port
                    for x in graph.out_edges(n)):
                change.wires[:] = [words] + [w for w in change.wires if w.split(":")[0]
                                             not in (f"from {src}", f"to {tgt}")]
                return True
        return False

    def inserted(e: Edge) -> bool:              # e (new ids) now runs through an added layer
        return between(e, ADDED, b, e.source, e.target,
                       f"inserted between {e.source} and {e.target}")

    def bypassed(e: Edge) -> bool:              # e (new ids) replaces a removed layer
        src, tgt = back[e.source], back[e.target]
        return between(e, REMOVED, a, src, tgt, f"bypassed: {src} now feeds {tgt}")

    changes = []
    removed = [e for e in removed if not inserted(e)]
    added = [e for e in added if not bypassed(e)]
    for e in sorted(added):
        twin = next((r for r in removed if (r.target, r.target_port) == (e.target,
                                                                         e.target_port)), None)
        if twin is not None:
            removed.remove(twin)
            changes.append(WireChange(REWIRED, e, old_edges[twin]))
        else:
            changes.append(WireChange(ADDED, e))
    changes.extend(WireChange(REMOVED, old_edges[e]) for e in sorted(removed))
    return changes


def _param_changes(a: Graph, b: Graph, old_id: str, new_id: str):
    pa, pb = _params_json(a, old_id), _params_json(b, new_id)
    for key in sorted(set(pa) | set(pb)):
        if pa.get(key) != pb.get(key):
            yield key, pa.get(key), pb.get(key)


# -- one picture of both designs -----------------------------------------------------------------
@dataclass(frozen=True)
class Mark:
    """How the compare view shows one layer of the overlay: its kind and what changed."""
    kind: str
    text: str
    old_id: str | None = None


def overlay(a: Graph, b: Graph, result: GraphDiff | None = None) -> tuple[Graph, dict]:
    """The new design with the removed layers of the old one put back where they stood (and
    wired from the layers that feed them), for one canvas that shows both: returns the graph
    and a Mark per layer that differs (added, removed, changed, affected)."""
    result = result if result is not None else diff(a, b)
    data = to_dict(b)
    data.pop("runs", None)
    merged = from_dict(data, "<overlay>")
    marks = {}
    for change in result.layers:
        if change.kind == REMOVED:
            continue
        text = change.details()
        if change.renamed:
            text = f"was {change.old_id}" + (f"; {text}" if text else "")
        marks[change.new_id] = Mark(change.kind, text, change.old_id)
    for change in result.layers_of(REMOVED):
        node = a.node(change.old_id)
        node_id = change.old_id
        while node_id in merged:
            node_id = f"removed_{node_id}"
        merged.add_node(node.type, dict(node.params), node.position, node_id=node_id)
        marks[node_id] = Mark(REMOVED, change.details(), change.old_id)
    placed = {m.old_id: n for n, m in marks.items() if m.kind == REMOVED}
    for change in result.layers_of(REMOVED):
        for e in a.in_edges(change.old_id):
            source = placed.get(e.source) or result.matching.get(e.source)
            if source is not None:
                try:
                    merged.connect(source, e.source_port, placed[change.old_id], e.target_port)
                except ValueError:
                    pass            # a port the new design no longer has: shown unwired
        for e in a.out_edges(change.old_id):
            target = result.matching.get(e.target)
            if target is not None and e.target_port not in merged.input_ports(target):
                try:
                    merged.connect(placed[change.old_id], e.source_port, target, e.target_port)
                except ValueError:
                    pass
    return merged, marks
