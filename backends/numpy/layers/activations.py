"""Activation functions and the Activation layer.

Each function comes as a pair: `f(x) -> y` and `f_grad(dy, x, y) -> dx`, the vector-Jacobian
product (the chain rule: how a change of y changes the loss, carried back to x). Most
derivatives are cheaper to write with the output y (sigmoid' = y (1 - y)), so both are given.

Layers with an `activation` parameter (Dense, Conv2D, the RNNs) call `activate` and
`activate_grad` with the name.
"""
from __future__ import annotations

import math

import numpy as np

from ..registry import register


# -- the functions ----------------------------------------------------------------------------

def linear(x):
    return x


def linear_grad(dy, x, y):
    return dy


def relu(x):
    return np.maximum(x, 0)


def relu_grad(dy, x, y):
    return dy * (x > 0)


def relu6(x):
    """ReLU capped at 6 (MobileNet): keeps activations in a range that low precision holds."""
    return np.clip(x, 0, 6)


def relu6_grad(dy, x, y):
    return dy * ((x > 0) & (x < 6))


def leaky_relu(x, negative_slope=0.2):
    return np.where(x > 0, x, x * negative_slope)


def leaky_relu_grad(dy, x, y, negative_slope=0.2):
    return np.where(x > 0, dy, dy * negative_slope)


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_grad(dy, x, y, alpha=1.0):
    return np.where(x > 0, dy, dy * (y + alpha))          # d/dx alpha (e^x - 1) = y + alpha


def sigmoid(x):
    e = np.exp(-np.abs(x))                                  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(dy, x, y):
    return dy * y * (1 - y)


def tanh(x):
    return np.tanh(x)


def tanh_grad(dy, x, y):
    return dy * (1 - y * y)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))         # shift: same result, no overflow
    return e / e.sum(axis=axis, keepdims=True)


def softmax_grad(dy, x, y, axis=-1):
    # Jacobian dy_i/dx_j = y_i (delta_ij - y_j), applied to dy without forming it.
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def swish(x):
    return x * sigmoid(x)


def swish_grad(dy, x, y):
    s = sigmoid(x)
    return dy * (s + x * s * (1 - s))


# Chebyshev coefficients of erfc (Numerical Recipes, 3rd ed., section 6.2.2): with these 28
# terms erf is accurate to double precision, using NumPy only.
_ERFC_COEFFICIENTS = (
    -1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
    -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
    -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9,
    5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12,
    -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15,
    -9.4e-17, 1.21e-16, -2.8e-17)


def erf(x):
    """The error function, element-wise (NumPy has none)."""
    z = np.abs(np.asarray(x, dtype=np.float64))
    t = 2 / (2 + z)
    ty = 4 * t - 2
    d = dd = 0.0
    for c in _ERFC_COEFFICIENTS[:0:-1]:                     # Clenshaw's recurrence
        d, dd = ty * d - dd + c, d
    erfc = t * np.exp(-z * z + 0.5 * (_ERFC_COEFFICIENTS[0] + ty * d) - dd)
    return (np.sign(x) * (1 - erfc)).astype(np.result_type(x, np.float32))


def gelu(x):
    """x * Phi(x), Phi the standard normal CDF (the exact form, Keras's default)."""
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def gelu_grad(dy, x, y):
    cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return dy * (cdf + x * pdf)


FUNCTIONS = {
    "linear": (linear, linear_grad),
    "relu": (relu, relu_grad),
    "relu6": (relu6, relu6_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "elu": (elu, elu_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "softmax": (softmax, softmax_grad),
    "swish": (swish, swish_grad),
    "gelu": (gelu, gelu_grad),
}


def activate(name, x, **options):
    """Apply the named activation (options: negative_slope for leaky_relu, alpha for elu)."""
    return FUNCTIONS[name][0](x, **options)


def activate_grad(name, dy, x, y, **options):
    """Carry dy back through the named activation, given its input x and output y."""
    return FUNCTIONS[name][1](dy, x, y, **options)


# -- the Activation layer ---------------------------------------------------------------------

def _options(params):
    name = params["activation"]
    if name == "leaky_relu":
        return {"negative_slope": params["negative_slope"]}
    if name == "elu":
        return {"alpha": params["alpha"]}
    return {}


@register("Activation")
class Activation:
    """y = f(x). PReLU is a leaky ReLU whose slopes alpha are learned, one per input value."""

    def weights(params, input_shape, rng, dtype):
        if params["activation"] != "prelu":
            return {}
        return {"alpha": np.zeros(input_shape, dtype)}          # Keras: alpha starts at 0

    def forward(x, weights, params, training):
        name = params["activation"]
        if name == "prelu":
            alpha = weights["alpha"]
            y = np.where(x > 0, x, alpha * x)
        else:
            y = activate(name, x, **_options(params))
        return y, (name, x, y, weights.get("alpha"), _options(params))

    def backward(dy, cache):
        name, x, y, alpha, options = cache
        if name == "prelu":
            negative = np.minimum(x, 0)
            return np.where(x > 0, dy, alpha * dy), {"alpha": (dy * negative).sum(axis=0)}
        return activate_grad(name, dy, x, y, **options), {}


@register("Rescaling")
class Rescaling:
    """y = x * scale + offset: a fixed affine map, dy/dx = scale."""
    def forward(x, weights, params, training):
        scale = np.asarray(params["scale"], x.dtype)
        return x * scale + np.asarray(params["offset"], x.dtype), scale

    def backward(dy, scale):
        return dy * scale, {}
