"""Embedding: a learned table with one vector per token id; the layer looks rows up."""
from __future__ import annotations

import numpy as np

from .. import initializers as init
from ..registry import register


@register("Embedding")
class Embedding:
    """y = table[ids]. Backward: each row of the table receives the sum of the gradients of the
    positions that looked it up (a token that appears twice gets two contributions).

    Token ids are not differentiable, so the input gradient is None. `mask_zero` does not change
    the output (id 0 still looks up row 0); skipping the padded steps is the business of the
    layers that follow.
    """

    def weights(params, input_shape, rng, dtype):
        shape = (params["input_dim"], params["output_dim"])
        return {"embeddings": init.uniform(shape, rng, dtype)}

    def forward(x, weights, params, training):
        ids = np.asarray(x).astype(np.int64)
        table = weights["embeddings"]
        outside = (ids < 0) | (ids >= len(table))
        if outside.any():
            raise IndexError(f"Embedding got token id {ids[outside].flat[0]}, but its vocabulary "
                             f"has ids 0 to {len(table) - 1} (input_dim).")
        return table[ids], (ids, table.shape)

    def backward(dy, cache):
        ids, shape = cache
        dtable = np.zeros(shape, dtype=dy.dtype)
        np.add.at(dtable, ids.ravel(), dy.reshape(-1, shape[1]))    # repeated ids add up
        return None, {"embeddings": dtable}


def sinusoidal_table(steps, dim, max_wavelength, dtype):
    """Entry (p, i): sin(p * r_i) for even i, cos(p * r_i) for odd i, with
    r_i = max_wavelength ** (-2 * (i // 2) / dim) (as keras_hub's SinePositionEncoding)."""
    index = np.arange(dim)
    rates = np.power(float(max_wavelength), -2.0 * (index // 2) / dim)
    angles = np.arange(steps)[:, None] * rates[None, :]
    return np.where(index % 2 == 0, np.sin(angles), np.cos(angles)).astype(dtype)


@register("PositionEmbedding")
class PositionEmbedding:
    """y = x + table[:steps], the same table for every sample. Learned: the table is a weight
    and receives the gradient summed over the batch; sinusoidal: the table is fixed. Either
    way the input gradient is dy itself."""

    def weights(params, input_shape, rng, dtype):
        if params["kind"] != "learned":
            return {}
        return {"embeddings": init.glorot_uniform(tuple(input_shape), rng, dtype)}

    def forward(x, weights, params, training):
        if params["kind"] == "learned":
            table = weights["embeddings"]
        else:
            table = sinusoidal_table(x.shape[1], x.shape[2], params["max_wavelength"], x.dtype)
        return x + table, params["kind"]

    def backward(dy, kind):
        return dy, ({"embeddings": dy.sum(axis=0)} if kind == "learned" else {})
