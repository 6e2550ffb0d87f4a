"""Preprocessing layers: Normalization (fitted statistics, no gradient for them) and the image
augmentation layers RandomFlip, RandomRotation, RandomTranslation, RandomZoom.

The augmentation layers pass the image through unchanged at inference. While training, each
sample gets its own random transform: a flip is an exact mirror; rotation, translation and zoom
are one affine resampling (`resample`), vectorised over the batch: every output pixel reads
the input at a transformed point, with Keras's defaults (bilinear interpolation, fill_mode
reflect). The output is linear in the input (a weighted gather), so the backward pass scatters
the output gradient back with the same weights. Keras's random draws are not reproduced (each
backend has its own generator); the distributions are Keras's.
"""
from __future__ import annotations

import numpy as np

from netdesigner.graph.layers.preprocessing import normalization_axis

from .. import initializers as init
from ..registry import register

#: Keras's backend.epsilon(): the smallest standard deviation Normalization divides by
NORMALIZATION_EPSILON = 1e-7


def _broadcast(value, params, ndim):
    """Mean or variance shaped to broadcast against an input of `ndim` axes (batch first)."""
    kept = normalization_axis(params, ndim - 1)
    if kept is None:
        return value
    shape = [1] * ndim
    shape[kept + 1] = -1
    return value.reshape(shape)


@register("Normalization", state=("mean", "variance", "count"))
class Normalization:
    """y = (x - mean) / max(sqrt(variance), 1e-7); `invert`: y = mean + x * max(sqrt(var), 1e-7).
    The statistics are constants for the gradient (fitted before training, never learned)."""

    def weights(params, input_shape, rng, dtype):
        kept = normalization_axis(params, len(input_shape))
        shape = () if kept is None else (input_shape[kept],)
        return {"mean": init.zeros(shape, dtype=dtype), "variance": init.ones(shape, dtype=dtype),
                "count": np.zeros((), dtype=dtype)}

    def forward(x, weights, params, training):
        mean = _broadcast(np.asarray(weights["mean"], x.dtype), params, x.ndim)
        std = np.maximum(np.sqrt(_broadcast(np.asarray(weights["variance"], x.dtype), params,
                                            x.ndim)), np.asarray(NORMALIZATION_EPSILON, x.dtype))
        if params["invert"]:
            return mean + x * std, (std, True)
        return (x - mean) / std, (std, False)

    def backward(dy, cache):
        std, invert = cache
        return (dy * std if invert else dy / std), {}


# -- augmentation ------------------------------------------------------------------------------

@register("RandomFlip", random=True)
class RandomFlip:
    """Each sample is mirrored left-right (width axis) and/or upside down (height axis), each
    with probability 1/2 as the mode allows."""

    def forward(x, weights, params, training, rng=None):
        if not training:
            return x, None
        rng = np.random.default_rng(rng)
        n = len(x)
        mode = params["mode"]
        horizontal = (rng.random(n) < 0.5 if mode in ("horizontal", "horizontal_and_vertical")
                      else np.zeros(n, bool))
        vertical = (rng.random(n) < 0.5 if mode in ("vertical", "horizontal_and_vertical")
                    else np.zeros(n, bool))
        return flip(x, horizontal, vertical), (horizontal, vertical)

    def backward(dy, cache):
        if cache is None:
            return dy, {}
        return flip(dy, *cache), {}             # a mirror is its own inverse


def flip(x, horizontal, vertical):
    """x with the samples marked in `horizontal` mirrored along the width, those marked in
    `vertical` along the height."""
    y = np.where(horizontal[:, None, None, None], x[:, :, ::-1], x)
    return np.where(vertical[:, None, None, None], y[:, ::-1], y)


def _fold(index, n, mode):
    """Integer pixel indices brought into [0, n) as the fill mode says (constant: clipped; the
    caller masks the points outside)."""
    if mode == "reflect":          # d c b a | a b c d | d c b a
        period = 2 * n
        m = np.mod(index, period)
        return np.where(m >= n, period - 1 - m, m)
    if mode == "wrap":             # a b c d | a b c d | a b c d
        return np.mod(index, n)
    return np.clip(index, 0, n - 1)


def resample(x, src_y, src_x, fill_mode="reflect", interpolation="bilinear", fill_value=0.0):
    """Read images x (N, H, W, C) at the points (src_y, src_x) (each (N, H, W), in pixels):
    -> (output, taps) where output[n, i, j] = sum of w * x at the taps (plus fill_value times
    the weight of taps outside the image with fill_mode constant). `taps` lists
    (flat index into x reshaped (N*H*W, C), weight) for the backward pass."""
    n, h, w, c = x.shape
    dtype = x.dtype
    if interpolation == "nearest":
        corners = [(np.floor(src_y + 0.5), np.floor(src_x + 0.5), np.ones(src_y.shape, dtype))]
    else:
        y0, x0 = np.floor(src_y), np.floor(src_x)
        fy, fx = (src_y - y0).astype(dtype), (src_x - x0).astype(dtype)
        corners = [(y0, x0, (1 - fy) * (1 - fx)), (y0, x0 + 1, (1 - fy) * fx),
                   (y0 + 1, x0, fy * (1 - fx)), (y0 + 1, x0 + 1, fy * fx)]
    flat = x.reshape(-1, c)
    sample = np.arange(n)[:, None, None]
    out = np.zeros(x.shape, dtype)
    taps = []
    for cy, cx, weight in corners:
        iy, ix = cy.astype(np.int64), cx.astype(np.int64)
        if fill_mode == "constant":
            inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
            if fill_value:
                out += np.asarray(fill_value, dtype) * (weight * ~inside)[..., None]
            weight = weight * inside
        index = (sample * h + _fold(iy, h, fill_mode)) * w + _fold(ix, w, fill_mode)
        out += weight[..., None] * flat[index]
        taps.append((index, weight))
    return out, taps


def resample_grad(dy, taps):
    """The input gradient of `resample`: each output gradient goes back to the taps it read."""
    n, h, w, c = dy.shape
    dx = np.zeros((n * h * w, c), dy.dtype)
    for index, weight in taps:
        np.add.at(dx, index.reshape(-1), (dy * weight[..., None]).reshape(-1, c))
    return dx.reshape(dy.shape)


def affine_points(h, w, matrices):
    """Source points of every output pixel under per-sample affine maps about the image centre:
    matrices (N, 2, 3) map (y - cy, x - cx, 1) of an output pixel to (src_y - cy, src_x - cx)."""
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    m = matrices[:, :, :, None, None]
    src_y = m[:, 0, 0] * yy + m[:, 0, 1] * xx + m[:, 0, 2] + cy
    src_x = m[:, 1, 0] * yy + m[:, 1, 1] * xx + m[:, 1, 2] + cx
    return src_y, src_x


def _symmetric(rng, factor, n):
    return rng.uniform(-factor, factor, n) if factor else np.zeros(n)


def draw_matrices(type_id, params, n, h, w, rng):
    """(matrices (N, 2, 3), the draws {name: (N,) array}) of one batch of an affine
    augmentation layer. Rotation: angle in [-factor, factor] * 2 pi. Translation: a shift of
    (dy, dx) pixels, drawn in [-factor, factor] * (height, width); the content moves by it.
    Zoom: the source area is scaled by 1 + z, z in [-factor, factor] (z > 0 zooms out)."""
    m = np.zeros((n, 2, 3))
    if type_id == "RandomRotation":
        angle = _symmetric(rng, params["factor"], n) * 2 * np.pi
        cos, sin = np.cos(angle), np.sin(angle)
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = cos, sin, -sin, cos
        return m, {"angle": angle}
    if type_id == "RandomTranslation":
        dy = _symmetric(rng, params["height_factor"], n) * h
        dx = _symmetric(rng, params["width_factor"], n) * w
        m[:, 0, 0] = m[:, 1, 1] = 1.0
        m[:, 0, 2], m[:, 1, 2] = -dy, -dx
        return m, {"dy": dy, "dx": dx}
    zy = _symmetric(rng, params["height_factor"], n)
    zx = zy if params["width_factor"] is None else _symmetric(rng, params["width_factor"], n)
    m[:, 0, 0], m[:, 1, 1] = 1 + zy, 1 + zx
    return m, {"zoom_y": zy, "zoom_x": zx}


def _affine_augmentation(type_id):
    class Augmentation:
        def forward(x, weights, params, training, rng=None):
            if not training:
                return x, None
            n, h, w, _ = x.shape
            matrices, draws = draw_matrices(type_id, params, n, h, w, np.random.default_rng(rng))
            src_y, src_x = affine_points(h, w, matrices)
            y, taps = resample(x, src_y, src_x, params["fill_mode"], params["interpolation"],
                               params["fill_value"])
            return y, {"taps": taps, "draws": draws}

        def backward(dy, cache):
            if cache is None:
                return dy, {}
            return resample_grad(dy, cache["taps"]), {}
    Augmentation.__name__ = Augmentation.__qualname__ = type_id
    return register(type_id, random=True)(Augmentation)


RandomRotation = _affine_augmentation("RandomRotation")
RandomTranslation = _affine_augmentation("RandomTranslation")
RandomZoom = _affine_augmentation("RandomZoom")
