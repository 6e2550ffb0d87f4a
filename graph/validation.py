"""Validation and shape inference over a whole graph, kept up to date edit by edit.

`Analysis(graph)` listens to the graph's events. After an edit, `refresh()` recomputes only the
nodes the edit touched and, of their descendants, only those whose input shapes really changed:
changing the last layer's activation recomputes one node, not the network.

Every problem names its node (and port or parameter) and says, in a sentence a student
understands, what is wrong and what to try.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .catalog import Inferred
from .events import (BlockChanged, Edge, EdgeAdded, EdgeRemoved, NodeAdded, NodeRemoved, ParamChanged)
from .limits import LIMITS, expansion_problem, memory_budget, size_text
from .model import Graph
from .shapes import MissingInput, ShapeError, fmt, size

ERROR = "error"
WARNING = "warning"
MAX_PORT_PROBLEMS = 8     # unconnected inputs listed one by one per layer; the rest summed up


@dataclass(frozen=True)
class Problem:
    node: str | None          # None for problems of the whole network
    message: str
    code: str                 # cycle, unconnected, arity, param, shape, no_input, block, ...
    severity: str = ERROR
    port: int | None = None
    param: str | None = None

    def __str__(self):
        where = self.node or "network"
        if self.param:
            where += f".{self.param}"
        elif self.port is not None:
            where += f" (input {self.port})"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict:
        return {"node": self.node, "severity": self.severity, "code": self.code,
                "port": self.port, "param": self.param, "message": self.message}


@dataclass
class NodeReport:
    """What validation knows about one node."""
    inputs: list | None = None         # input shapes, when all are known
    outputs: list | None = None        # output shapes, None when they cannot be worked out
    params: int = 0
    trainable: int = 0
    flops: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)


class Analysis:
    """Shapes, parameter counts, FLOPs and problems of every node of a graph.

    `input_shapes` overrides the shapes of Input nodes (used when a block is applied to
    its caller's tensors). `live=False` computes once without listening to edits.
    """

    def __init__(self, graph: Graph, *, live: bool = True, input_shapes: dict | None = None,
                 block_stack: tuple = ()):
        self.graph = graph
        self.input_shapes = input_shapes or {}
        self.block_stack = block_stack
        self._reports: dict[str, NodeReport] = {}
        self._dirty: set[str] = set(graph.nodes())
        self._cyclic: set[str] = set()
        self._check_cycles = True
        self._block_cache: dict = {}
        self._block_problems: dict[str, list[Problem]] = {}
        # block definitions are checked once, by the analysis of the whole file
        self._blocks_dirty: set[str] = set() if block_stack else set(graph.blocks)
        self.recomputed = 0           # nodes recomputed by the last refresh (for tests, benches)
        self.live = live
        if live:
            graph.subscribe(self._on_event)
        self.refresh()

    def close(self) -> None:
        if self.live:
            self.graph.unsubscribe(self._on_event)
            self.live = False

    # -- events ---------------------------------------------------------------------------------
    def _on_event(self, event) -> None:
        if isinstance(event, ParamChanged):
            self._dirty.add(event.node)
        elif isinstance(event, EdgeAdded):
            self._dirty.add(event.edge.target)
            self._check_cycles = self._check_cycles or bool(self._cyclic) or nx.has_path(
                self.graph._g, event.edge.target, event.edge.source)
        elif isinstance(event, EdgeRemoved):
            if event.edge.target in self.graph:
                self._dirty.add(event.edge.target)
            self._check_cycles = self._check_cycles or bool(self._cyclic)
        elif isinstance(event, NodeAdded):
            self._dirty.add(event.node)
        elif isinstance(event, NodeRemoved):
            self._reports.pop(event.node, None)
            self._dirty.discard(event.node)
            self._check_cycles = self._check_cycles or event.node in self._cyclic
        elif isinstance(event, BlockChanged):
            if not self.block_stack:
                self._blocks_dirty.add(event.name)
            self._block_cache = {k: v for k, v in self._block_cache.items() if k[0] != event.name}
            for n in self.graph.nodes():
                node = self.graph.node(n)
                if node.type == "Block" and node.params.get("block") == event.name:
                    self._dirty.add(n)

    # -- computing ------------------------------------------------------------------------------
    def refresh(self) -> "Analysis":
        """Bring every report up to date with the graph; cheap when little changed."""
        self.recomputed = 0
        if self._check_cycles:
            self._find_cycles()
        for name in list(self._blocks_dirty):
            self._check_block(name)
        self._blocks_dirty.clear()
        while self._dirty:
            self._ensure(next(iter(self._dirty)))
        return self

    def _find_cycles(self) -> None:
        g = self.graph._g
        cyclic = set()
        for component in nx.strongly_connected_components(g):
            if len(component) > 1:
                cyclic |= component
        cyclic |= {u for u, _ in nx.selfloop_edges(g)}
        was = self._cyclic
        self._cyclic = cyclic
        self._check_cycles = False
        for n in (was | cyclic):
            if n in self.graph:
                self._dirty.add(n)
                self._dirty.update(self.graph.successors(n))

    def _ensure(self, root: str) -> None:
        """Compute `root` after any of its dirty ancestors (iterative, so deep chains work)."""
        dirty = self._dirty
        stack = [root]
        while stack:
            n = stack[-1]
            if n not in dirty:
                stack.pop()
                continue
            pending = [] if n in self._cyclic else [
                e.source for e in self.graph.input_ports(n).values()
                if e.source in dirty and e.source not in self._cyclic]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            dirty.discard(n)
            old = self._reports.get(n)
            report = self._compute(n)
            self._reports[n] = report
            self.recomputed += 1
            if old is None or old.outputs != report.outputs:
                dirty.update(e.target for e in self.graph.out_edge_set(n))

    def _compute(self, n: str) -> NodeReport:
        node = self.graph.node(n)
        layer_type = node.layer_type
        report = NodeReport()
        problems = report.problems
        if n in self._cyclic:
            problems.append(Problem(n, "This layer is part of a loop; data must flow one way "
                                       "through the network. Remove one of the wires of the "
                                       "loop.", "cycle"))
            return report
        values = node.params
        for spec in layer_type.params:
            value = values.get(spec.name)
            if type(value) is type(spec.default) and value == spec.default:
                continue                  # defaults were checked when the type was declared
            problem = spec.check(value)
            if problem:
                problems.append(Problem(n, f"{spec.name} {problem}.", "param", param=spec.name))
        inputs = self._gather_inputs(n, node, layer_type, problems)
        if problems or inputs is None:
            return report
        report.inputs = inputs
        if node.type == "Input" and n in self.input_shapes:
            report.outputs = [tuple(self.input_shapes[n])]
            return report
        if node.type == "Block":
            # before shapes are worked out through it: 1000 x 1000 nested repeats would take
            # minutes to infer, and would never fit in memory once expanded
            too_big = expansion_problem(self.graph.blocks, node)
            if too_big:
                problems.append(Problem(n, too_big, "limit", param="repeat"))
                return report
        try:
            inferred: Inferred = layer_type.infer(node.params, inputs, self)
        except ShapeError as e:
            problems.append(Problem(n, str(e), "shape"))
            return report
        report.outputs = inferred.outputs
        report.params, report.trainable, report.flops = (inferred.params, inferred.trainable,
                                                         inferred.flops)
        problems.extend(Problem(n, text, "advice", WARNING) for text in inferred.advice)
        return report

    def _gather_inputs(self, n, node, layer_type, problems) -> list | None:
        """Input shapes in port order, or None (with problems added when it is this node's
        fault; an unknown shape upstream is that node's problem, not this one's)."""
        ports = self.graph.input_ports(n)
        lo, hi = layer_type.min_inputs, layer_type.max_inputs
        if node.type == "Block":
            name = node.params.get("block")
            block = self.graph.block_named(name)
            if block is not None:
                lo = hi = len(block.inputs)
        count = (max(ports) + 1) if ports else 0
        missing = [port for port in range(max(count, lo)) if port not in ports]
        for port in missing[:MAX_PORT_PROBLEMS]:
            name = layer_type.input_port_name(port)
            problems.append(Problem(
                n, f"Its {name} (input {port}) is not connected: wire a layer's output "
                   f"into it.", "unconnected", port=port))
        if len(missing) > MAX_PORT_PROBLEMS:
            # one wire into port 1000 leaves 1000 ports empty: one sentence, not 1000
            problems.append(Problem(
                n, f"{len(missing) - MAX_PORT_PROBLEMS:,} more inputs (up to input "
                   f"{missing[-1]}) are not connected.", "unconnected",
                port=missing[MAX_PORT_PROBLEMS]))
        if hi is not None and count > hi:
            problems.append(Problem(n, f"{node.type} takes {layer_type.arity_text()} but "
                                       f"{count} are wired.", "arity"))
        if problems:
            return None
        shapes = []
        for port in range(count):
            edge = ports[port]
            upstream = self._reports.get(edge.source)
            if upstream is None or upstream.outputs is None:
                return None
            if edge.source_port >= len(upstream.outputs):
                problems.append(Problem(
                    n, f"Input {port} is wired to output {edge.source_port} of "
                       f"{edge.source}, which now has only {len(upstream.outputs)} "
                       f"output(s); rewire it.", "arity", port=port))
                return None
            shapes.append(upstream.outputs[edge.source_port])
        return shapes

    # -- blocks ---------------------------------------------------------------------------------
    def infer_block(self, name: str, inputs: list) -> Inferred:
        """Shapes through one application of a block (used by the Block layer type)."""
        key = (name, tuple(map(tuple, inputs)))
        if key in self._block_cache:
            return self._block_cache[key]
        block = self.graph.blocks.get(name)
        if block is None:
            known = ", ".join(sorted(self.graph.blocks)) or "none is defined"
            raise ShapeError(f"There is no block named {name!r} (blocks: {known}).")
        if name in self.block_stack:
            raise ShapeError(f"Block {name!r} contains itself "
                             f"({' -> '.join(self.block_stack + (name,))}).")
        if len(inputs) != len(block.inputs):
            raise ShapeError(f"Block {name!r} takes {len(block.inputs)} inputs but gets "
                             f"{len(inputs)}.")
        inner = Analysis(block.graph, live=False, input_shapes=dict(zip(block.inputs, inputs)),
                         block_stack=self.block_stack + (name,))
        errors = inner.errors()
        if errors:
            shapes = ", ".join(fmt(s) for s in inputs)
            raise ShapeError(f"Inside block {name!r}, applied to {shapes}: {errors[0]}")
        wrong = _bad_block_output(block, inner)
        if wrong:
            raise ShapeError(f"Block {name!r}: {wrong}")
        outputs = [inner.report(node).outputs[port] for node, port in block.outputs]
        result = Inferred(outputs, inner.total_params(), inner.total_trainable(),
                          inner.total_flops())
        self._block_cache[key] = result
        return result

    def _check_block(self, name: str) -> None:
        """Validate a block definition on its own (with its Input nodes' declared shapes)."""
        block = self.graph.blocks.get(name)
        if block is None:
            self._block_problems.pop(name, None)
            return
        problems = []
        inner_nodes = set(block.graph.nodes())
        for node_id in block.inputs:
            if node_id not in inner_nodes or block.graph.node(node_id).type != "Input":
                problems.append(f"its input {node_id!r} is not an Input node of the block")
        for node_id, port in block.outputs:
            if node_id not in inner_nodes:
                problems.append(f"its output {node_id!r} is not a node of the block")
        if not block.outputs:
            problems.append("it has no outputs")
        if not problems and name not in self.block_stack:
            inner = Analysis(block.graph, live=False, block_stack=self.block_stack + (name,))
            problems += [str(p) for p in inner.errors()]
            if not problems:
                wrong = _bad_block_output(block, inner)
                problems += [wrong] if wrong else []
        self._block_problems[name] = [Problem(None, f"Block {name!r}: {text}", "block")
                                      for text in problems]

    # -- results --------------------------------------------------------------------------------
    def report(self, node_id: str) -> NodeReport:
        if self._dirty:
            self.refresh()
        return self._reports[node_id]

    def output_shapes(self, node_id: str) -> list | None:
        return self.report(node_id).outputs

    def peek(self, node_id: str) -> NodeReport | None:
        """The last computed report, without refreshing (for painting between edits)."""
        return self._reports.get(node_id)

    def edge_shape(self, edge) -> tuple | None:
        """The shape of the tensor a wire carries, or None if it cannot be worked out."""
        outputs = self.report(edge.source).outputs
        if outputs is None or edge.source_port >= len(outputs):
            return None
        return outputs[edge.source_port]

    def wire_problem(self, source: str, source_port: int, target: str,
                     target_port: int, ignore: Edge | None = None) -> str | None:
        """Why a new wire would be refused: structure (loops, taken ports) or shapes (the target
        layer cannot take the tensor). None when it can be made. `ignore`: judge as if that
        wire were gone."""
        problem = self.graph.connection_problem(source, source_port, target, target_port, ignore)
        if problem:
            return problem
        shape = self.edge_shape(Edge(source, source_port, target, target_port))
        if shape is None:
            return None                   # unknown upstream: nothing to say yet
        node = self.graph.node(target)
        layer_type = node.layer_type
        ports = self.graph.input_ports(target)
        inputs = {p: self.edge_shape(e) for p, e in ports.items() if e != ignore}
        inputs[target_port] = shape
        count = max(max(inputs) + 1, layer_type.min_inputs)
        if node.type == "Block" or any(inputs.get(p) is None for p in range(count)):
            return None                   # not all inputs known yet: check when they are
        if any(p.code == "param" for p in self.report(target).problems):
            return None
        try:
            layer_type.infer(node.params, [inputs[p] for p in range(count)], self)
        except MissingInput:
            return None                   # the wire is right; its partner comes next
        except ShapeError as e:
            return str(e)
        return None

    def problems(self) -> list[Problem]:
        """Every problem: the network's, the blocks', then each node's in graph order."""
        if self._dirty:
            self.refresh()
        out = []
        if len(self.graph) and not self.graph.inputs():
            out.append(Problem(None, "The network has no Input layer: add one from the palette "
                                     "and give it the shape of one sample.", "no_input"))
        for problems in self._block_problems.values():
            out.extend(problems)
        if not self.block_stack:
            out.extend(self.memory_problems())
        for n in self.graph.nodes():
            out.extend(self._reports[n].problems)
        return out

    def memory_problems(self, budget: int | None = None) -> list[Problem]:
        """The weights, or one training batch's activations, that would not fit in memory
        (graph.limits: the machine's memory or a declared cap), each as a problem on the
        largest layer, so that neither backend tries to allocate them."""
        budget = memory_budget() if budget is None else budget
        bpv = LIMITS.bytes_per_value
        batch = self.graph.training.get("batch_size", 1)
        batch = batch if isinstance(batch, int) and not isinstance(batch, bool) and batch > 0 \
            else 1
        weights, activations = {}, {}
        for n in self.graph.nodes():
            report = self._reports.get(n)
            if report is None:
                continue
            weights[n] = report.params * bpv
            # every layer's output is kept for the backward pass: the batch's activations add
            # up (unknown sizes, None, count as 1)
            activations[n] = sum(size(tuple(1 if d is None else d for d in s))
                                 for s in report.outputs or []) * batch * bpv
        out = []
        for table, what, fix in (
                (weights, "weights", "make it smaller (fewer units or filters)"),
                (activations, f"activations for one batch of {batch}",
                 "lower the batch size or make the layer's output smaller")):
            total = sum(table.values())
            if total > budget:
                n = max(table, key=table.get)
                out.append(Problem(n, f"The network's {what} need {size_text(total)} (this "
                                      f"layer's alone {size_text(table[n])}), more than the "
                                      f"{size_text(budget)} of memory this machine has: {fix}.",
                                   "memory"))
        return out

    def errors(self) -> list[Problem]:
        return [p for p in self.problems() if p.severity == ERROR]

    def warnings(self) -> list[Problem]:
        return [p for p in self.problems() if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors()

    def total_params(self) -> int:
        return sum(self.report(n).params for n in self.graph.nodes())

    def total_trainable(self) -> int:
        return sum(self.report(n).trainable for n in self.graph.nodes())

    def total_flops(self) -> int:
        return sum(self.report(n).flops for n in self.graph.nodes())


def _bad_block_output(block, inner: Analysis) -> str | None:
    """Why one of a block's outputs cannot be taken (a node that is not there, or an output
    port it does not have), or None."""
    for node_id, port in block.outputs:
        if node_id not in block.graph:
            return f"its output {node_id!r} is not a node of the block"
        outputs = inner.report(node_id).outputs
        if outputs is not None and not 0 <= port < len(outputs):
            return (f"its output is port {port} of {node_id!r}, which has only "
                    f"{len(outputs)} output{'s' if len(outputs) != 1 else ''}")
    return None


def problems_text(problems) -> str:
    """Problems as indented lines, for error messages."""
    return "\n".join(f"  {p}" for p in problems)


def validate(graph: Graph) -> Analysis:
    """One-shot validation (no listening to later edits)."""
    return Analysis(graph, live=False)
