"""RBF: Gaussian radial-basis units, y_j = exp(-gamma_j * d_j) with d_j = |x - c_j|^2.

The squared distances of a whole batch to every centre come from one matrix product,
d = |x|^2 - 2 x C^T + |c|^2, instead of a (batch, units, features) array of differences. Rounding
can make d a tiny negative number when x sits on a centre; it is clipped at 0 (no gradient
flows through the clipped entries, as `maximum` in Keras).

Backward, with g = dL/dd = -gamma * y * dy (batch, units):
    dL/dx = 2 (sum_j g_j) x - 2 g C,      dL/dC = 2 (sum_batch g)[:, None] C - 2 g^T x,
    dL/dgamma_j = -sum_batch(dy_j * y_j * d_j)      (only when gamma is learned).
"""
from __future__ import annotations

import numpy as np

from ..registry import NO_INPUT_GRAD, register


def rbf_weights(params, input_shape, rng, dtype):
    shape = (params["units"], input_shape[-1])
    if params["centers_initializer"] == "normal":
        centers = rng.standard_normal(shape)
    else:
        centers = rng.uniform(-1.0, 1.0, shape)
    w = {"centers": centers.astype(dtype)}
    if params["learn_gamma"]:
        w["gamma"] = np.full((params["units"],), params["gamma"], dtype)
    return w


def squared_distances(x, centers):
    """|x_i - c_j|^2 for every sample i and centre j, and where it was not clipped at 0."""
    d = (x * x).sum(axis=1, keepdims=True) - 2.0 * (x @ centers.T)
    d += (centers * centers).sum(axis=1)
    inside = d >= 0
    return np.maximum(d, 0, out=d), inside


@register("RBF")
class RBF:
    weights = rbf_weights

    def forward(x, weights, params, training):
        centers = weights["centers"]
        gamma = weights["gamma"] if params["learn_gamma"] else np.asarray(params["gamma"],
                                                                           x.dtype)
        d, inside = squared_distances(x, centers)
        y = np.exp(-gamma * d)
        return y, (x, centers, gamma, d, inside, y, params)

    def backward(dy, cache):
        x, centers, gamma, d, inside, y, params = cache
        dyy = dy * y
        g = -gamma * dyy * inside                          # dL/dd
        grads = {"centers": 2.0 * g.sum(axis=0)[:, None] * centers - 2.0 * (g.T @ x)}
        if params["learn_gamma"]:
            grads["gamma"] = -(dyy * d).sum(axis=0)
        if params.get(NO_INPUT_GRAD):
            return None, grads
        dx = 2.0 * g.sum(axis=1, keepdims=True) * x - 2.0 * (g @ centers)
        return dx, grads
