"""A whole network in NumPy: compile a graph, run it forward and backward over its DAG.

    model = compile_graph(graph, settings)          # expands blocks, validates, makes weights
    outputs = model.forward([x], training=True)     # one array per input / per output
    dxs = model.backward([dy])                      # fills model.grads, returns input grads

* Nodes run in topological order; backward runs the same list in reverse. A tensor that feeds
  several layers (a skip connection) receives the sum of their gradients.
* Inputs are taken in `graph.inputs()` order. Outputs are the output ports of
  `graph.outputs()`, in that order (a Block output contributes each of its output ports).
* Weights are made once, seeded (`settings["seed"]`), in float32 (or float64), by
  `backends.initial_weights` (the Keras backend starts from the same ones). All trainable
  weights live in one flat array (`model.flat`), each layer's weights being views into it, and
  their gradients in a second one (`model.flat_grad`): the optimizer updates every weight with
  a handful of NumPy calls. State weights (BatchNormalization's moving statistics) live in
  `model.flat_state` and change only in training-mode forward passes. So do all the weights of
  a frozen layer (param `trainable` off): the optimizer never sees them, they get no gradient
  and no penalty (Keras regularises trainable weights only), and a frozen BatchNormalization
  runs in inference mode, as in Keras.
* `model.weights[node][name]`, `model.grads[node][name]` and `model.activations[node]` (the
  outputs of the last forward pass) are there for plots and statistics.
* An output layer with a softmax (sigmoid) activation keeps the activation outside its kernel
  (`Step.head`), so that a cross-entropy can work from the logits, as Keras does inside a
  model: `backward(..., logits=[True])` takes the gradient with respect to the logits
  (`model.logits[node]`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netdesigner.backends.data import Rows
from netdesigner.graph import Analysis, Graph
from netdesigner.graph.expand import DesignError, validated_flat

from ..initial_weights import initial_weights
from . import registry
from .layers.activations import activate, activate_grad

DEFAULT_DTYPE = np.float32

# Weights Keras regularises with the layer's l1/l2 (kernel_regularizer and its kin: never the
# biases, recurrent kernels or normalisation weights).
REGULARIZED = {
    "Dense": ("kernel",), "TimeDistributed": ("kernel",),
    "Conv1D": ("kernel",), "Conv2D": ("kernel",), "Conv2DTranspose": ("kernel",),
    "Conv1DTranspose": ("kernel",), "Conv3D": ("kernel",), "ConvLSTM2D": ("kernel",),
    "DepthwiseConv2D": ("kernel",),                          # depthwise_regularizer
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel"),
    "SimpleRNN": ("kernel",), "LSTM": ("kernel",), "GRU": ("kernel",),
    "Bidirectional": ("forward_kernel", "backward_kernel"),
    "Embedding": ("embeddings",),                            # embeddings_regularizer
    "MultiHeadAttention": ("query_kernel", "key_kernel", "value_kernel", "output_kernel"),
}

# Frozen layers of these types run in inference mode in training too (Keras: a
# BatchNormalization with trainable=False normalises with its moving statistics).
FROZEN_INFERENCE_TYPES = {"BatchNormalization"}

# Layers whose `activation` param is applied last to their output (and so can be moved out).
HEAD_TYPES = {"Dense", "TimeDistributed", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
              "Conv2DTranspose",
              "DepthwiseConv2D", "SeparableConv2D", "Activation"}
HEAD_ACTIVATIONS = {"softmax", "sigmoid"}


class CompileError(ValueError):
    """The network cannot be compiled; the message names every problem."""


@dataclass
class Step:
    """One node of the compiled network."""
    id: str
    type: str
    kernel: registry.Kernel | None          # None for Input nodes
    params: dict                            # full params (activation 'linear' if head is set)
    inputs: list                            # [(source node, source port)] in port order
    input_shapes: list
    output_shapes: list
    head: str | None = None                 # activation applied after the kernel
    weights: dict = field(default_factory=dict)       # name -> view (trainable and state)
    trainable: tuple = ()
    state: tuple = ()
    regularized: tuple = ()                 # (name, l1, l2)
    cache: object = None
    many_outputs: bool = False
    first: bool = False                     # fed by Input nodes only
    params_no_dx: dict | None = None        # params with NO_INPUT_GRAD, for `first` steps
    frozen: bool = False                    # trainable off: every weight is held like state
    inference_only: bool = False            # runs in inference mode even in training


class Model:
    """A compiled network. Build it with `compile_graph`."""

    def __init__(self, graph: Graph, steps: list, inputs: list, outputs: list, dtype,
                 seed: int, settings: dict):
        self.graph = graph
        self.steps = steps
        self.step = {s.id: s for s in steps}
        self.inputs = inputs                # Input node ids
        self.outputs = outputs              # [(node, port)]
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.settings = dict(settings)
        self.rng = np.random.default_rng([seed, 1])     # dropout, noise, sampling
        self.activations: dict[str, list] = {}
        self.logits: dict[str, np.ndarray] = {}
        self.logsumexp: dict[str, np.ndarray] = {}      # of softmax heads' logits
        self._added_grads: dict = {}                    # node -> gradient of its added loss
        self._float_input = {n: str(self.step[n].params.get("dtype", "float32")).startswith(
            "float") for n in inputs}
        # the Keras backend starts from the same draw (backends/initial_weights.py)
        self._allocate(initial_weights(graph, seed, self.dtype))

    # -- weights ----------------------------------------------------------------------------------
    def _allocate(self, initial: dict):
        made: dict[str, dict] = {}
        for key, w in initial.items():
            node, _, name = key.rpartition("/")
            made.setdefault(node, {})[name] = w
        sizes = [(n, k, w) for n, ws in made.items() for k, w in ws.items()]
        def held(n, k):
            return self.step[n].frozen or k in self.step[n].state
        trainable = [(n, k, w) for n, k, w in sizes if not held(n, k)]
        state = [(n, k, w) for n, k, w in sizes if held(n, k)]
        self.flat = np.zeros(sum(w.size for _, _, w in trainable), self.dtype)
        self.flat_grad = np.zeros_like(self.flat)
        self.flat_state = np.zeros(sum(w.size for _, _, w in state), self.dtype)
        self.weights: dict[str, dict] = {n: {} for n in made}
        self.grads: dict[str, dict] = {n: {} for n in made}
        self.slices: dict[tuple, slice] = {}            # (node, name) -> slice of flat
        views = {}
        offset = 0
        for n, k, w in trainable:
            sl = slice(offset, offset + w.size)
            self.flat[sl] = w.ravel()
            views[(n, k)] = self.flat[sl].reshape(w.shape)
            self.grads[n][k] = self.flat_grad[sl].reshape(w.shape)
            self.slices[(n, k)] = sl
            offset += w.size
        offset = 0
        for n, k, w in state:
            sl = slice(offset, offset + w.size)
            self.flat_state[sl] = w.ravel()
            views[(n, k)] = self.flat_state[sl].reshape(w.shape)
            offset += w.size
        for n, ws in made.items():                       # Keras order within each layer
            for k in ws:
                self.weights[n][k] = views[(n, k)]
            self.step[n].weights = self.weights[n]
        self.grads = {n: g for n, g in self.grads.items() if g}

    def weight_list(self) -> list[tuple[str, str, np.ndarray]]:
        """(node, name, array) for every weight, layer by layer in Keras order."""
        return [(n, k, w) for n, ws in self.weights.items() for k, w in ws.items()]

    def get_weights(self) -> dict:
        """A copy of every weight: {"node/name": array}."""
        return {f"{n}/{k}": w.copy() for n, k, w in self.weight_list()}

    def set_weights(self, values: dict, strict: bool = True) -> None:
        """Load weights from {"node/name": array} (or {node: {name: array}})."""
        flat_values = {}
        for key, v in values.items():
            if isinstance(v, dict):
                flat_values.update({f"{key}/{k}": a for k, a in v.items()})
            else:
                flat_values[key] = v
        mine = {f"{n}/{k}": w for n, k, w in self.weight_list()}
        if strict:
            missing = sorted(set(mine) - set(flat_values))
            extra = sorted(set(flat_values) - set(mine))
            if missing or extra:
                raise ValueError("the weights do not fit this network: "
                                 + "; ".join(filter(None, [
                                     f"missing {', '.join(missing)}" if missing else "",
                                     f"unknown {', '.join(extra)}" if extra else ""])))
        for key, v in flat_values.items():
            if key not in mine:
                continue
            v = np.asarray(v)
            if v.shape != mine[key].shape:
                raise ValueError(f"weight {key} has shape {v.shape}, the network needs "
                                 f"{mine[key].shape}")
            np.copyto(mine[key], v, casting="unsafe")

    def snapshot(self) -> tuple:
        """A cheap copy of all weights (trainable and state), for `restore`."""
        return self.flat.copy(), self.flat_state.copy()

    def restore(self, snap: tuple) -> None:
        np.copyto(self.flat, snap[0])
        np.copyto(self.flat_state, snap[1])

    @property
    def count_params(self) -> int:
        return int(self.flat.size + self.flat_state.size)

    # -- running ----------------------------------------------------------------------------------
    def _as_inputs(self, inputs) -> list:
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.inputs]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        if len(inputs) != len(self.inputs):
            raise ValueError(f"the network has {len(self.inputs)} inputs "
                             f"({', '.join(self.inputs)}) but got {len(inputs)} arrays")
        out = []
        for n, x in zip(self.inputs, inputs):
            if isinstance(x, Rows):         # streamed from disk: read batch by batch
                out.append(x)
                continue
            x = np.asarray(x)
            if x.dtype != self.dtype and self._float_input[n] and (
                    x.dtype.kind in "fb" or x.dtype.kind in "iu"):
                x = x.astype(self.dtype)
            out.append(x)
        return out

    def forward(self, inputs, training: bool = False, update_state: bool = True,
                input_grads: bool = True) -> list:
        """Run the network; returns one array per output. `inputs`: one array, a list in
        `model.inputs` order, or {input node: array}. In training mode dropout and noise are
        drawn and BatchNormalization uses (and, with `update_state`, updates) batch statistics.
        `input_grads=False`: the next `backward` need not return the inputs' gradients (their
        first layers then skip computing them).
        """
        xs = self._as_inputs(inputs)
        self._added_grads.clear()            # they belong to the previous pass
        values = {}
        acts = self.activations
        feed = dict(zip(self.inputs, xs))
        rng = self.rng
        for s in self.steps:
            if s.kernel is None:
                x = feed[s.id]
                values[(s.id, 0)] = x
                acts[s.id] = [x]
                continue
            kernel = s.kernel
            if kernel.many_inputs:
                x = [values[r] for r in s.inputs]
            else:
                x = values[s.inputs[0]]
            params = s.params_no_dx if (s.first and not input_grads) else s.params
            here = training and not s.inference_only
            if kernel.random:
                y, cache = kernel.forward(x, s.weights, params, here, rng=rng)
            else:
                y, cache = kernel.forward(x, s.weights, params, here)
            s.cache = cache
            if isinstance(y, list):
                s.many_outputs = True
                outs = y
            else:
                s.many_outputs = False
                if s.head is not None:
                    self.logits[s.id] = y
                    y = self._head(s, y)
                outs = [y]
            for port, o in enumerate(outs):
                values[(s.id, port)] = o
            acts[s.id] = outs
            if here and update_state and s.state and isinstance(cache, dict):
                for k, v in cache.get("updates", {}).items():
                    np.copyto(s.weights[k], v)
        return [values[r] for r in self.outputs]

    def _head(self, s: Step, z: np.ndarray) -> np.ndarray:
        if s.head == "softmax":            # as activations.softmax, keeping log(sum(exp(z)))
            m = z.max(axis=-1, keepdims=True)
            e = np.exp(z - m)
            total = e.sum(axis=-1, keepdims=True)
            self.logsumexp[s.id] = (m + np.log(total))[..., 0]
            e /= total
            return e
        return activate(s.head, z)

    def __call__(self, inputs, training: bool = False) -> list:
        return self.forward(inputs, training)

    def backward(self, douts: list, logits=None, added: bool = True,
                 output_grads: dict | None = None) -> list:
        """Gradients from the outputs back to the inputs, after a `forward` pass.

        `douts`: one gradient per output (None: that output is not used). `logits[i]` True
        means douts[i] is the gradient with respect to the logits behind output i's softmax or
        sigmoid head. Fills `model.grads` (zero for weights nothing reached) and returns the
        gradient of every input (None for integer inputs, and for all inputs when the forward
        pass had `input_grads=False`). With `added` (the default), the gradients of the loss
        terms the layers add (`added_loss`) are included. `output_grads`, when given, receives
        each node's gradient with respect to its outputs (a list, one per output port; None
        where nothing reached it), as a trace of one sample shows them."""
        self.flat_grad.fill(0)
        grad: dict = {}
        direct: dict = {}                                  # node -> d logits
        logits = logits or [False] * len(self.outputs)
        for ref, d, is_logit in zip(self.outputs, douts, logits):
            if d is None:
                continue
            if is_logit:
                if self.step[ref[0]].head is None:
                    raise ValueError(f"output {ref[0]} has no softmax/sigmoid head")
                direct[ref[0]] = d if ref[0] not in direct else direct[ref[0]] + d
            else:
                grad[ref] = d if ref not in grad else grad[ref] + d
        for s in reversed(self.steps):
            if s.kernel is None:
                continue
            n = s.id
            if s.many_outputs:
                dys = [grad.pop((n, p), None) for p in range(len(self.activations[n]))]
                if all(d is None for d in dys):
                    continue
                outs = self.activations[n]
                dy = [np.zeros_like(o) if d is None else d for o, d in zip(outs, dys)]
                if output_grads is not None:
                    output_grads[n] = list(dys)
            else:
                dy = grad.pop((n, 0), None)
                if output_grads is not None:
                    output_grads[n] = [dy]
                if s.head is not None:
                    if dy is not None:
                        dy = activate_grad(s.head, dy, self.logits[n], self.activations[n][0])
                    if n in direct:
                        dy = direct[n] if dy is None else dy + direct[n]
                if dy is None:
                    if not (added and s.kernel.added_loss is not None):
                        continue
                    dy = np.zeros_like(self.activations[n][0])
            dx, wgrads = s.kernel.backward(dy, s.cache)
            if added and s.kernel.added_loss is not None:
                dx = _plus(dx, self._added_grad(s), s.kernel.many_inputs)
            mine = self.grads.get(n)
            if mine:
                for k, g in wgrads.items():
                    if k in mine:
                        np.copyto(mine[k], g, casting="unsafe")
            dxs = dx if s.kernel.many_inputs else [dx]
            for ref, d in zip(s.inputs, dxs):
                if d is None:
                    continue
                grad[ref] = d if ref not in grad else grad[ref] + d
        if output_grads is not None:
            for n in self.inputs:
                output_grads[n] = [grad.get((n, 0))]
        return [grad.get((n, 0)) for n in self.inputs]

    def predict(self, inputs, batch_size: int = 1024) -> list:
        """Inference in chunks; one array per output."""
        xs = self._as_inputs(inputs)
        n = len(xs[0])
        if n <= batch_size:
            return [o.copy() for o in self.forward([x[:n] for x in xs], training=False)]
        parts = []
        for start in range(0, n, batch_size):
            parts.append([o.copy() for o in
                          self.forward([x[start:start + batch_size] for x in xs], False)])
        return [np.concatenate(p) for p in zip(*parts)]

    # -- loss terms added by layers (a VAE's KL divergence, activity penalties) --------------------
    @property
    def adds_loss(self) -> bool:
        return any(s.kernel is not None and s.kernel.added_loss is not None for s in self.steps)

    def added_loss(self) -> float:
        """The sum of the loss terms the layers added on the last forward pass (Keras:
        `model.losses`, apart from the weight penalties)."""
        total = 0.0
        for s in self.steps:
            if s.kernel is not None and s.kernel.added_loss is not None:
                value, grad = s.kernel.added_loss(s.cache, s.params)
                self._added_grads[s.id] = grad      # kept for `backward`: computed once
                total += value
        return total

    def _added_grad(self, s: Step):
        if s.id in self._added_grads:
            return self._added_grads.pop(s.id)
        return s.kernel.added_loss(s.cache, s.params)[1]

    # -- regularisation ---------------------------------------------------------------------------
    def penalty(self) -> float:
        """The L1/L2 penalty of the current weights (Keras adds it to the loss)."""
        from .optimizers import penalty
        return sum(penalty(s.weights[k], l1, l2) for s in self.steps
                   for k, l1, l2 in s.regularized)

    def add_penalty_grads(self) -> None:
        from .optimizers import add_penalty_grad
        for s in self.steps:
            for k, l1, l2 in s.regularized:
                add_penalty_grad(self.grads[s.id][k], s.weights[k], l1, l2)

    @property
    def regularized(self) -> bool:
        return any(s.regularized for s in self.steps)

    def heads(self) -> list:
        """For each output: the softmax/sigmoid applied outside its kernel, or None."""
        return [self.step[n].head if p == 0 and not self.step[n].many_outputs else None
                for n, p in self.outputs]

    def summary(self) -> str:
        lines = [f"{'layer':<24} {'type':<20} {'output':<18} params"]
        for s in self.steps:
            size = sum(w.size for w in s.weights.values())
            lines.append(f"{s.id:<24} {s.type:<20} {str(s.output_shapes[0]):<18} {size}")
        lines.append(f"total {self.count_params} ({self.flat.size} trainable)")
        return "\n".join(lines)


def _plus(dx, extra, many: bool):
    """dx + the gradient of an added loss term (None: no term)."""
    if extra is None:
        return dx
    if not many:
        return extra if dx is None else dx + extra
    return [e if d is None else (d if e is None else d + e) for d, e in zip(dx, extra)]


# -- compiling ------------------------------------------------------------------------------------

def compile_graph(graph: Graph, settings: dict | None = None, dtype=DEFAULT_DTYPE,
                  seed: int | None = None, fuse_heads: bool = True) -> Model:
    """Compile a design (blocks allowed) into a NumPy `Model`.

    Refuses, with a `CompileError` naming every problem, a graph that does not validate or
    holds a layer type without a NumPy kernel. `settings` default to `graph.training`; the seed
    comes from them unless given. `fuse_heads=False` keeps softmax/sigmoid inside the kernels.
    """
    settings = dict(graph.training if settings is None else settings)
    seed = int(settings.get("seed", 0) if seed is None else seed)
    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise CompileError(f"dtype must be float32 or float64, not {np.dtype(dtype)}")
    try:
        flat, source_of = validated_flat(graph)
    except DesignError as e:
        raise CompileError(str(e)) from None
    analysis = Analysis(flat, live=False)
    missing = []
    for n in flat.nodes():
        t = flat.node(n).type
        if t != "Input":
            try:
                registry.get(t)
            except KeyError as e:
                missing.append(f"  {n}: {e.args[0]}")
    for n in flat.nodes():
        node = flat.node(n)
        if node.type == "Embedding" and node.params.get("mask_zero"):
            # Keras hands the padding mask to the layers after the Embedding (RNNs then skip
            # padded steps); these kernels have no masks, so the results would differ quietly
            missing.append(f"  {n}: mask_zero is not supported by the NumPy backend (it has no "
                           f"padding masks): turn mask_zero off or train with Keras")
    if missing:
        raise CompileError("the NumPy backend cannot run every layer:\n" + "\n".join(missing))

    outputs = []
    for o in graph.outputs():
        for port in range(graph.output_count(o)):
            outputs.append(source_of[(o, port)])
    output_nodes = {n for n, _ in outputs}
    steps = []
    for n in flat.topological_order():
        node = flat.node(n)
        report = analysis.report(n)
        inputs = [(e.source, e.source_port) for e in flat.in_edges(n)]
        if node.type == "Input":
            steps.append(Step(n, "Input", None, dict(node.params), [], [],
                              list(report.outputs)))
            continue
        kernel = registry.get(node.type)
        params = registry.full_params(node.type, node.params)
        head = None
        if (fuse_heads and n in output_nodes and node.type in HEAD_TYPES
                and params.get("activation") in HEAD_ACTIVATIONS
                and not flat.out_edges(n)):
            head = params["activation"]
            params = dict(params, activation="linear")
        regs = ()
        frozen = params.get("trainable") is False
        l1, l2 = float(params.get("l1", 0) or 0), float(params.get("l2", 0) or 0)
        if (l1 or l2) and node.type in REGULARIZED and not frozen:
            regs = tuple((k, l1, l2) for k in REGULARIZED[node.type])
        first = all(flat.node(src).type == "Input" for src, _ in inputs)
        steps.append(Step(n, node.type, kernel, params, inputs, list(report.inputs or []),
                          list(report.outputs), head, state=kernel.state, regularized=regs,
                          first=first, params_no_dx=dict(params, **{registry.NO_INPUT_GRAD:
                                                                     True}),
                          frozen=frozen,
                          inference_only=frozen and node.type in FROZEN_INFERENCE_TYPES))
    model = Model(flat, steps, list(graph.inputs()), outputs, dtype, seed, settings)
    for s in steps:                      # regularised weights that this layer really has
        s.regularized = tuple(r for r in s.regularized if r[0] in s.weights)
        s.trainable = () if s.frozen else tuple(k for k in s.weights if k not in s.state)
    return model
