"""Dense (fully connected) layers: y = f(x W + b), and TimeDistributed(Dense).

Dense works on the last axis, so the same code serves a batch of vectors (batch, features) and
a batch of sequences (batch, steps, features): the matmul broadcasts over the leading axes.
"""
from __future__ import annotations

import numpy as np

from .. import initializers as init
from ..registry import NO_INPUT_GRAD, register
from .activations import activate, activate_grad


def dense_weights(params, input_shape, rng, dtype):
    features, units = input_shape[-1], params["units"]
    w = {"kernel": init.glorot_uniform((features, units), rng, dtype)}
    if params["use_bias"]:
        w["bias"] = init.zeros((units,), dtype=dtype)
    return w


def dense_forward(x, weights, params, training):
    z = x @ weights["kernel"]
    if params["use_bias"]:
        np.add(z, weights["bias"], out=z)                        # z is new: add in place
    y = activate(params["activation"], z)
    return y, (x, z, y, weights["kernel"], params)


def dense_backward(dy, cache):
    x, z, y, kernel, params = cache
    dz = activate_grad(params["activation"], dy, z, y)
    features, units = kernel.shape
    x2, dz2 = x.reshape(-1, features), dz.reshape(-1, units)    # all leading axes as one batch
    grads = {"kernel": x2.T @ dz2}                               # dL/dW = x^T dz
    if params["use_bias"]:
        grads["bias"] = np.ones(len(dz2), dz2.dtype) @ dz2      # dL/db = sum of dz over the batch
    if params.get(NO_INPUT_GRAD):
        return None, grads
    dx = dz @ kernel.T                                           # dL/dx = dz W^T
    return dx, grads


@register("Dense")
class Dense:
    weights = dense_weights
    forward = dense_forward
    backward = dense_backward


@register("TimeDistributed")
class TimeDistributed:
    """The same Dense layer at every time step: exactly Dense on the last axis."""
    weights = dense_weights
    forward = dense_forward
    backward = dense_backward
