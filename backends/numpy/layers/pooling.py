"""Pooling: max and average over windows (1-D, 2-D and 3-D), and over the whole input (global).

Max pooling passes each window's gradient to the one value that won; average pooling shares it
equally among the values of the window. With padding='same', TensorFlow's padding never wins a
max and is not counted in an average, and neither is it here.

Windows are never formed: the 2-D pools loop over the taps of the window (4 for a 2x2 pool),
each tap being one strided view of the image that covers every window at once, so a pool is a
few element-wise operations on arrays of the output's size. The 3-D pools do the same with
three spatial axes (8 taps for a 2x2x2 pool).

`data_format='channels_first'` (the channels before the spatial axes, as PyTorch and some Keras
models keep them) is handled by moving the channels last and back again.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..im2col import as_image, pad, paddings, unpad
from ..registry import register


def _geometry(params, x, rank):
    """(pool sizes, strides, paddings) for an image; 1-D layers see height 1."""
    pools = params["pool_size"]
    strides = params["strides"] if params["strides"] is not None else pools
    if rank == 1:
        pools, strides = (1, pools), (1, strides)
    pools, strides = tuple(pools), tuple(strides)
    return pools, strides, paddings(params["padding"], x.shape[1:1 + len(pools)], pools,
                                    strides)


def _taps(pools, strides, out_shape):
    """For every tap (i, j) of the window, in row-major order: the slice of the padded image
    that the tap reads at every window position at once (a strided view)."""
    for tap in itertools.product(*(range(p) for p in pools)):
        yield (slice(None),) + tuple(slice(i, i + s * (o - 1) + 1, s)
                                     for i, s, o in zip(tap, strides, out_shape))


def _out_shape(padded_shape, pools, strides):
    return tuple((n - p) // s + 1 for n, p, s in zip(padded_shape[1:], pools, strides))


def max_pool(x, pools, strides, pads):
    """The maximum of each window, tap by tap: one element-wise maximum per tap (a 2x2 pool is
    three np.maximum calls on quarter-size views), no window matrix."""
    xp = pad(x, pads, value=-np.inf)
    out = _out_shape(xp.shape, pools, strides)
    taps = list(_taps(pools, strides, out))
    y = xp[taps[0]].copy()
    for t in taps[1:]:
        np.maximum(y, xp[t], out=y)
    return y, (xp, y, pools, strides, pads)


def max_pool_backward(dy, cache):
    """Each window's gradient goes to the first tap (row-major) that holds its maximum, as an
    argmax would pick it; windows that overlap add up."""
    xp, y, pools, strides, pads = cache
    dxp = np.zeros(xp.shape, dtype=dy.dtype)
    taps = list(_taps(pools, strides, y.shape[1:1 + len(pools)]))
    if len(taps) == 1:
        dxp[taps[0]] += dy
        return unpad(dxp, pads)
    apart = all(s >= p for s, p in zip(strides, pools))      # every pixel in one window at most
    taken = np.empty(y.shape, dtype=bool)
    hit = np.empty(y.shape, dtype=bool)
    last = len(taps) - 1
    for k, t in enumerate(taps):
        np.equal(xp[t], y, out=hit)
        if k:
            np.greater(hit, taken, out=hit)                  # hit and not taken before
        if k == 0:
            np.copyto(taken, hit)
        elif k < last:
            np.logical_or(taken, hit, out=taken)
        if apart:
            np.multiply(dy, hit, out=dxp[t])
        else:
            dxp[t] += dy * hit
    return unpad(dxp, pads)


def average_pool(x, pools, strides, pads):
    xp = pad(x, pads)
    out = _out_shape(xp.shape, pools, strides)
    taps = list(_taps(pools, strides, out))
    sums = xp[taps[0]].copy()
    for t in taps[1:]:
        sums += xp[t]
    # how many real (not padding) values each window holds
    if any(any(p) for p in pads):
        ones = pad(np.ones((1,) + x.shape[1:-1] + (1,), dtype=x.dtype), pads)
        counts = ones[taps[0]].copy()
        for t in taps[1:]:
            counts += ones[t]
    else:
        counts = np.asarray(math.prod(pools), dtype=x.dtype)
    return sums / counts, (counts, xp.shape, pools, strides, pads)


def average_pool_backward(dy, cache):
    counts, padded_shape, pools, strides, pads = cache
    share = dy / counts
    dxp = np.zeros(padded_shape, dtype=dy.dtype)
    for t in _taps(pools, strides, dy.shape[1:1 + len(pools)]):
        dxp[t] += share
    return unpad(dxp, pads)


def _declare_pooling(kind, rank):
    pool, pool_backward = ((max_pool, max_pool_backward) if kind == "Max"
                           else (average_pool, average_pool_backward))

    class Pooling:
        def forward(x, weights, params, training):
            first = params.get("data_format") == "channels_first"
            x = channels_last(x) if first else x
            image = as_image(x) if rank == 1 else x
            y, cache = pool(image, *_geometry(params, image, rank))
            y = y[:, 0] if rank == 1 else y
            return (channels_first(y) if first else y), (cache, first)

        def backward(dy, cache):
            cache, first = cache
            dy = channels_last(dy) if first else dy
            dx = pool_backward(as_image(dy) if rank == 1 else dy, cache)
            dx = dx[:, 0] if rank == 1 else dx
            return (channels_first(dx) if first else dx), {}

    Pooling.__name__ = Pooling.__qualname__ = f"{kind}Pooling{rank}D"
    register(Pooling.__name__)(Pooling)


def channels_last(x):
    """(batch, channels, *spatial) -> (batch, *spatial, channels)."""
    return np.moveaxis(x, 1, -1)


def channels_first(x):
    """(batch, *spatial, channels) -> (batch, channels, *spatial), contiguous."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 1))


for _kind in ("Max", "Average"):
    for _rank in (1, 2, 3):
        _declare_pooling(_kind, _rank)


# -- global pooling ----------------------------------------------------------------------------

def _declare_global(kind, rank):
    axes = tuple(range(1, rank + 1))

    class GlobalPooling:
        def forward(x, weights, params, training):
            first = params.get("data_format") == "channels_first"
            if first:
                x = channels_last(x)
            y, cache = pool_all(x, params)
            if first and params["keepdims"]:
                y = channels_first(y)
            return y, (cache, first)

        def backward(dy, cache):
            cache, first = cache
            if first and dy.ndim > 2:
                dy = channels_last(dy)
            dx, _ = unpool_all(dy, cache)
            return (channels_first(dx) if first else dx), {}

    def pool_all(x, params):
        if kind == "Max":
            y = x.max(axis=axes, keepdims=True)
        else:
            y = x.mean(axis=axes, keepdims=True)
        return (y if params["keepdims"] else y.reshape(len(x), -1)), (x, y)

    def unpool_all(dy, cache):
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
    for _rank in (1, 2, 3):
        _declare_global(_kind, _rank)
