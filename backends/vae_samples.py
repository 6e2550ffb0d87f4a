"""What a trained VAE's decoder makes of codes it never saw: new samples.

A VAE's KL term pulls the codes of the training data towards N(0, 1), so codes drawn from
N(0, 1) decode to plausible samples. With a 2-D code the codes are a grid over [-2, 2]^2 (the
classic picture of the learned "manifold": neighbouring codes give similar digits); otherwise
they are drawn from N(0, 1), seeded. The decoder is the part of the network after the Sampling
layer; it runs on the trained weights of either backend.
"""
from __future__ import annotations

import numpy as np

GRID_SIDE = 6


def codes(latent: int, n: int = GRID_SIDE * GRID_SIDE, seed: int = 0) -> np.ndarray:
    if latent == 2:
        side = int(round(np.sqrt(n)))
        axis = np.linspace(-2, 2, side, dtype=np.float32)
        ys, xs = np.meshgrid(axis[::-1], axis, indexing="ij")     # top row: large second value
        return np.stack([xs.ravel(), ys.ravel()], axis=1)
    return np.random.default_rng([seed, 13]).standard_normal((n, latent)).astype(np.float32)


def sampling_node(flat) -> str:
    found = [n for n in flat.topological_order() if flat.node(n).type == "Sampling"]
    if len(found) != 1:
        raise ValueError(f"decoding needs exactly one Sampling layer; the network has "
                         f"{len(found)}")
    return found[0]


def _decode_numpy(model, node: str, z: np.ndarray) -> np.ndarray:
    """Run the NumPy model's steps after `node`, with `z` as that node's output."""
    values = {(node, 0): z.astype(model.dtype)}
    after = False
    for s in model.steps:
        if s.id == node:
            after = True
            continue
        if not after or s.kernel is None or not all(r in values for r in s.inputs):
            continue
        x = [values[r] for r in s.inputs] if s.kernel.many_inputs else values[s.inputs[0]]
        extra = {"rng": model.rng} if s.kernel.random else {}
        y, _ = s.kernel.forward(x, s.weights, s.params, False, **extra)
        if s.head is not None:
            y = model._head(s, y)
        for port, o in enumerate(y if isinstance(y, list) else [y]):
            values[(s.id, port)] = o
    ref = model.outputs[0]
    if ref not in values:
        raise ValueError(f"the output {ref[0]} does not depend on the Sampling layer {node} "
                         f"alone: the decoder cannot run by itself")
    return values[ref]


def _decode_keras(model, node: str, z: np.ndarray) -> np.ndarray:
    import keras
    decoder = keras.Model(model.get_layer(node).output, model.outputs[0])
    return np.asarray(decoder(z, training=False))


def code_size(flat) -> int:
    """Values in the code the Sampling layer draws."""
    from netdesigner.graph.validation import Analysis
    return int(np.prod(Analysis(flat, live=False).output_shapes(sampling_node(flat))[0]))


def decode(backend: str, model, flat, n: int = GRID_SIDE * GRID_SIDE, seed: int = 0,
           latent: int | None = None) -> np.ndarray:
    """Decoded samples for `n` codes (see `codes`), one row per code; `latent`: the code
    size, when the caller knows it (see `code_size`)."""
    node = sampling_node(flat)
    z = codes(code_size(flat) if latent is None else latent, n, seed)
    if backend == "numpy":
        return _decode_numpy(model, node, z)
    return _decode_keras(model, node, z)
