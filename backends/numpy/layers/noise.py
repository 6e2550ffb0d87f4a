"""Regularisation by noise: Dropout and GaussianNoise. Both do nothing at inference."""
from __future__ import annotations

import numpy as np

from ..registry import register


def dropout_mask(shape, rate, rng, dtype):
    """Inverted dropout: keep each value with probability 1 - rate and scale it by 1/(1 - rate),
    so the expected value stays the same and inference needs no rescaling."""
    keep = np.random.default_rng(rng).random(shape) >= rate
    return keep.astype(dtype) / np.asarray(1 - rate, dtype)


@register("Dropout", random=True)
class Dropout:
    def forward(x, weights, params, training, rng=None):
        if not training or params["rate"] == 0:
            return x, None
        mask = dropout_mask(x.shape, params["rate"], rng, x.dtype)
        return x * mask, mask

    def backward(dy, mask):
        return (dy if mask is None else dy * mask), {}


@register("GaussianNoise", random=True)
class GaussianNoise:
    def forward(x, weights, params, training, rng=None):
        if not training:
            return x, None
        rng = np.random.default_rng(rng)
        noise = (params["stddev"] * rng.standard_normal(x.shape)).astype(x.dtype)
        return x + noise, None

    def backward(dy, cache):
        return dy, {}                   # adding a constant does not change the gradient
