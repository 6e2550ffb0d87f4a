"""Merge layers: Add, Subtract, Multiply, Average, Maximum and Concatenate.

Inputs may differ in size-1 axes, which broadcast (as in Keras). A broadcast input was used at
every position it was stretched over, so its gradient is the sum over those positions
(`unbroadcast`).
"""
from __future__ import annotations

import numpy as np

from ..registry import register


def unbroadcast(grad, shape):
    """Sum a gradient back down to the shape of an input that was broadcast."""
    axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    return grad.sum(axis=axes, keepdims=True) if axes else grad


@register("Add")
class Add:
    def forward(xs, weights, params, training):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y, [x.shape for x in xs]

    def backward(dy, shapes):
        return [unbroadcast(dy, s) for s in shapes], {}


@register("Subtract")
class Subtract:
    def forward(xs, weights, params, training):
        a, b = xs
        return a - b, (a.shape, b.shape)

    def backward(dy, shapes):
        return [unbroadcast(dy, shapes[0]), unbroadcast(-dy, shapes[1])], {}


@register("Multiply")
class Multiply:
    def forward(xs, weights, params, training):
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y, xs

    def backward(dy, xs):
        dxs = []
        for i, x in enumerate(xs):
            others = dy                          # d(x0 x1 ... xn)/dxi = product of the others
            for j, other in enumerate(xs):
                if j != i:
                    others = others * other
            dxs.append(unbroadcast(others, x.shape))
        return dxs, {}


@register("Average")
class Average:
    def forward(xs, weights, params, training):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y / len(xs), [x.shape for x in xs]

    def backward(dy, shapes):
        return [unbroadcast(dy / len(shapes), s) for s in shapes], {}


@register("Maximum")
class Maximum:
    def forward(xs, weights, params, training):
        stacked = np.stack(np.broadcast_arrays(*xs))
        winner = stacked.argmax(axis=0)           # the gradient goes to the largest input
        return stacked.max(axis=0), (winner, [x.shape for x in xs])

    def backward(dy, cache):
        winner, shapes = cache
        return [unbroadcast(dy * (winner == i), s) for i, s in enumerate(shapes)], {}


@register("Concatenate")
class Concatenate:
    def forward(xs, weights, params, training):
        axis = params["axis"]
        ends = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis), (axis, ends)

    def backward(dy, cache):
        axis, ends = cache
        return np.split(dy, ends, axis=axis), {}
