"""The parity inspector: the NumPy and Keras backends on the same weights and the same batch.

Both backends compile the design; the Keras model gets the NumPy model's weights (random, or
the project's trained ones); one batch goes forward and, for the loss sum(output * r) with a
fixed random r, backward. Per node, the largest absolute and relative differences of the
outputs and of the gradients (every weight, and the inputs) are reported, and nodes over the
tolerance are flagged. A disagreement points at the layer whose NumPy kernel (or Keras builder)
is wrong.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# A tensor agrees when its largest difference is at most ATOL, or at most RTOL times its largest
# magnitude. float32 sums over thousands of terms (a convolution's weight gradient) carry ~1e-4
# of the tensor's scale as noise (1.8e-5 on a SeparableConv2D gradient of order 0.1); a wrong
# kernel is off by far more (a 1 % error in one weight's gradient is 1e-2).
RTOL = 1e-3          # times the tensor's largest magnitude
ATOL = 1e-5


@dataclass
class NodeParity:
    node: str
    type: str
    output_abs: float = 0.0
    output_rel: float = 0.0
    grad_abs: float = 0.0
    grad_rel: float = 0.0
    weights: list = field(default_factory=list)      # weight names compared

    @property
    def ok(self) -> bool:
        return _within(self.output_abs, self.output_rel) and _within(self.grad_abs,
                                                                       self.grad_rel)


@dataclass
class ParityReport:
    nodes: list
    batch: int

    @property
    def ok(self) -> bool:
        return all(n.ok for n in self.nodes)

    def failed(self) -> list:
        return [n for n in self.nodes if not n.ok]

    def table(self) -> str:
        rows = [("node", "type", "output |d|", "rel", "gradient |d|", "rel", "")]
        for n in self.nodes:
            rows.append((n.node, n.type, f"{n.output_abs:.2e}", f"{n.output_rel:.2e}",
                         f"{n.grad_abs:.2e}", f"{n.grad_rel:.2e}",
                         "ok" if n.ok else "OVER TOLERANCE"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                         for r in rows)


def _within(abs_diff: float, rel_diff: float) -> bool:
    """Within tolerance as np.allclose, but scaled by the whole tensor: the largest difference
    is at most ATOL, or at most RTOL times the tensor's largest magnitude (`_diff`'s rel).
    float32 noise grows with a tensor's magnitude, not with each entry's: a gradient of order
    0.1 carries ~1e-5 of noise even on its entries near 0."""
    return abs_diff <= ATOL or rel_diff <= RTOL


def _diff(a, b) -> tuple[float, float]:
    """(largest |a - b|, largest |a - b| / largest |a| or |b|) of two tensors."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf"), float("inf")
    d = np.abs(a - b)
    if d.size == 0:
        return 0.0, 0.0
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        same = np.array_equal(a, b, equal_nan=True)
        return (0.0, 0.0) if same else (float("inf"), float("inf"))
    scale = float(np.maximum(np.abs(a), np.abs(b)).max())
    worst = float(d.max())
    return worst, (worst / scale if scale > 0 else 0.0)


def probe_inputs(model, batch: int, rng: np.random.Generator) -> list:
    """A random batch for every Input: floats ~N(0,1), token ids below every Embedding's
    vocabulary for integer inputs, unknown lengths set to 5."""
    graph = model.graph
    xs = []
    for n in model.inputs:
        params = graph.node(n).params
        shape = tuple(5 if d is None else d for d in params["shape"])
        if str(params.get("dtype", "float32")).startswith("int"):
            vocab = min([graph.node(e.target).params.get("input_dim", 10)
                         for e in graph.out_edges(n)] or [10])
            xs.append(rng.integers(0, vocab, (batch,) + shape).astype(np.int32))
        else:
            xs.append(rng.standard_normal((batch,) + shape).astype(model.dtype))
    return xs


def probe_model(k_model, nodes: list):
    """A model with the same inputs whose outputs are every node's outputs, then the model's
    own: (probe, taps, slots), slots[node] = (first tap, how many)."""
    import keras
    taps, slots = [], {}
    for n in nodes:
        out = k_model.get_layer(n).output
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        slots[n] = (len(taps), len(out))
        taps.extend(out)
    return keras.Model(k_model.inputs, taps + list(k_model.outputs)), taps, slots


def check(graph, weights: str | None = None, batch: int = 4, seed: int = 0) -> ParityReport:
    """Compare the two backends node by node (see the module docstring)."""
    import tensorflow as tf

    from netdesigner.graph.expand import expand_blocks

    from .keras.compiler import build_model
    from .numpy.model import compile_graph
    from .numpy.weights import load_npz, to_keras

    flat = expand_blocks(graph)
    np_model = compile_graph(flat, dict(graph.training))
    if weights:
        load_npz(np_model, weights)
    k_model = build_model(flat)
    to_keras(np_model, k_model)
    rng = np.random.default_rng(seed)
    xs = probe_inputs(np_model, batch, rng)

    # NumPy: forward, then backward of sum(output * r) (+ the losses the model adds)
    outs = np_model.forward(xs, training=False)
    rs = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
    # the loss terms layers add (a VAE's KL divergence) are part of both gradients
    np_input_grads = np_model.backward(rs)
    if np_model.regularized:          # Keras's model.losses hold the weight penalties too
        np_model.add_penalty_grads()

    # Keras: every node's outputs, and the same gradient through a tape
    nodes = [n for n in flat.nodes() if flat.node(n).type != "Input"]
    probe, taps, slots = probe_model(k_model, nodes)
    tensors = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for t in tensors:
            if t.dtype.is_floating:
                tape.watch(t)
        values = probe(tensors, training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        final = values[len(taps):]
        loss = tf.add_n([tf.reduce_sum(tf.cast(f, tf.float64) * r.astype(np.float64))
                         for f, r in zip(final, rs)]
                        + [tf.cast(term, tf.float64) for term in probe.losses])
    variables = {n: list(k_model.get_layer(n).weights) for n in np_model.weights}
    flat_vars = [v for vs in variables.values() for v in vs]
    grads = tape.gradient(loss, flat_vars + [t for t in tensors if t.dtype.is_floating])
    # embeddings get sparse gradients (IndexedSlices): make them dense to compare
    grads = [None if g is None else tf.convert_to_tensor(g) for g in grads]
    k_weight_grads = dict(zip([id(v) for v in flat_vars], grads[:len(flat_vars)]))
    k_input_grads = iter(grads[len(flat_vars):])

    report = []
    for n in nodes:
        start, count = slots[n]
        entry = NodeParity(n, flat.node(n).type)
        for mine, theirs in zip(np_model.activations[n], values[start:start + count]):
            a, r = _diff(mine, np.asarray(theirs))
            entry.output_abs, entry.output_rel = max(entry.output_abs, a), max(entry.output_rel, r)
        names = list(np_model.weights.get(n, {}))
        for name, var in zip(names, variables.get(n, [])):
            mine = np_model.grads.get(n, {}).get(name)
            theirs = k_weight_grads.get(id(var))
            if mine is None or theirs is None:
                continue                  # statistics (moving mean/variance) have no gradient
            a, r = _diff(mine, np.asarray(theirs))
            entry.grad_abs, entry.grad_rel = max(entry.grad_abs, a), max(entry.grad_rel, r)
            entry.weights.append(name)
        report.append(entry)
    for n, mine in zip(np_model.inputs, np_input_grads):
        entry = NodeParity(n, "Input")
        if mine is not None and np.issubdtype(np.asarray(xs[np_model.inputs.index(n)]).dtype,
                                              np.floating):
            entry.grad_abs, entry.grad_rel = _diff(mine, np.asarray(next(k_input_grads)))
        report.insert(0, entry)
    return ParityReport(report, batch)
