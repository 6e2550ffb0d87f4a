"""Normalization layers' statistics, fitted on the training split before training.

A Normalization layer learns nothing: its mean and variance (one per feature of its axis)
are measured on the training data before the first step, as Keras's `layer.adapt(x_train)`
does, then travel as non-trainable weights (`node/mean`, `node/variance`, `node/count`): they
are saved in the weights file, exported, and imported with a Keras model.

    fitted = fit_statistics(flat, x_train, features, given)     # {"node/mean": array, ...}

Both backends call it with their own `features(node, fitted_so_far)`, which computes a
Normalization's input on the training data (chunk by chunk) when something sits between it and
an Input; a Normalization fed by an Input reads the training arrays directly. Statistics that
come with the starting weights (an imported model's adapted ones, a run that continues from
saved weights) are kept: `given_statistics` names those nodes.

Pure NumPy: importing this module loads no TensorFlow.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from netdesigner.graph import Analysis
from netdesigner.graph.layers.preprocessing import normalization_axis

from .weights_file import read_npz

#: samples per chunk while measuring (bounded memory for big data sets)
CHUNK = 4096


def normalization_nodes(flat) -> list[str]:
    """The Normalization nodes of a flat design, in topological order."""
    return [n for n in flat.topological_order() if flat.node(n).type == "Normalization"]


def given_statistics(flat, initial_weights=None, weights_in=None) -> set[str]:
    """Normalization nodes whose statistics come with the starting weights."""
    nodes = normalization_nodes(flat)
    if not nodes:
        return set()
    keys: set[str] = set()
    if isinstance(initial_weights, dict):
        for key, value in initial_weights.items():
            keys |= ({f"{key}/{k}" for k in value} if isinstance(value, dict) else {key})
    if weights_in:
        if str(weights_in).endswith(".weights.h5"):      # Keras's own file: every weight
            return set(nodes)
        if isinstance(weights_in, dict):
            keys |= set(weights_in)
        elif Path(weights_in).exists():
            keys |= set(read_npz(weights_in))
    return {n for n in nodes if f"{n}/mean" in keys}


def chunks(x, size: int = CHUNK):
    """Consecutive slices of `x` along the samples."""
    for start in range(0, len(x), size):
        yield x[start:start + size]


def moments(batches, params: dict) -> dict:
    """{"mean", "variance", "count"} of the values in `batches` (arrays with the batch axis
    first), per entry of the Normalization's kept axis: the population variance, as Keras's
    adapt() computes it. Sums are taken in float64 and shifted by the first chunk's mean, so
    large offsets lose no precision."""
    total = shift = None
    n = 0
    for b in batches:
        b = np.asarray(b, np.float64)
        kept = normalization_axis(params, b.ndim - 1)
        axes = tuple(range(b.ndim)) if kept is None else tuple(
            a for a in range(b.ndim) if a != kept + 1)
        if shift is None:
            shift = b.mean(axis=axes)
            total, squares = np.zeros_like(shift), np.zeros_like(shift)
        shape = [1] * b.ndim
        if kept is not None:
            shape[kept + 1] = -1
        d = b - np.reshape(shift, shape)
        total = total + d.sum(axis=axes)
        squares = squares + np.square(d).sum(axis=axes)
        n += b.size // max(1, np.size(shift))
    if not n:
        raise ValueError("there is no training data to fit the Normalization statistics on")
    mean = total / n
    variance = np.maximum(squares / n - np.square(mean), 0.0)
    return {"mean": shift + mean, "variance": variance, "count": np.asarray(n)}


def fit_statistics(flat, x_train: list, features=None, given=(), inputs=None) -> dict:
    """{"node/mean", "node/variance", "node/count"} of every Normalization of `flat` not in
    `given`, fitted on `x_train` (one array per Input, in the order of `inputs`, default
    `flat.inputs()`) in
    topological order, so a Normalization behind another one sees the first one's fitted
    output. `features(node, fitted)` yields the node's input on the training data in chunks
    (needed only when the node does not read an Input directly)."""
    nodes = [n for n in normalization_nodes(flat) if n not in set(given)]
    if not nodes:
        return {}
    inputs = list(flat.inputs() if inputs is None else inputs)
    fitted: dict = {}
    analysis = Analysis(flat, live=False)
    for n in nodes:
        edge = flat.input_ports(n)[0]
        params = {**flat.node(n).layer_type.default_params(), **flat.node(n).params}
        if flat.node(edge.source).type == "Input":
            batches = chunks(x_train[inputs.index(edge.source)])
        elif features is None:
            raise ValueError(f"Normalization {n!r} is not fed by an Input: its statistics "
                             f"need the backend to compute its input")
        else:
            batches = features(n, fitted)
        stats = moments(batches, params)
        expected = analysis.report(n).inputs[0]
        kept = normalization_axis(params, len(expected))
        want = () if kept is None else (expected[kept],)
        for name, value in stats.items():
            value = np.asarray(value, np.float32)
            fitted[f"{n}/{name}"] = value.reshape(want) if name != "count" else value
    return fitted
