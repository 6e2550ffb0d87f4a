"""Sliding windows over images, shared by the convolution and pooling layers.

`im2col` turns every window position into one row of a matrix ("image to columns"), so that a
convolution becomes a single matrix product. `col2im` is its backward pass: every window
position sends its gradient back to the pixels it read, and pixels read by several windows
receive the sum.

Images are (batch, height, width, channels); 1-D layers use height 1. Volumes (Conv3D, the 3-D
pools) are (batch, depth, height, width, channels): `pad`, `unpad` and `paddings` take any number
of spatial axes, and `im2col_nd` / `col2im_nd` are the windows of any rank.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def span(kernel: int, dilation: int = 1) -> int:
    """How many input pixels one window covers (a dilated kernel has gaps)."""
    return (kernel - 1) * dilation + 1


def same_padding(length: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding for padding='same', as TensorFlow does it: the output has
    ceil(length / stride) positions and an odd padding puts the extra pixel at the end."""
    out = -(-length // stride)
    total = max((out - 1) * stride + span(kernel, dilation) - length, 0)
    return total // 2, total - total // 2


def paddings(padding: str, shape, kernels, strides, dilations=None):
    """((top, bottom), (left, right)) for 'valid', 'same' or 'causal' (1-D: all on the left);
    one (before, after) pair per spatial axis."""
    dilations = dilations or (1,) * len(kernels)
    if padding == "valid":
        return tuple((0, 0) for _ in kernels)
    if padding == "causal":
        return tuple((span(k, d) - 1, 0) for k, d in zip(kernels, dilations))
    return tuple(same_padding(n, k, s, d)
                 for n, k, s, d in zip(shape, kernels, strides, dilations))


def pad(x, pads, value=0.0):
    """Pad the spatial axes (one (before, after) pair each, from axis 1) of an image batch (a
    new array; np.pad does the same, ten times slower on small images)."""
    if not any(any(p) for p in pads):
        return x
    n = len(pads)
    grown = tuple(size + a + b for size, (a, b) in zip(x.shape[1:1 + n], pads))
    out = np.full(x.shape[:1] + grown + x.shape[1 + n:], value, dtype=x.dtype)
    out[_inner(x.shape, pads)] = x
    return out


def _inner(padded_or_shape, pads):
    """The slices of the padded array that hold the original values."""
    return (slice(None),) + tuple(slice(a, a + size) for size, (a, _) in
                                  zip(padded_or_shape[1:1 + len(pads)], pads))


def unpad(x, pads):
    """Cut the padding off again (for the backward pass)."""
    return x[(slice(None),) + tuple(slice(a, x.shape[1 + i] - b)
                                    for i, (a, b) in enumerate(pads))]


def im2col(x, kernels, strides, dilations=(1, 1)):
    """All windows of an (already padded) image: (batch, out_h, out_w, kh, kw, channels).

    A strided view: no value is copied until the caller reshapes it into a matrix.
    """
    (kh, kw), (sh, sw), (dh, dw) = kernels, strides, dilations
    windows = sliding_window_view(x, (span(kh, dh), span(kw, dw)), axis=(1, 2))
    windows = windows[:, ::sh, ::sw, :, ::dh, ::dw]            # (B, oh, ow, C, kh, kw)
    return windows.transpose(0, 1, 2, 4, 5, 3)


def im2col_matrix(x, kernels, strides, dilations=(1, 1), ones=False):
    """The windows of an (already padded) image as a matrix: one row per output pixel,
    (kh, kw, channels) per row, the layout `kernel.reshape(-1, filters)` multiplies. With
    `ones`, each row ends with an extra 1 (so that a bias row appended to the kernel matrix is
    added by the same matmul).

    With few channels, copying the strided view element by element is slow; filling the
    matrix tap by tap copies whole image rows instead."""
    (kh, kw), (sh, sw), (dh, dw) = kernels, strides, dilations
    b, c = x.shape[0], x.shape[3]
    oh = (x.shape[1] - span(kh, dh)) // sh + 1
    ow = (x.shape[2] - span(kw, dw)) // sw + 1
    n, k = b * oh * ow, kh * kw * c
    if c >= 8 and not ones:
        return im2col(x, kernels, strides, dilations).reshape(n, k)
    out = np.empty((n, k + 1 if ones else k), dtype=x.dtype)
    cols = out[:, :k].reshape(b, oh, ow, kh, kw, c)           # a view into out
    if c >= 8:
        cols[...] = im2col(x, kernels, strides, dilations)
    else:
        for i in range(kh):
            for j in range(kw):
                cols[:, :, :, i, j] = x[:, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                        j * dw:j * dw + sw * (ow - 1) + 1:sw]
    if ones:
        out[:, k] = 1
    return out


def col2im(cols, shape, strides, dilations=(1, 1)):
    """Backward of `im2col`: sum every window's gradient into an image of `shape`.

    cols is (batch, out_h, out_w, kh, kw, channels). One loop over the kernel taps (a few);
    each step adds, for all windows at once, the gradient of one tap to the pixels that tap
    read: a strided slice of the image.
    """
    _, oh, ow, kh, kw, _ = cols.shape
    (sh, sw), (dh, dw) = strides, dilations
    out = np.zeros(shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, :, :, i, j]
    return out


def as_image(x):
    """A 1-D batch (batch, steps, channels) seen as an image of height 1."""
    return x[:, None]


# -- windows of any rank (Conv3D): (batch, *spatial, channels) ---------------------------------

def im2col_nd(x, kernels, strides, dilations):
    """All windows of an (already padded) batch as a matrix: one row per output position,
    (*kernel, channels) per row, the layout `kernel.reshape(-1, filters)` multiplies."""
    n = len(kernels)
    spans = tuple(span(k, d) for k, d in zip(kernels, dilations))
    windows = sliding_window_view(x, spans, axis=tuple(range(1, n + 1)))
    windows = windows[(slice(None),) + tuple(slice(None, None, s) for s in strides)
                      + (slice(None),) + tuple(slice(None, None, d) for d in dilations)]
    # (B, *out, C, *kernel) -> (B, *out, *kernel, C)
    order = (0, *range(1, n + 1), *range(n + 2, 2 * n + 2), n + 1)
    windows = windows.transpose(order)
    out = windows.shape[1:n + 1]
    return windows.reshape(-1, int(np.prod(kernels)) * x.shape[-1]), out


def col2im_nd(cols, shape, out, kernels, strides, dilations):
    """Backward of `im2col_nd`: cols (rows, *kernel, channels) summed into a padded batch of
    `shape`, one strided add per kernel tap."""
    n = len(kernels)
    cols = cols.reshape((shape[0],) + tuple(out) + tuple(kernels) + (shape[-1],))
    result = np.zeros(shape, dtype=cols.dtype)
    for tap in np.ndindex(*kernels):
        where = (slice(None),) + tuple(slice(t * d, t * d + s * (o - 1) + 1, s)
                                       for t, d, s, o in zip(tap, dilations, strides, out))
        result[where] += cols[(slice(None),) * (n + 1) + tap]
    return result
