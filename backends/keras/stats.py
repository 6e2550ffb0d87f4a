"""Per-layer statistics of a Keras model for the protocol's `layer_stats` events.

A `LayerProbe` holds a fixed probe batch (the first samples of the training data). Every
`stats_every` batches the training callback asks it for one report: one compiled TensorFlow
function runs the whole network on the probe batch in training mode — every layer's output at
once, through a second functional model over the same layers — and differentiates the loss (with
the weight penalties) with respect to every trainable weight. It runs through `stateless_call`,
so it changes nothing: BatchNormalization's moving statistics, dropout's random state and the
optimizer are left exactly as training had them.

The function hands back three flat vectors (every layer's output, every gradient, every weight,
each concatenated), and the statistics of all tensors are computed together with a handful of
vectorised NumPy operations (`segment_stats`): the numbers and histograms of
`protocol.activation_stats` / `gradient_stats` / `weight_stats` — same fields, same bins and
edges, NumPy's histogram algorithm — without one NumPy call per tensor. Layer outputs larger than
`MAX_VALUES` values are summarised from an evenly strided sample (as the NumPy backend does);
gradients and weights are summarised in full.

Costs one forward and backward pass on the probe batch (`PROBE_SIZE` samples, half a default
batch) per report (`fetch`); the NumPy half (`summarise`, `feature_images`) touches no
TensorFlow object, so the training callback runs it in a thread while the next training step
runs (see `backends.keras.stream.StreamState`, and `bench/designer_overhead.py` for the cost).
"""
from __future__ import annotations

import numpy as np

from netdesigner.backends import protocol

from .weights import layer_weight_names

PROBE_SIZE = 16             # samples in the probe batch (at most the training batch size)
MAX_VALUES = 8_192          # values of one layer output summarised (an evenly strided sample)
BINS = protocol.HISTOGRAM_BINS


def segment_stats(flat: np.ndarray, sizes, bins: int = BINS) -> dict:
    """Statistics of consecutive segments of `flat` (one per tensor), all at once.

    Returns arrays over the segments: n, mean, std, zeros (fraction), norm, mean_abs, and the
    histogram of each segment's finite values as protocol.histogram makes it: `lo`, `hi` (the
    range, widened by 0.5 on each side when all values are equal; NaN when there is no finite
    value), `edges` (segments x bins+1) and `counts` (segments x bins), binned with NumPy's own
    algorithm for equal bins (so the counts are those of numpy.histogram)."""
    v = np.asarray(flat, dtype=np.float64).reshape(-1)
    sizes = np.asarray(sizes, dtype=np.int64).reshape(-1)
    k = len(sizes)
    out = {"n": sizes}
    if k == 0:
        return out
    nonempty = sizes > 0
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])[nonempty]
    n = np.maximum(sizes, 1).astype(np.float64)

    def per(values):
        total = np.zeros(k)
        if len(starts):
            total[nonempty] = np.add.reduceat(values, starts)
        return total

    def rep(values):
        return np.repeat(values, sizes)

    sq = v * v
    mean = per(v) / n
    out["mean"] = mean
    # E[x^2] - E[x]^2 in float64: as exact as the display needs, one pass fewer
    out["std"] = np.sqrt(np.maximum(per(sq) / n - mean * mean, 0.0))
    out["zeros"] = per((v == 0.0).astype(np.float64)) / n
    out["norm"] = np.sqrt(per(sq))
    out["mean_abs"] = per(np.abs(v)) / n
    finite = np.isfinite(v)
    all_finite = bool(finite.all())
    lo = np.full(k, np.inf)
    hi = np.full(k, -np.inf)
    if all_finite:
        if len(starts):
            lo[nonempty] = np.minimum.reduceat(v, starts)
            hi[nonempty] = np.maximum.reduceat(v, starts)
    else:
        seg = np.repeat(np.arange(k), sizes)
        np.minimum.at(lo, seg, np.where(finite, v, np.inf))
        np.maximum.at(hi, seg, np.where(finite, v, -np.inf))
    empty = ~np.isfinite(lo)
    same = (lo == hi) & ~empty
    lo = np.where(same, lo - 0.5, lo)
    hi = np.where(same, hi + 0.5, hi)
    lo_s, hi_s = np.where(empty, 0.0, lo), np.where(empty, 1.0, hi)
    # numpy.histogram with equal bins: edges by linspace, each value's bin by scaling, then
    # corrected against the edges themselves (only values next to an edge can need it)
    step = (hi_s - lo_s) / bins
    edges = np.arange(bins + 1)[None, :] * step[:, None] + lo_s[:, None]
    edges[:, -1] = hi_s
    norm = bins / (hi_s - lo_s)
    lo_r = rep(lo_s)
    f = (v - lo_r) * rep(norm) if all_finite else (np.where(finite, v, lo_r) - lo_r) * rep(norm)
    idx = f.astype(np.intp)
    idx[idx == bins] -= 1
    frac = f - idx
    near = np.flatnonzero((frac < 1e-6) | (frac > 1 - 1e-6))
    if len(near):
        seg_near = np.searchsorted(np.cumsum(sizes), near, side="right")
        flat_edges = edges.reshape(-1)
        base = seg_near * (bins + 1)
        i = idx[near]
        x = v[near]
        i = i - (x < flat_edges[base + i])
        i = i + ((x >= flat_edges[base + i + 1]) & (i != bins - 1))
        idx[near] = i
    seg_bins = rep(np.arange(k) * bins)
    keys = seg_bins + idx if all_finite else np.where(finite, seg_bins + idx, k * bins)
    counts = np.bincount(keys, minlength=k * bins + 1)[:k * bins].reshape(k, bins)
    out.update(lo=np.where(empty, np.nan, lo), hi=np.where(empty, np.nan, hi), edges=edges,
               counts=counts, empty=empty)
    return out


def _histogram(stats: dict, i: int) -> dict:
    if stats["empty"][i]:
        return {"counts": [], "edges": []}
    return {"counts": stats["counts"][i].tolist(), "edges": stats["edges"][i].tolist()}


class LayerProbe:
    """Activations, gradients and weights of `model` on a fixed probe batch.

    `loss_fn(y_true_list, y_pred_list)` -> scalar loss (summed over the outputs). `xs`, `ys`:
    lists of arrays (one per input / output), already cut to the probe batch.
    """

    def __init__(self, model, loss_fn, xs: list, ys: list):
        import keras
        import tensorflow as tf

        self.model = model
        self.nodes: list[str] = [layer.name for layer in model.layers]
        outputs = []
        index: dict[int, int] = {}            # id(tensor) -> position in `outputs`
        first = []                            # the first output of each layer is summarised
        for layer in model.layers:
            out = layer.output
            tensors = list(out) if isinstance(out, (list, tuple)) else [out]
            first.append(len(outputs))
            for t in tensors:
                index.setdefault(id(t), len(outputs))
                outputs.append(t)
        heads = [index[id(t)] for t in model.outputs]
        inputs = model.inputs if len(model.inputs) > 1 else model.inputs[0]
        self.wide = keras.Model(inputs, outputs, name=f"{model.name}_probe")
        wide = self.wide
        trainable = list(wide.trainable_variables)
        non_trainable = list(wide.non_trainable_variables)
        self._grad_owner = self._owners(model, trainable)
        weights = [(layer, name, v) for layer in model.layers
                   for name, v in zip(layer_weight_names(layer), layer.weights)]
        self._weight_owner = [(layer.name, name) for layer, name, _ in weights]
        weight_vars = [v for _, _, v in weights]
        self.xs = [tf.convert_to_tensor(x) for x in xs]
        self.ys = [tf.convert_to_tensor(y) for y in ys]
        self._sizes: dict = {}
        present: list = []
        self._grad_present = present
        sizes = self._sizes

        def flat(t, cap=None):
            v = tf.reshape(tf.cast(t, tf.float32), [-1])
            n = v.shape[0]
            if cap is not None:
                if n is None:
                    total = tf.size(v)
                    v = v[::tf.maximum(1, -(-total // cap))]
                elif n > cap:
                    v = v[::-(-n // cap)]
            return v

        @tf.function
        def run():
            xs, ys = self.xs, self.ys
            # plain tensors (under a tf.distribute strategy: this replica's copy)
            values = [tf.identity(v.value) for v in trainable]
            states = [tf.identity(v.value) for v in non_trainable]
            with tf.GradientTape() as tape:
                tape.watch(values)
                outs, _, losses = wide.stateless_call(
                    values, states, xs if len(xs) > 1 else xs[0], training=True,
                    return_losses=True)
                outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
                preds = [tf.cast(outs[i], tf.float32) for i in heads]
                loss = loss_fn(ys, preds)
                if losses:
                    loss = loss + tf.add_n([tf.cast(l, loss.dtype) for l in losses])
            grads = tape.gradient(loss, values)
            present[:] = [g is not None for g in grads]
            acts = [flat(outs[i], MAX_VALUES) for i in first]
            gs = [flat(g) for g in grads if g is not None]
            ws = [flat(tf.identity(v.value)) for v in weight_vars]
            sizes["grads"] = [int(t.shape[0]) for t in gs]      # weights: static shapes
            sizes["weights"] = [int(t.shape[0]) for t in ws]
            return tf.concat(acts + gs + ws, 0), tf.stack([tf.size(a) for a in acts])

        self._run = run
        self._concrete = None      # after the first report: the traced function, called directly
        self._first_index = {i: name for i, name in zip(first, self.nodes)}  # output -> node
        self._image_layers = None

    @staticmethod
    def _owners(model, variables) -> list:
        """(node, weight name) of each variable, by identity."""
        where = {}
        for layer in model.layers:
            for v, name in zip(layer.weights, layer_weight_names(layer)):
                where.setdefault(id(v), (layer.name, name))
        return [where.get(id(v), (v.path.split("/")[0], v.name)) for v in variables]

    def feature_maps(self) -> dict:
        """Channel images of the probe's first sample for the layers whose outputs are images
        (height, width, channels), in inference mode (as the NumPy backend sends them)."""
        return self.feature_images(self.feature_arrays())

    @staticmethod
    def feature_images(arrays: dict) -> dict:
        """The protocol's images of `feature_arrays()` (NumPy only: may run in a thread)."""
        from netdesigner.backends import protocol
        return {node: protocol.feature_map_images(a) for node, a in arrays.items()}

    def feature_arrays(self) -> dict:
        """node -> the probe's first sample's (height, width, channels) output (TensorFlow)."""
        if self._image_layers is None:
            import keras
            import tensorflow as tf
            self._image_layers = [i for i, t in enumerate(self.wide.outputs)
                                  if len(t.shape) == 4 and i in self._first_index]
            if self._image_layers:
                # only the image layers, traced once: an eager call of the whole probe model
                # cost more than the statistics themselves
                images = keras.Model(self.wide.inputs,
                                     [self.wide.outputs[i] for i in self._image_layers])
                first = [x[:1] for x in self.xs]
                first = first if len(first) > 1 else first[0]
                self._maps_fn = tf.function(lambda: images(first, training=False))
        if not self._image_layers:
            return {}
        outs = self._maps_fn()
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        return {self._first_index[i]: np.asarray(o)[0] for i, o in zip(self._image_layers, outs)}

    def report(self) -> tuple[dict, dict, dict]:
        """(activations, gradients, weights) summaries, as protocol.layer_stats takes them."""
        return self.summarise(*self.fetch())

    def fetch(self) -> tuple[np.ndarray, np.ndarray]:
        """The TensorFlow half of a report: run the probe, bring the values back."""
        if self._concrete is None:
            values, act_sizes = self._run()
            self._concrete = self._run.get_concrete_function()
        else:
            values, act_sizes = self._concrete()
        return values.numpy(), act_sizes.numpy()

    def summarise(self, values: np.ndarray, act_sizes: np.ndarray) -> tuple[dict, dict, dict]:
        """The NumPy half of a report (touches no TensorFlow object: may run in a thread)."""
        na, ng = len(act_sizes), len(self._sizes["grads"])
        stats = segment_stats(values, np.concatenate(
            [act_sizes, self._sizes["grads"], self._sizes["weights"]]).astype(np.int64))
        summaries = []
        for i in range(len(stats["n"])):
            hist = _histogram(stats, i)
            if i < na:
                summaries.append({"mean": float(stats["mean"][i]), "std": float(stats["std"][i]),
                                  "zeros": float(stats["zeros"][i]), "histogram": hist})
            elif i < na + ng:
                summaries.append({"norm": float(stats["norm"][i]),
                                  "mean_abs": float(stats["mean_abs"][i]), "histogram": hist})
            else:
                summaries.append({"norm": float(stats["norm"][i]), "histogram": hist})
        activations = dict(zip(self.nodes, summaries[:na]))
        owners = [o for o, ok in zip(self._grad_owner, self._grad_present) if ok]
        gradients: dict = {}
        for (node, name), s in zip(owners, summaries[na:na + ng]):
            gradients.setdefault(node, {})[name] = s
        weight_stats: dict = {}
        for (node, name), s in zip(self._weight_owner, summaries[na + ng:]):
            weight_stats.setdefault(node, {})[name] = s
        return activations, gradients, weight_stats
