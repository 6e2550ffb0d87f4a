"""The kernels' fast paths, each against Keras or against the plain path: max pooling with
ties (the first maximum takes the gradient, as in TensorFlow), convolutions with the bias
folded into the matmul (few input channels) or added after it, tap-by-tap input gradients,
and the skipped input gradient of a network's first layer."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from netdesigner.backends.numpy import registry  # noqa: E402
from netdesigner.backends.numpy.im2col import pad  # noqa: E402


@pytest.mark.parametrize("kind", ["Max", "Average"])
@pytest.mark.parametrize("pool,strides,padding", [((2, 2), None, "valid"),
                                                  ((3, 3), (2, 2), "same"),
                                                  ((2, 2), (1, 1), "valid"),
                                                  ((3, 2), (1, 2), "same")])
def test_pooling_with_ties_matches_tensorflow(kind, pool, strides, padding):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (2, 7, 6, 3)).astype(np.float32)       # many equal values
    params = {"pool_size": pool, "strides": strides, "padding": padding}
    (y,), cache = registry.forward(f"{kind}Pooling2D", [x], {}, params)
    r = rng.normal(size=y.shape).astype(np.float32)
    (dx,), _ = registry.backward([r], cache)
    layer = getattr(keras.layers, f"{kind}Pooling2D")(pool, strides, padding)
    t = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        k = layer(t)
        loss = tf.reduce_sum(k * r)
    np.testing.assert_allclose(y, k.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, tape.gradient(loss, t).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 3, 8, 20])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("geometry", [dict(strides=(1, 1), padding="same"),
                                      dict(strides=(2, 1), padding="valid",
                                           dilation_rate=(1, 1)),
                                      dict(strides=(1, 1), padding="valid",
                                           dilation_rate=(2, 2))])
def test_convolution_paths_match_keras(channels, use_bias, geometry):
    rng = np.random.default_rng(channels)
    params = dict(filters=5, kernel_size=(3, 3), activation="relu", use_bias=use_bias,
                  **geometry)
    x = rng.normal(size=(3, 9, 8, channels)).astype(np.float32)
    w = registry.make_weights("Conv2D", params, [x.shape[1:]], rng)
    if use_bias:
        w["bias"] = rng.normal(size=w["bias"].shape).astype(np.float32)
    (y,), cache = registry.forward("Conv2D", [x], w, params)
    r = rng.normal(size=y.shape).astype(np.float32)
    (dx,), grads = registry.backward([r], cache)
    layer = keras.layers.Conv2D(**params)
    t = tf.constant(x)
    layer(t)
    layer.set_weights(list(w.values()))
    with tf.GradientTape() as tape:
        tape.watch(t)
        loss = tf.reduce_sum(layer(t) * r)
    k_dx, *k_grads = tape.gradient(loss, [t] + layer.trainable_weights)
    np.testing.assert_allclose(y, layer(t).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, k_dx.numpy(), rtol=1e-4, atol=1e-4)
    for (name, g), k in zip(grads.items(), k_grads):
        np.testing.assert_allclose(g, k.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)

    # a first layer skips its input gradient and keeps the same weight gradients
    skip = dict(params, **{registry.NO_INPUT_GRAD: True})
    kernel = registry.get("Conv2D")
    _, cache2 = kernel.forward(x, w, registry.full_params("Conv2D", skip), False)
    dx2, grads2 = kernel.backward(r, cache2)
    assert dx2 is None
    for name in grads:
        np.testing.assert_array_equal(grads2[name], grads[name])


def test_dense_first_layer_skips_its_input_gradient():
    rng = np.random.default_rng(1)
    p = registry.full_params("Dense", {"units": 3, "activation": "tanh"})
    w = registry.make_weights("Dense", p, [(4,)], rng)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    kernel = registry.get("Dense")
    _, c1 = kernel.forward(x, w, p, True)
    _, c2 = kernel.forward(x, w, dict(p, **{registry.NO_INPUT_GRAD: True}), True)
    dy = rng.normal(size=(5, 3)).astype(np.float32)
    dx1, g1 = kernel.backward(dy, c1)
    dx2, g2 = kernel.backward(dy, c2)
    assert dx1.shape == x.shape and dx2 is None
    for k in g1:
        np.testing.assert_array_equal(g1[k], g2[k])


def test_pad_matches_numpy_pad():
    x = np.arange(2 * 3 * 4 * 2, dtype=np.float32).reshape(2, 3, 4, 2)
    for pads, value in ((((1, 2), (0, 3)), 0.0), (((2, 0), (1, 1)), -np.inf)):
        np.testing.assert_array_equal(
            pad(x, pads, value), np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value))
    assert pad(x, ((0, 0), (0, 0))) is x
