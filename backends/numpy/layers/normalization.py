"""BatchNormalization and LayerNormalization: y = gamma * (x - mean) / sqrt(var + eps) + beta.

They differ only in which values share a mean: BatchNormalization normalises each channel over
the batch (and the spatial axes), LayerNormalization each sample over its last axis.

The backward pass of the normalisation has to remember that the mean and the variance depend
on every x they were computed from:

    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps)

with dxhat = dy * gamma and the means over the same values as the forward pass.
"""
from __future__ import annotations

import numpy as np

from .. import initializers as init
from ..registry import register


def _scale_shift_weights(params, channels, dtype):
    w = {}
    if params["scale"]:
        w["gamma"] = init.ones((channels,), dtype=dtype)
    if params["center"]:
        w["beta"] = init.zeros((channels,), dtype=dtype)
    return w


def normalize(x, mean, var, eps):
    inv_std = 1 / np.sqrt(var + np.asarray(eps, x.dtype))
    return (x - mean) * inv_std, inv_std


def scale_shift(xhat, weights, params):
    y = xhat * weights["gamma"] if params["scale"] else xhat
    return y + weights["beta"] if params["center"] else y


def scale_shift_grad(dy, xhat, weights, params, axes):
    """-> (dxhat, {gamma, beta gradients})."""
    grads = {}
    if params["scale"]:
        grads["gamma"] = (dy * xhat).sum(axis=axes)
    if params["center"]:
        grads["beta"] = dy.sum(axis=axes)
    dxhat = dy * weights["gamma"] if params["scale"] else dy
    return dxhat, grads


def normalize_grad(dxhat, xhat, inv_std, axes):
    """Backward through xhat = (x - mean(x)) / std(x), the statistics taken over `axes`."""
    mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=axes, keepdims=True)
    return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) * inv_std


@register("BatchNormalization", state=("moving_mean", "moving_variance"))
class BatchNormalization:
    """Training: the batch's statistics, and the moving averages follow them
    (moving = moving * momentum + batch * (1 - momentum)). Inference: the moving averages."""

    def weights(params, input_shape, rng, dtype):
        channels = input_shape[-1]
        w = _scale_shift_weights(params, channels, dtype)
        w["moving_mean"] = init.zeros((channels,), dtype=dtype)
        w["moving_variance"] = init.ones((channels,), dtype=dtype)
        return w

    def forward(x, weights, params, training):
        axes = tuple(range(x.ndim - 1))                 # all but the channels
        cache = {"params": params, "weights": weights, "axes": axes, "training": training}
        if training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)
            m = np.asarray(params["momentum"], x.dtype)
            cache["updates"] = {
                "moving_mean": weights["moving_mean"] * m + mean * (1 - m),
                "moving_variance": weights["moving_variance"] * m + var * (1 - m),
            }
        else:
            mean, var = weights["moving_mean"], weights["moving_variance"]
        xhat, inv_std = normalize(x, mean, var, params["epsilon"])
        cache.update(xhat=xhat, inv_std=inv_std)
        return scale_shift(xhat, weights, params), cache

    def backward(dy, cache):
        xhat, inv_std, axes = cache["xhat"], cache["inv_std"], cache["axes"]
        dxhat, grads = scale_shift_grad(dy, xhat, cache["weights"], cache["params"], axes)
        if cache["training"]:
            dx = normalize_grad(dxhat, xhat, inv_std, axes)
        else:
            dx = dxhat * inv_std               # the statistics are constants at inference
        return dx, grads


@register("LayerNormalization")
class LayerNormalization:
    def weights(params, input_shape, rng, dtype):
        return _scale_shift_weights(params, input_shape[-1], dtype)

    def forward(x, weights, params, training):
        mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
        xhat, inv_std = normalize(x, mean, var, params["epsilon"])
        return scale_shift(xhat, weights, params), (xhat, inv_std, weights, params)

    def backward(dy, cache):
        xhat, inv_std, weights, params = cache
        batch_axes = tuple(range(dy.ndim - 1))
        dxhat, grads = scale_shift_grad(dy, xhat, weights, params, batch_axes)
        return normalize_grad(dxhat, xhat, inv_std, axes=-1), grads
