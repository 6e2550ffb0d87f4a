"""Convolutions: Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D and SeparableConv2D.

A convolution is a Dense layer applied to every window of the image: collect the windows as the
rows of a matrix (`im2col`), multiply by the kernel seen as a matrix, and the result holds every
output pixel. Backward is the same in reverse: one matmul gives the kernel gradient, another
the gradient of every window, and `col2im` adds the windows' gradients back onto the pixels.

Kernels are stored as Keras stores them: Conv2D (kh, kw, in, filters), Conv1D (k, in, filters),
Conv2DTranspose (kh, kw, filters, in), DepthwiseConv2D (kh, kw, in, depth_multiplier).
"""
from __future__ import annotations

import numpy as np

from .. import initializers as init
from ..im2col import as_image, col2im, im2col, pad, paddings, same_padding, unpad
from ..registry import register
from .activations import activate, activate_grad


def pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# -- the core operations, without bias and activation ------------------------------------------

def conv_forward(x, kernel, strides, dilations, pads):
    """x (B, H, W, C) * kernel (kh, kw, C, F) -> (B, oh, ow, F)."""
    xp = pad(x, pads)
    windows = im2col(xp, kernel.shape[:2], strides, dilations)
    b, oh, ow = windows.shape[:3]
    cols = windows.reshape(b * oh * ow, -1)              # one row per output pixel (a copy)
    z = cols @ kernel.reshape(-1, kernel.shape[-1])
    return z.reshape(b, oh, ow, -1), (cols, kernel, xp.shape, strides, dilations, pads)


def conv_backward(dz, cache):
    """-> (dx, dkernel)."""
    cols, kernel, padded_shape, strides, dilations, pads = cache
    filters = kernel.shape[-1]
    dz2 = dz.reshape(-1, filters)
    dkernel = (cols.T @ dz2).reshape(kernel.shape)
    dcols = (dz2 @ kernel.reshape(-1, filters).T).reshape(dz.shape[:3] + kernel.shape[:3])
    return unpad(col2im(dcols, padded_shape, strides, dilations), pads), dkernel


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


def depthwise_backward(dz, cache):
    """-> (dx, dkernel)."""
    cols, k, kernel_shape, padded_shape, strides, dilations, pads = cache
    kh, kw, c, m = kernel_shape
    dzc = dz.reshape(-1, c, m).transpose(1, 0, 2)                            # (C, N, M)
    dkernel = (cols.transpose(0, 2, 1) @ dzc).transpose(1, 0, 2).reshape(kernel_shape)
    dcols = (dzc @ k.transpose(0, 2, 1)).transpose(1, 2, 0)                  # (N, taps, C)
    dcols = dcols.reshape(dz.shape[:3] + (kh, kw, c))
    return unpad(col2im(dcols, padded_shape, strides, dilations), pads), dkernel


def bias_activation(z, weights, params):
    if params["use_bias"]:
        z = z + weights["bias"]
    return z, activate(params["activation"], z)


def bias_activation_grad(dy, z, y, params, grads):
    """dz from dy; adds the bias gradient to grads."""
    dz = activate_grad(params["activation"], dy, z, y)
    if params["use_bias"]:
        grads["bias"] = dz.reshape(-1, dz.shape[-1]).sum(axis=0)
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
        z, conv = conv_forward(x, weights["kernel"], strides, dilations, pads)
        z, y = bias_activation(z, weights, params)
        return y, (conv, z, y, params)

    def backward(dy, cache):
        conv, z, y, params = cache
        grads = {}
        dz = bias_activation_grad(dy, z, y, params, grads)
        dx, dkernel = conv_backward(dz, conv)
        return dx, dict(kernel=dkernel, **grads)


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
        z, conv = conv_forward(as_image(x), weights["kernel"][None], strides, dilations, pads)
        z, y = bias_activation(z[:, 0], weights, params)
        return y, (conv, z, y, params)

    def backward(dy, cache):
        conv, z, y, params = cache
        grads = {}
        dz = bias_activation_grad(dy, z, y, params, grads)
        dx, dkernel = conv_backward(as_image(dz), conv)
        return dx[:, 0], dict(kernel=dkernel[0], **grads)


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
        dx = (dstamps @ kernel.reshape(-1, channels)).reshape(x.shape)
        dkernel = (dstamps.T @ x.reshape(-1, channels)).reshape(kernel.shape)
        return dx, dict(kernel=dkernel, **grads)


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
        dx, dkernel = depthwise_backward(dz, conv)
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
        dx, ddepthwise = depthwise_backward(dmid, depthwise)
        return dx, dict(depthwise_kernel=ddepthwise,
                        pointwise_kernel=dpointwise.reshape(pointwise.shape), **grads)
