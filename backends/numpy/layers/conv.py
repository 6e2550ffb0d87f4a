"""Convolutions: Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, DepthwiseConv2D and
SeparableConv2D.

A convolution is a Dense layer applied to every window of the image: collect the windows as the
rows of a matrix (`im2col`), multiply by the kernel seen as a matrix, and the result holds every
output pixel. Backward is the same in reverse: one matmul gives the kernel gradient, another
the gradient of every window, and `col2im` adds the windows' gradients back onto the pixels.

Kernels are stored as Keras stores them: Conv2D (kh, kw, in, filters), Conv1D (k, in, filters),
Conv3D (kd, kh, kw, in, filters), Conv2DTranspose (kh, kw, filters, in), Conv1DTranspose
(k, filters, in), DepthwiseConv2D (kh, kw, in, depth_multiplier).
"""
from __future__ import annotations

import numpy as np

from .. import initializers as init
from ..im2col import (as_image, col2im, col2im_nd, im2col, im2col_matrix, im2col_nd, pad,
                      paddings, same_padding, span, unpad)
from ..registry import NO_INPUT_GRAD, register
from .activations import activate, activate_grad


def pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# -- the core operations, without bias and activation ------------------------------------------

def conv_forward(x, kernel, strides, dilations, pads, bias=None):
    """x (B, H, W, C) * kernel (kh, kw, C, F) (+ bias) -> (B, oh, ow, F).

    With few input channels (a first layer) the bias rides along in the matmul: a column of
    ones in the window matrix and a bias row in the kernel matrix (a separate broadcast add
    over many short rows costs as much as the matmul there)."""
    xp = pad(x, pads)
    (kh, kw, c, f), (sh, sw), (dh, dw) = kernel.shape, strides, dilations
    oh = (xp.shape[1] - span(kh, dh)) // sh + 1
    ow = (xp.shape[2] - span(kw, dw)) // sw + 1
    folded = bias is not None and c < 8
    cols = im2col_matrix(xp, (kh, kw), strides, dilations, ones=folded)  # a row per pixel
    matrix = kernel.reshape(-1, f)
    if folded:
        matrix = np.concatenate([matrix, bias.reshape(1, f).astype(matrix.dtype)])
    z = cols @ matrix
    if bias is not None and not folded:
        np.add(z, bias, out=z)
    return z.reshape(len(x), oh, ow, f), (cols, kernel, xp.shape, strides, dilations, pads,
                                          folded)


def conv_backward(dz, cache, need_dx=True, bias=False):
    """-> (dx, dkernel, dbias); dx is None when not `need_dx`, dbias None without `bias`."""
    cols, kernel, padded_shape, strides, dilations, pads, folded = cache
    filters = kernel.shape[-1]
    dz2 = dz.reshape(-1, filters)
    dmatrix = cols.T @ dz2
    if folded:
        dkernel, dbias = dmatrix[:-1].reshape(kernel.shape), dmatrix[-1]
    else:
        dkernel, dbias = dmatrix.reshape(kernel.shape), (bias_gradient(dz2) if bias else None)
    if not need_dx:
        return None, dkernel, dbias
    if kernel.shape[2] >= 8:
        dxp = input_grad(dz2, kernel, dz.shape[:3], padded_shape, strides, dilations)
    else:                               # few channels: one matmul, then add the windows up
        dcols = (dz2 @ kernel.reshape(-1, filters).T).reshape(dz.shape[:3] + kernel.shape[:3])
        dxp = col2im(dcols, padded_shape, strides, dilations)
    return unpad(dxp, pads), dkernel, dbias


def input_grad(dz2, kernel, out_shape, padded_shape, strides, dilations):
    """col2im(dz @ kernel^T), one kernel tap at a time: each tap's (pixels, channels) block is
    one matmul and lands on the image as one strided add of whole rows. Cheaper than forming
    every window's gradient first (the windows' rows interleave the taps)."""
    kh, kw, c, f = kernel.shape
    b, oh, ow = out_shape
    (sh, sw), (dh, dw) = strides, dilations
    out = np.zeros(padded_shape, dtype=dz2.dtype)
    taps = kernel.reshape(kh * kw, c, f)
    block = np.empty((len(dz2), c), dtype=np.result_type(dz2, kernel))
    for t in range(kh * kw):
        i, j = divmod(t, kw)
        np.matmul(dz2, taps[t].T, out=block)
        out[:, i * dh:i * dh + sh * (oh - 1) + 1:sh,
            j * dw:j * dw + sw * (ow - 1) + 1:sw] += block.reshape(b, oh, ow, c)
    return out


def depthwise_forward(x, kernel, strides, dilations, pads):
    """Each channel convolved with its own filters: kernel (kh, kw, C, M) -> (B, oh, ow, C*M).

    Per channel c it is a matmul of that channel's windows (N, kh*kw) with its (kh*kw, M)
    filters; the C matmuls run as one batched matmul.
    """
    kh, kw, c, m = kernel.shape
    xp = pad(x, pads)
    windows = im2col(xp, (kh, kw), strides, dilations)
    b, oh, ow = windows.shape[:3]
    cols = windows.reshape(b * oh * ow, kh * kw, c).transpose(2, 0, 1)     # (C, N, taps)
    k = kernel.reshape(kh * kw, c, m).transpose(1, 0, 2)                     # (C, taps, M)
    z = (cols @ k).transpose(1, 0, 2)                                        # (N, C, M)
    return z.reshape(b, oh, ow, c * m), (cols, k, kernel.shape, xp.shape, strides, dilations,
                                         pads)


def depthwise_backward(dz, cache, need_dx=True):
    """-> (dx, dkernel); dx is None when not `need_dx`."""
    cols, k, kernel_shape, padded_shape, strides, dilations, pads = cache
    kh, kw, c, m = kernel_shape
    dzc = dz.reshape(-1, c, m).transpose(1, 0, 2)                            # (C, N, M)
    dkernel = (cols.transpose(0, 2, 1) @ dzc).transpose(1, 0, 2).reshape(kernel_shape)
    if not need_dx:
        return None, dkernel
    dcols = (dzc @ k.transpose(0, 2, 1)).transpose(1, 2, 0)                  # (N, taps, C)
    dcols = dcols.reshape(dz.shape[:3] + (kh, kw, c))
    return unpad(col2im(dcols, padded_shape, strides, dilations), pads), dkernel


def bias_activation(z, weights, params):
    """Bias (in place: z is a fresh array) and activation -> (z, y)."""
    if params["use_bias"]:
        np.add(z, weights["bias"], out=z)
    return z, activation(z, params)


def activation(z, params):
    """The layer's activation of a fresh z; a ReLU in place (its gradient needs only the sign,
    which y keeps), so then y is z."""
    if params["activation"] == "relu":
        return np.maximum(z, 0, out=z)
    return activate(params["activation"], z)


def _grads(dkernel, dbias):
    return {"kernel": dkernel} if dbias is None else {"kernel": dkernel, "bias": dbias}


def bias_gradient(dz):
    """The sum of dz over every axis but the last, as one matrix-vector product (much faster
    than a column sum over many rows)."""
    dz2 = dz.reshape(-1, dz.shape[-1])
    return np.ones(len(dz2), dz.dtype) @ dz2


def bias_activation_grad(dy, z, y, params, grads):
    """dz from dy; adds the bias gradient to grads."""
    dz = activate_grad(params["activation"], dy, z, y)
    if params["use_bias"]:
        grads["bias"] = bias_gradient(dz)
    return dz


def with_bias(weights, params, units, dtype):
    if params["use_bias"]:
        weights["bias"] = init.zeros((units,), dtype=dtype)
    return weights


# -- Conv2D and Conv1D -------------------------------------------------------------------------

@register("Conv2D")
class Conv2D:
    def weights(params, input_shape, rng, dtype):
        kh, kw = params["kernel_size"]
        shape = (kh, kw, input_shape[-1], params["filters"])
        return with_bias({"kernel": init.glorot_uniform(shape, rng, dtype)}, params,
                         params["filters"], dtype)

    def forward(x, weights, params, training):
        kernels, strides = pair(params["kernel_size"]), pair(params["strides"])
        dilations = pair(params["dilation_rate"])
        pads = paddings(params["padding"], x.shape[1:3], kernels, strides, dilations)
        z, conv = conv_forward(x, weights["kernel"], strides, dilations, pads,
                               weights["bias"] if params["use_bias"] else None)
        y = activation(z, params)
        return y, (conv, z, y, params)

    def backward(dy, cache):
        conv, z, y, params = cache
        dz = activate_grad(params["activation"], dy, z, y)
        dx, dkernel, dbias = conv_backward(dz, conv, not params.get(NO_INPUT_GRAD),
                                           params["use_bias"])
        return dx, _grads(dkernel, dbias)


@register("Conv1D")
class Conv1D:
    """Conv2D on an image of height 1. padding='causal' pads only the start of the sequence."""

    def weights(params, input_shape, rng, dtype):
        shape = (params["kernel_size"], input_shape[-1], params["filters"])
        return with_bias({"kernel": init.glorot_uniform(shape, rng, dtype)}, params,
                         params["filters"], dtype)

    def forward(x, weights, params, training):
        kernels, strides = (1, params["kernel_size"]), (1, params["strides"])
        dilations = (1, params["dilation_rate"])
        pads = paddings(params["padding"], (1, x.shape[1]), kernels, strides, dilations)
        z, conv = conv_forward(as_image(x), weights["kernel"][None], strides, dilations, pads,
                               weights["bias"] if params["use_bias"] else None)
        z = z[:, 0]
        y = activation(z, params)
        return y, (conv, z, y, params)

    def backward(dy, cache):
        conv, z, y, params = cache
        dz = activate_grad(params["activation"], dy, z, y)
        dx, dkernel, dbias = conv_backward(as_image(dz), conv, not params.get(NO_INPUT_GRAD),
                                           params["use_bias"])
        return (None if dx is None else dx[:, 0]), _grads(dkernel[0], dbias)


@register("Conv3D")
class Conv3D:
    """Conv2D with a third spatial axis: the windows of the padded volume as the rows of one
    matrix (`im2col_nd`), one matmul with the kernel; backward, one matmul each for the kernel
    and the windows' gradients, and `col2im_nd` adds those back onto the voxels."""

    def weights(params, input_shape, rng, dtype):
        shape = tuple(params["kernel_size"]) + (input_shape[-1], params["filters"])
        return with_bias({"kernel": init.glorot_uniform(shape, rng, dtype)}, params,
                         params["filters"], dtype)

    def forward(x, weights, params, training):
        kernels, strides = tuple(params["kernel_size"]), tuple(params["strides"])
        dilations = tuple(params["dilation_rate"])
        pads = paddings(params["padding"], x.shape[1:4], kernels, strides, dilations)
        xp = pad(x, pads)
        cols, out = im2col_nd(xp, kernels, strides, dilations)
        kernel = weights["kernel"]
        z = (cols @ kernel.reshape(-1, kernel.shape[-1])).reshape((len(x),) + out
                                                                   + (kernel.shape[-1],))
        z, y = bias_activation(z, weights, params)
        return y, (cols, out, kernel, xp.shape, pads, z, y, params)

    def backward(dy, cache):
        cols, out, kernel, padded_shape, pads, z, y, params = cache
        grads = {}
        dz = bias_activation_grad(dy, z, y, params, grads)
        dz2 = dz.reshape(-1, kernel.shape[-1])
        matrix = kernel.reshape(-1, kernel.shape[-1])
        dkernel = (cols.T @ dz2).reshape(kernel.shape)
        if params.get(NO_INPUT_GRAD):
            return None, dict(kernel=dkernel, **grads)
        dxp = col2im_nd(dz2 @ matrix.T, padded_shape, out, kernel.shape[:3],
                        tuple(params["strides"]), tuple(params["dilation_rate"]))
        return unpad(dxp, pads), dict(kernel=dkernel, **grads)


# -- Conv2DTranspose ---------------------------------------------------------------------------

def transpose_geometry(size, kernel, stride, padding):
    """(output length, padding cut from the start) of a transposed convolution along one axis.

    It is the backward pass of a convolution that maps `output length` pixels to `size`."""
    if padding == "valid":
        return size * stride + max(kernel - stride, 0), 0
    out = size * stride
    return out, same_padding(out, kernel, stride)[0]


@register("Conv2DTranspose")
class Conv2DTranspose:
    """Every input pixel stamps a copy of the kernel, scaled by its value, onto the output,
    `strides` pixels apart; overlapping stamps add up. Exactly Conv2D's backward pass."""

    def weights(params, input_shape, rng, dtype):
        kh, kw = params["kernel_size"]
        shape = (kh, kw, params["filters"], input_shape[-1])
        return with_bias({"kernel": init.glorot_uniform(shape, rng, dtype)}, params,
                         params["filters"], dtype)

    def forward(x, weights, params, training):
        kernel = weights["kernel"]
        kh, kw, filters, channels = kernel.shape
        b, h, w, _ = x.shape
        strides = pair(params["strides"])
        (oh, top), (ow, left) = (transpose_geometry(n, k, s, params["padding"])
                                 for n, k, s in zip((h, w), (kh, kw), strides))
        # each input pixel times the kernel: its stamp (kh, kw, filters)
        stamps = x.reshape(-1, channels) @ kernel.reshape(-1, channels).T
        stamps = stamps.reshape(b, h, w, kh, kw, filters)
        full = (b, max((h - 1) * strides[0] + kh, top + oh),
                max((w - 1) * strides[1] + kw, left + ow), filters)
        z = col2im(stamps, full, strides)[:, top:top + oh, left:left + ow]
        z, y = bias_activation(z, weights, params)
        return y, (x, kernel, full, (top, left), strides, z, y, params)

    def backward(dy, cache):
        x, kernel, full, (top, left), strides, z, y, params = cache
        kh, kw, filters, channels = kernel.shape
        b, h, w, _ = x.shape
        grads = {}
        dz = bias_activation_grad(dy, z, y, params, grads)
        dfull = np.zeros(full, dtype=dz.dtype)
        dfull[:, top:top + dz.shape[1], left:left + dz.shape[2]] = dz
        dstamps = im2col(dfull, (kh, kw), strides)[:, :h, :w].reshape(b * h * w, -1)
        dkernel = (dstamps.T @ x.reshape(-1, channels)).reshape(kernel.shape)
        if params.get(NO_INPUT_GRAD):
            return None, dict(kernel=dkernel, **grads)
        dx = (dstamps @ kernel.reshape(-1, channels)).reshape(x.shape)
        return dx, dict(kernel=dkernel, **grads)


@register("Conv1DTranspose")
class Conv1DTranspose:
    """Conv2DTranspose on an image of height 1; the kernel is Keras's (k, filters, in)."""

    def weights(params, input_shape, rng, dtype):
        shape = (params["kernel_size"], params["filters"], input_shape[-1])
        return with_bias({"kernel": init.glorot_uniform(shape, rng, dtype)}, params,
                         params["filters"], dtype)

    def forward(x, weights, params, training):
        p2 = dict(params, kernel_size=(1, params["kernel_size"]), strides=(1, params["strides"]))
        w2 = dict(weights, kernel=weights["kernel"][None])
        y, cache = Conv2DTranspose.forward(as_image(x), w2, p2, training)
        return y[:, 0], cache

    def backward(dy, cache):
        dx, grads = Conv2DTranspose.backward(dy[:, None], cache)
        grads["kernel"] = grads["kernel"][0]
        return (None if dx is None else dx[:, 0]), grads


# -- DepthwiseConv2D and SeparableConv2D -------------------------------------------------------

def _depthwise_kernel(params, input_shape, rng, dtype):
    kh, kw = params["kernel_size"]
    return init.glorot_uniform((kh, kw, input_shape[-1], params["depth_multiplier"]), rng, dtype)


def _geometry(params, x):
    kernels, strides = pair(params["kernel_size"]), pair(params["strides"])
    dilations = pair(params["dilation_rate"])
    return strides, dilations, paddings(params["padding"], x.shape[1:3], kernels, strides,
                                        dilations)


@register("DepthwiseConv2D")
class DepthwiseConv2D:
    def weights(params, input_shape, rng, dtype):
        w = {"kernel": _depthwise_kernel(params, input_shape, rng, dtype)}
        return with_bias(w, params, input_shape[-1] * params["depth_multiplier"], dtype)

    def forward(x, weights, params, training):
        z, conv = depthwise_forward(x, weights["kernel"], *_geometry(params, x))
        z, y = bias_activation(z, weights, params)
        return y, (conv, z, y, params)

    def backward(dy, cache):
        conv, z, y, params = cache
        grads = {}
        dz = bias_activation_grad(dy, z, y, params, grads)
        dx, dkernel = depthwise_backward(dz, conv, not params.get(NO_INPUT_GRAD))
        return dx, dict(kernel=dkernel, **grads)


@register("SeparableConv2D")
class SeparableConv2D:
    """A depthwise convolution, then a 1x1 convolution (a Dense on every pixel) to mix channels."""

    def weights(params, input_shape, rng, dtype):
        mid = input_shape[-1] * params["depth_multiplier"]
        w = {"depthwise_kernel": _depthwise_kernel(params, input_shape, rng, dtype),
             "pointwise_kernel": init.glorot_uniform((1, 1, mid, params["filters"]), rng, dtype)}
        return with_bias(w, params, params["filters"], dtype)

    def forward(x, weights, params, training):
        mid, depthwise = depthwise_forward(x, weights["depthwise_kernel"], *_geometry(params, x))
        pointwise = weights["pointwise_kernel"]
        z = mid @ pointwise[0, 0]
        z, y = bias_activation(z, weights, params)
        return y, (depthwise, mid, pointwise, z, y, params)

    def backward(dy, cache):
        depthwise, mid, pointwise, z, y, params = cache
        grads = {}
        dz = bias_activation_grad(dy, z, y, params, grads)
        channels = mid.shape[-1]
        dpointwise = mid.reshape(-1, channels).T @ dz.reshape(-1, dz.shape[-1])
        dmid = dz @ pointwise[0, 0].T
        dx, ddepthwise = depthwise_backward(dmid, depthwise, not params.get(NO_INPUT_GRAD))
        return dx, dict(depthwise_kernel=ddepthwise,
                        pointwise_kernel=dpointwise.reshape(pointwise.shape), **grads)
