"""Saving and loading weights: `.npz` files, and copies to and from a Keras model.

An `.npz` holds one array per weight under the key `node/weight_name` (e.g. `dense_1/kernel`,
`block_1__2__bn_a/moving_mean`), in float32 or float64 as the model has them.

The Keras copies match layers by name: a Keras model whose layers are named after the nodes
(as `backends.keras` builds them) gets each node's weights with `layer.set_weights` in the
order Keras lists them, which is the order the NumPy kernels keep.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..weights_file import read_npz, write_npz


def save_npz(model, path) -> Path:
    """Write every weight of `model` to `path` (atomically)."""
    return write_npz(model.get_weights(), path)


def load_npz(model, path, strict: bool = True):
    """Load weights saved by `save_npz` into `model` (shapes and names must match)."""
    try:
        model.set_weights(read_npz(path), strict=strict)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return model


def to_keras(model, keras_model) -> None:
    """Copy every weight of the NumPy `model` into the layers of `keras_model` with the same
    names (node ids)."""
    for node, weights in model.weights.items():
        try:
            layer = keras_model.get_layer(node)
        except ValueError:
            raise ValueError(f"the Keras model has no layer named {node!r}") from None
        ours = list(weights.values())
        theirs = layer.get_weights()
        if [w.shape for w in ours] != [w.shape for w in theirs]:
            raise ValueError(f"{node}: the NumPy weights {[w.shape for w in ours]} and the Keras "
                             f"weights {[w.shape for w in theirs]} differ")
        layer.set_weights([np.asarray(w, dtype=t.dtype) for w, t in zip(ours, theirs)])


def from_keras(keras_model, model=None) -> dict:
    """The weights of `keras_model` as {"node/name": array}.

    With a NumPy `model`, its names are used and the weights are loaded into it too; without
    one, Keras's own variable names are used (duplicates within a layer get a suffix)."""
    out = {}
    if model is not None:
        for node, weights in model.weights.items():
            values = keras_model.get_layer(node).get_weights()
            if len(values) != len(weights):
                raise ValueError(f"{node}: Keras has {len(values)} weights, the NumPy layer "
                                 f"{len(weights)}")
            for name, v in zip(weights, values):
                out[f"{node}/{name}"] = v
        model.set_weights(out)
        return out
    for layer in keras_model.layers:
        for v in layer.weights:
            name = v.name.split("/")[-1]
            key, i = f"{layer.name}/{name}", 1
            while key in out:
                i += 1
                key = f"{layer.name}/{name}_{i}"
            out[key] = np.asarray(v.numpy())
    return out
