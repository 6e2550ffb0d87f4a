"""Layers that only move values around: Input, Flatten, Reshape, Permute, RepeatVector.

Their backward pass moves the gradient back the same way: reshape back, transpose back, or sum
the copies (a value used n times receives the sum of its n gradients).
"""
from __future__ import annotations

import numpy as np

from ..registry import register


@register("Input")
class Input:
    """Where data enters: passes the batch the compiler feeds through, in the declared dtype."""

    def forward(x, weights, params, training):
        return np.asarray(x, dtype=params["dtype"]), None

    def backward(dy, cache):
        return dy, {}


@register("Flatten")
class Flatten:
    def forward(x, weights, params, training):
        return x.reshape(len(x), -1), x.shape

    def backward(dy, shape):
        return dy.reshape(shape), {}


@register("Reshape")
class Reshape:
    def forward(x, weights, params, training):
        return x.reshape((len(x),) + tuple(params["target_shape"])), x.shape

    def backward(dy, shape):
        return dy.reshape(shape), {}


@register("Permute")
class Permute:
    def forward(x, weights, params, training):
        order = (0,) + tuple(params["dims"])          # dims count from 1: the batch axis stays
        return x.transpose(order), order

    def backward(dy, order):
        return dy.transpose(np.argsort(order)), {}    # the inverse permutation


@register("RepeatVector")
class RepeatVector:
    def forward(x, weights, params, training):
        return np.repeat(x[:, None, :], params["n"], axis=1), None

    def backward(dy, cache):
        return dy.sum(axis=1), {}
