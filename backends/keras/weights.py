"""Trained weights of a Keras model as `.npz` files, interchangeable with the NumPy backend's.

An `.npz` holds one array per weight under `node/weight_name` (`dense_1/kernel`,
`block_1__2__bn_a/moving_mean`), layer by layer in the order Keras's `layer.get_weights()`
lists them — the format of `backends.numpy.weights`. The weight names are the NumPy backend's:
Keras's own variable names, except inside wrappers (`forward_kernel`, `backward_bias` for
Bidirectional; `query_kernel` ... `output_bias` for MultiHeadAttention).

Loading matches layers by name and, within a layer, weights by order, so a file written by
either backend loads into the other.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..weights_file import read_npz, write_npz


def _short_name(layer, variable) -> str:
    path = getattr(variable, "path", variable.name)
    parts = path.split("/")
    if parts and parts[0] == layer.name:
        parts = parts[1:]
    if len(parts) <= 1:
        return parts[0] if parts else variable.name
    first = parts[0]
    if first.startswith("forward_"):
        prefix = "forward"
    elif first.startswith("backward_"):
        prefix = "backward"
    elif first == "attention_output":
        prefix = "output"
    elif first in ("query", "key", "value"):
        prefix = first
    else:
        # the one inner layer of a plain layer (an RNN's `lstm_cell`, the Dense inside
        # TimeDistributed): the NumPy backend names its weights without a prefix
        return parts[-1]
    return f"{prefix}_{parts[-1]}"


def layer_weight_names(layer) -> list[str]:
    """The names of a layer's weights (in `get_weights()` order); duplicates get a suffix."""
    out: list[str] = []
    for v in layer.weights:
        name, i = _short_name(layer, v), 1
        while name in out:
            i += 1
            name = f"{_short_name(layer, v)}_{i}"
        out.append(name)
    return out


def get_weights(model) -> dict:
    """{"node/name": array} for every weight of every layer of `model`."""
    out = {}
    for layer in model.layers:
        values = layer.get_weights()
        for name, v in zip(layer_weight_names(layer), values):
            out[f"{layer.name}/{name}"] = np.asarray(v)
    return out


def set_weights(model, values: dict, strict: bool = True) -> None:
    """Load {"node/name": array} (or {node: {name: array}}) into the layers of the same names.

    Within a layer the arrays are taken in the order given (the order both backends write);
    `strict` refuses weights for layers the model lacks and layers left without weights."""
    per_layer: dict[str, list] = {}
    for key, v in values.items():
        if isinstance(v, dict):
            per_layer.setdefault(key, []).extend(v.values())
            continue
        node, _, _ = key.rpartition("/")
        per_layer.setdefault(node, []).append(v)
    layers = {layer.name: layer for layer in model.layers}
    problems = []
    for node, arrays in per_layer.items():
        layer = layers.get(node)
        if layer is None:
            problems.append(f"the model has no layer {node!r}")
            continue
        theirs = layer.get_weights()
        if [np.shape(a) for a in arrays] != [np.shape(t) for t in theirs]:
            problems.append(f"{node}: the file has weights of shapes "
                            f"{[tuple(np.shape(a)) for a in arrays]}, the layer needs "
                            f"{[tuple(np.shape(t)) for t in theirs]}")
            continue
        layer.set_weights([np.asarray(a, dtype=t.dtype) for a, t in zip(arrays, theirs)])
        finalize = getattr(layer, "finalize_state", None)
        if finalize is not None:
            # Normalization reads its mean and variance into tensors when built: refresh them
            finalize()
    if strict:
        missing = [layer.name for layer in model.layers if layer.weights
                   and layer.name not in per_layer]
        if missing:
            problems.append(f"no weights for {', '.join(missing)}")
    if problems and strict:
        raise ValueError("the weights do not fit this network: " + "; ".join(problems))


def save_npz(model, path) -> Path:
    """Write every weight of `model` to `path` (atomically)."""
    return write_npz(get_weights(model), path)


def load_npz(model, path, strict: bool = True):
    try:
        set_weights(model, read_npz(path), strict=strict)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return model


def load_any(model, weights, strict: bool = True):
    """Load weights given as a dict, an `.npz` file, or a Keras `.weights.h5` file."""
    if weights is None:
        return model
    if isinstance(weights, dict):
        set_weights(model, weights, strict=strict)
        return model
    path = Path(weights)
    if path.name.endswith(".weights.h5"):
        model.load_weights(path)
        return model
    return load_npz(model, path, strict=strict)
