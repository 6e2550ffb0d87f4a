"""Behaviour that the gradient checks and Keras parity do not pin down: randomness in training,
numerical safety of the activations, BatchNormalization's running statistics over steps."""
from __future__ import annotations

import math
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from netdesigner.backends.numpy import registry  # noqa: E402
from netdesigner.backends.numpy.layers import activations as A  # noqa: E402
from netdesigner.graph.params import ACTIVATIONS  # noqa: E402


def run(type_id, xs, params, weights=None, training=False, rng=0):
    outs, cache = registry.forward(type_id, xs, weights or {}, params, training, rng=rng)
    return outs, cache


# -- noise --------------------------------------------------------------------------------------

def test_dropout_drops_the_rate_and_scales_the_rest():
    x = np.ones((200, 100), np.float32)
    (y,), cache = run("Dropout", [x], {"rate": 0.25}, training=True)
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - 0.25) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.75)                 # inverted dropout
    assert abs(y.mean() - 1) < 0.02                                 # expectation kept
    (dx,), _ = registry.backward([np.ones_like(y)], cache)
    np.testing.assert_array_equal(dx, y)                            # same mask backwards


def test_dropout_is_the_identity_at_inference_and_repeatable_in_training():
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    (y,), _ = run("Dropout", [x], {"rate": 0.5}, training=False)
    assert y is x or np.array_equal(y, x)
    (a,), _ = run("Dropout", [x], {"rate": 0.5}, training=True, rng=3)
    (b,), _ = run("Dropout", [x], {"rate": 0.5}, training=True, rng=3)
    (c,), _ = run("Dropout", [x], {"rate": 0.5}, training=True, rng=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    (d,), _ = run("Dropout", [x], {"rate": 0.0}, training=True)
    assert np.array_equal(d, x)


@pytest.mark.parametrize("shape", [(40, 30, 50), (40, 3, 4, 50)])
def test_spatial_dropout_drops_whole_channels_in_training_only(shape):
    type_id = f"SpatialDropout{len(shape) - 2}D"
    x = np.ones(shape, np.float32)
    (y,), cache = run(type_id, [x], {"rate": 0.25}, training=True, rng=1)
    flat = y.reshape(shape[0], -1, shape[-1])
    assert (flat == flat[:, :1]).all()                    # one value per (sample, channel)
    assert abs((flat[:, 0] == 0).mean() - 0.25) < 0.03
    np.testing.assert_allclose(y[y != 0], 1 / 0.75)
    (dx,), _ = registry.backward([np.ones_like(y)], cache)
    np.testing.assert_array_equal(dx, y)
    (z,), _ = run(type_id, [x], {"rate": 0.25}, training=False)
    assert np.array_equal(z, x)


def test_gaussian_noise():
    x = np.zeros((300, 300), np.float32)
    (y,), cache = run("GaussianNoise", [x], {"stddev": 0.3}, training=True)
    assert y.dtype == np.float32 and abs(y.std() - 0.3) < 0.01 and abs(y.mean()) < 0.01
    (dx,), _ = registry.backward([np.full_like(y, 2)], cache)
    np.testing.assert_array_equal(dx, 2)
    (z,), _ = run("GaussianNoise", [x], {"stddev": 0.3}, training=False)
    assert not z.any()


def test_sampling_draws_from_the_right_normal_in_training_and_gives_the_mean_at_inference():
    mean = np.full((400, 400), 2.0, np.float32)
    log_var = np.full((400, 400), math.log(0.25), np.float32)     # std 0.5
    (z,), _ = run("Sampling", [mean, log_var], {}, training=True)
    assert z.dtype == np.float32
    assert abs(z.mean() - 2) < 0.01 and abs(z.std() - 0.5) < 0.01
    (z,), _ = run("Sampling", [mean, log_var], {}, training=False)
    np.testing.assert_array_equal(z, mean)


def test_sampling_adds_the_kl_divergence_and_its_gradient():
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(2, 5, 3))
    kernel = registry.get("Sampling")
    _, cache = kernel.forward([mean, log_var], {}, {"kl_weight": 0.5}, True, rng=rng)
    value, (d_mean, d_log_var) = kernel.added_loss(cache, {"kl_weight": 0.5})

    def kl(m, lv):        # closed form, averaged over the batch of 5, times the weight
        return 0.5 * -0.5 * np.sum(1 + lv - m ** 2 - np.exp(lv)) / 5
    assert value == pytest.approx(kl(mean, log_var))
    h = 1e-6
    for i in [(0, 0), (3, 2)]:
        step = np.zeros_like(mean)
        step[i] = h
        assert d_mean[i] == pytest.approx((kl(mean + step, log_var) - kl(mean - step, log_var))
                                          / (2 * h), rel=1e-6)
        assert d_log_var[i] == pytest.approx(
            (kl(mean, log_var + step) - kl(mean, log_var - step)) / (2 * h), rel=1e-6)
    assert kernel.added_loss(cache, {"kl_weight": 0.0})[0] == 0.0


def test_recurrent_dropout_only_in_training():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    params = {"units": 3, "dropout": 0.5, "recurrent_dropout": 0.5}
    w = registry.make_weights("LSTM", params, [(4, 2)], rng=0)
    (plain,), _ = run("LSTM", [x], {"units": 3}, w)
    (inference,), _ = run("LSTM", [x], params, w, training=False)
    (train,), _ = run("LSTM", [x], params, w, training=True)
    np.testing.assert_array_equal(plain, inference)
    assert not np.allclose(plain, train)


# -- activations --------------------------------------------------------------------------------

def test_erf_is_accurate_to_double_precision():
    x = np.linspace(-7, 7, 2001)
    np.testing.assert_allclose(A.erf(x), [math.erf(v) for v in x], rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_are_safe_for_extreme_inputs(name):
    x = np.array([[-1e4, -80.0, -1.0, 0.0, 1.0, 80.0, 1e4]], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # no overflow warnings
        y = A.activate(name, x)
        dx = A.activate_grad(name, np.ones_like(x), x, y)
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert np.isfinite(y).all() and np.isfinite(dx).all()


def test_softmax_rows_sum_to_one():
    x = np.random.default_rng(0).normal(size=(4, 3, 6)) * 50
    np.testing.assert_allclose(A.softmax(x).sum(axis=-1), 1)


def test_gelu_is_the_exact_form():
    x = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    phi = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(A.gelu(x), x * phi, rtol=1e-14, atol=1e-15)


# -- BatchNormalization over several steps ------------------------------------------------------

def test_batchnorm_running_statistics_match_keras_over_steps():
    import keras
    params = {"momentum": 0.8, "epsilon": 1e-3}
    rng = np.random.default_rng(0)
    batches = [rng.normal(2, 3, size=(8, 3, 3, 4)).astype(np.float32) for _ in range(3)]
    weights = registry.make_weights("BatchNormalization", params, [(3, 3, 4)], rng=0)
    weights["gamma"] = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    layer = keras.layers.BatchNormalization(**params)
    layer(batches[0], training=False)
    layer.set_weights(list(weights.values()))
    for x in batches:
        (y,), cache = run("BatchNormalization", [x], params, weights, training=True)
        weights.update(registry.updates(cache))
        expected = layer(x, training=True).numpy()
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(weights["moving_mean"], layer.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(weights["moving_variance"], layer.moving_variance.numpy(),
                               rtol=1e-5)
    # inference uses the running statistics
    (y,), _ = run("BatchNormalization", [batches[0]], params, weights, training=False)
    np.testing.assert_allclose(y, layer(batches[0], training=False).numpy(), rtol=1e-5,
                               atol=1e-5)


def test_batchnorm_inference_leaves_the_statistics_alone():
    x = np.ones((4, 3), np.float32)
    w = registry.make_weights("BatchNormalization", {}, [(3,)])
    _, cache = run("BatchNormalization", [x], {}, w, training=False)
    assert registry.updates(cache) == {}


# -- misc ----------------------------------------------------------------------------------------

def test_embedding_refuses_ids_outside_the_vocabulary():
    w = registry.make_weights("Embedding", {"input_dim": 5, "output_dim": 2}, [(3,)])
    with pytest.raises(IndexError, match="0 to 4"):
        run("Embedding", [np.array([[1, 5, 2]])], {"input_dim": 5, "output_dim": 2}, w)


def test_embedding_adds_the_gradients_of_repeated_ids():
    w = {"embeddings": np.zeros((4, 2), np.float32)}
    _, cache = run("Embedding", [np.array([[1, 1, 3]])], {"input_dim": 4, "output_dim": 2}, w)
    (dx,), grads = registry.backward([np.ones((1, 3, 2), np.float32)], cache)
    assert dx is None
    np.testing.assert_array_equal(grads["embeddings"], [[0, 0], [2, 2], [0, 0], [1, 1]])


def test_float64_stays_float64():
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 3))
    w = registry.make_weights("Conv2D", {"filters": 2, "padding": "same"}, [(6, 6, 3)],
                              dtype=np.float64)
    (y,), cache = run("Conv2D", [x], {"filters": 2, "padding": "same"}, w)
    (dx,), grads = registry.backward([np.ones_like(y)], cache)
    assert y.dtype == dx.dtype == grads["kernel"].dtype == np.float64
