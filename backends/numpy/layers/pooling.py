"""Pooling: max and average over windows (1-D and 2-D), and over the whole input (global).

Max pooling passes each window's gradient to the one value that won; average pooling shares it
equally among the values of the window. With padding='same', TensorFlow's padding never wins a
max and is not counted in an average, and neither is it here.
"""
from __future__ import annotations

import math

import numpy as np

from ..im2col import as_image, col2im, im2col, pad, paddings, unpad
from ..registry import register


def _geometry(params, x, rank):
    """(pool sizes, strides, paddings) for an image; 1-D layers see height 1."""
    pools = params["pool_size"]
    strides = params["strides"] if params["strides"] is not None else pools
    if rank == 1:
        pools, strides = (1, pools), (1, strides)
    return pools, strides, paddings(params["padding"], x.shape[1:3], pools, strides)


def max_pool(x, pools, strides, pads):
    xp = pad(x, pads, value=-np.inf)
    windows = im2col(xp, pools, strides)
    b, oh, ow, kh, kw, c = windows.shape
    windows = windows.reshape(b, oh, ow, kh * kw, c)
    winner = windows.argmax(axis=3)[:, :, :, None]                  # which tap won
    y = np.take_along_axis(windows, winner, axis=3)[:, :, :, 0]
    return y, (winner, windows.shape, xp.shape, pools, strides, pads)


def max_pool_backward(dy, cache):
    winner, shape, padded_shape, pools, strides, pads = cache
    dcols = np.zeros(shape, dtype=dy.dtype)
    np.put_along_axis(dcols, winner, dy[:, :, :, None], axis=3)   # gradient to the winner only
    dcols = dcols.reshape(shape[:3] + tuple(pools) + shape[-1:])
    return unpad(col2im(dcols, padded_shape, strides), pads)


def average_pool(x, pools, strides, pads):
    sums = im2col(pad(x, pads), pools, strides).sum(axis=(3, 4))
    # how many real (not padding) values each window holds
    ones = np.ones((1,) + x.shape[1:3] + (1,), dtype=x.dtype)
    counts = im2col(pad(ones, pads), pools, strides).sum(axis=(3, 4))
    return sums / counts, (counts, x.shape, pools, strides, pads)


def average_pool_backward(dy, cache):
    counts, shape, pools, strides, pads = cache
    b, oh, ow, c = dy.shape
    share = (dy / counts)[:, :, :, None, None, :]
    dcols = np.broadcast_to(share, (b, oh, ow) + tuple(pools) + (c,))
    padded = (b, shape[1] + sum(pads[0]), shape[2] + sum(pads[1]), c)
    return unpad(col2im(dcols, padded, strides), pads)


def _declare_pooling(kind, rank):
    pool, pool_backward = ((max_pool, max_pool_backward) if kind == "Max"
                           else (average_pool, average_pool_backward))

    class Pooling:
        def forward(x, weights, params, training):
            image = as_image(x) if rank == 1 else x
            y, cache = pool(image, *_geometry(params, image, rank))
            return (y[:, 0] if rank == 1 else y), cache

        def backward(dy, cache):
            dx = pool_backward(as_image(dy) if rank == 1 else dy, cache)
            return (dx[:, 0] if rank == 1 else dx), {}

    Pooling.__name__ = Pooling.__qualname__ = f"{kind}Pooling{rank}D"
    register(Pooling.__name__)(Pooling)


for _kind in ("Max", "Average"):
    for _rank in (1, 2):
        _declare_pooling(_kind, _rank)


# -- global pooling ----------------------------------------------------------------------------

def _declare_global(kind, rank):
    axes = tuple(range(1, rank + 1))

    class GlobalPooling:
        def forward(x, weights, params, training):
            if kind == "Max":
                y = x.max(axis=axes, keepdims=True)
            else:
                y = x.mean(axis=axes, keepdims=True)
            return (y if params["keepdims"] else y.reshape(len(x), -1)), (x, y)

        def backward(dy, cache):
            x, y = cache
            dy = dy.reshape(y.shape)
            if kind == "Max":
                winners = (x == y).astype(dy.dtype)  # ties share the gradient, as in TF
                return dy * winners / winners.sum(axis=axes, keepdims=True), {}
            n = math.prod(x.shape[a] for a in axes)
            return np.broadcast_to(dy / n, x.shape).copy(), {}

    GlobalPooling.__name__ = GlobalPooling.__qualname__ = f"Global{kind}Pooling{rank}D"
    register(GlobalPooling.__name__)(GlobalPooling)


for _kind in ("Max", "Average"):
    for _rank in (1, 2):
        _declare_global(_kind, _rank)
