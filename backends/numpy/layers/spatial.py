"""Changing the size of images and sequences: ZeroPadding2D, Cropping1D/2D and UpSampling2D."""
from __future__ import annotations

import numpy as np

from ..registry import register


@register("ZeroPadding2D")
class ZeroPadding2D:
    def forward(x, weights, params, training):
        pad = tuple(params["padding"])
        top, bottom, left, right = (pad[0], pad[0], pad[1], pad[1]) if len(pad) == 2 else pad
        y = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
        return y, (top, left, x.shape)

    def backward(dy, cache):
        top, left, (_, h, w, _) = cache
        return dy[:, top:top + h, left:left + w], {}       # the border had no effect


def crops(cropping):
    """(top, bottom, left, right) from a 2- or 4-entry cropping parameter."""
    c = tuple(cropping)
    return (c[0], c[0], c[1], c[1]) if len(c) == 2 else c


@register("Cropping1D")
class Cropping1D:
    def forward(x, weights, params, training):
        start, end = params["cropping"]
        return x[:, start:x.shape[1] - end], (start, x.shape)

    def backward(dy, cache):
        start, shape = cache
        dx = np.zeros(shape, dy.dtype)
        dx[:, start:start + dy.shape[1]] = dy          # the cut-off steps had no effect
        return dx, {}


@register("Cropping2D")
class Cropping2D:
    def forward(x, weights, params, training):
        top, bottom, left, right = crops(params["cropping"])
        h, w = x.shape[1:3]
        return x[:, top:h - bottom, left:w - right], (top, left, x.shape)

    def backward(dy, cache):
        top, left, shape = cache
        dx = np.zeros(shape, dy.dtype)
        dx[:, top:top + dy.shape[1], left:left + dy.shape[2]] = dy
        return dx, {}


def bilinear_matrix(n, factor, dtype):
    """(n * factor, n) matrix A with resized = A @ original along one axis.

    As tf.image.resize (half-pixel centres): output pixel o looks at input position
    (o + 0.5) / factor - 0.5 and mixes its two neighbours, clamped at the border.
    """
    source = (np.arange(n * factor) + 0.5) / factor - 0.5
    below = np.floor(source)
    frac = (source - below)[:, None]
    lo = np.clip(below, 0, n - 1)[:, None]
    hi = np.clip(below + 1, 0, n - 1)[:, None]
    pixels = np.arange(n)[None, :]
    return ((1 - frac) * (pixels == lo) + frac * (pixels == hi)).astype(dtype)


@register("UpSampling2D")
class UpSampling2D:
    """'nearest' repeats every pixel; 'bilinear' interpolates. Both are linear maps of x, so the
    backward pass applies the transposed map: sum the copies / the transposed matrices."""

    def forward(x, weights, params, training):
        sh, sw = params["size"]
        if params["interpolation"] == "nearest":
            return np.repeat(np.repeat(x, sh, axis=1), sw, axis=2), (sh, sw, None, None)
        rows = bilinear_matrix(x.shape[1], sh, x.dtype)            # (out_h, h)
        cols = bilinear_matrix(x.shape[2], sw, x.dtype)            # (out_w, w)
        return np.einsum("oh,bhwc,pw->bopc", rows, x, cols), (sh, sw, rows, cols)

    def backward(dy, cache):
        sh, sw, rows, cols = cache
        if rows is None:
            b, h, w, c = dy.shape
            return dy.reshape(b, h // sh, sh, w // sw, sw, c).sum(axis=(2, 4)), {}
        return np.einsum("oh,bopc,pw->bhwc", rows, dy, cols), {}
