"""Regularisation: Dropout, SpatialDropout1D/2D and GaussianNoise (both do nothing at inference), and
ActivityRegularization (a penalty on the values passing through)."""
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


def _spatial_dropout(type_id):
    class SpatialDropout:
        """Dropout with one draw per (sample, channel), broadcast over steps / pixels: a whole
        feature map is kept (and scaled by 1/(1 - rate)) or zeroed."""
        def forward(x, weights, params, training, rng=None):
            if not training or params["rate"] == 0:
                return x, None
            shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
            mask = dropout_mask(shape, params["rate"], rng, x.dtype)
            return x * mask, mask

        def backward(dy, mask):
            return (dy if mask is None else dy * mask), {}
    SpatialDropout.__name__ = SpatialDropout.__qualname__ = type_id
    return register(type_id, random=True)(SpatialDropout)


SpatialDropout1D = _spatial_dropout("SpatialDropout1D")
SpatialDropout2D = _spatial_dropout("SpatialDropout2D")


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


@register("ActivityRegularization")
class ActivityRegularization:
    """Identity on the way forward and back; the penalty is an added loss term, divided by the
    batch size as Keras divides activity penalties:
        l1 * sum|x| / n + l2 * sum(x^2) / n,   gradient (l1 * sign(x) + 2 * l2 * x) / n."""
    def forward(x, weights, params, training):
        return x, x

    def backward(dy, cache):
        return dy, {}

    def added_loss(x, params):
        l1, l2 = params["l1"], params["l2"]
        n = len(x)
        value = 0.0
        grad = np.zeros_like(x)
        if l1:
            value += l1 * float(np.abs(x).sum(dtype=np.float64)) / n
            grad += np.sign(x) * np.asarray(l1 / n, x.dtype)
        if l2:
            value += l2 * float(np.square(x).sum(dtype=np.float64)) / n
            grad += x * np.asarray(2 * l2 / n, x.dtype)
        return value, grad
