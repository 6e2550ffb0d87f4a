"""Keras as the oracle: the same layer, the same weights, the same outputs and gradients.

For every case, the Keras layer is built directly (keras.layers.X(...) with the same params),
called once to build it, loaded with our weights by `set_weights`, and differentiated with
`tf.GradientTape` on L = sum(y * r) for a fixed random r, as our backward pass is.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from netdesigner.backends.numpy import registry  # noqa: E402
from tests.backends.numpy.numpy_backend_cases import CASES, Case  # noqa: E402

OUT_RTOL, OUT_ATOL = 1e-5, 1e-5
GRAD_TOL = 1e-4

NOT_KERAS_PARAMS = {"l1", "l2"}


class KerasSampling(keras.layers.Layer):
    """The Sampling layer of the Keras VAE example, with the noise handed in."""

    def __init__(self, eps):
        super().__init__()
        self.eps = tf.constant(eps)

    def call(self, inputs, training=None):
        mean, log_var = inputs
        if not training:                # ours returns the mean at inference
            return mean
        return mean + tf.exp(0.5 * log_var) * self.eps


def keras_layer(case: Case, p: dict, seed: int):
    L = keras.layers
    kw = {k: v for k, v in p.items() if k not in NOT_KERAS_PARAMS}
    t = case.type_id
    if t == "Activation":
        name = p["activation"]
        if name == "leaky_relu":
            return L.LeakyReLU(negative_slope=p["negative_slope"])
        if name == "elu":
            return L.ELU(alpha=p["alpha"])
        if name == "prelu":
            return L.PReLU()
        return L.Activation(name)
    if t == "TimeDistributed":
        return L.TimeDistributed(L.Dense(**kw))
    if t == "Bidirectional":
        inner = {k: v for k, v in kw.items() if k not in ("layer", "merge_mode")}
        if p["layer"] != "GRU":
            inner.pop("reset_after")
        if p["layer"] == "SimpleRNN":
            inner.pop("recurrent_activation")
        mode = None if p["merge_mode"] == "none" else p["merge_mode"]
        return L.Bidirectional(getattr(L, p["layer"])(**inner), merge_mode=mode)
    if t == "ZeroPadding2D":
        pad = p["padding"]
        top, bottom, left, right = (pad[0], pad[0], pad[1], pad[1]) if len(pad) == 2 else pad
        return L.ZeroPadding2D(((top, bottom), (left, right)))
    if t == "Cropping2D":
        c = p["cropping"]
        top, bottom, left, right = (c[0], c[0], c[1], c[1]) if len(c) == 2 else c
        return L.Cropping2D(((top, bottom), (left, right)))
    if t == "ActivityRegularization":         # its l1/l2 are not weight penalties
        return L.ActivityRegularization(l1=p["l1"], l2=p["l2"])
    if t == "PositionEmbedding":              # this project's own Keras layer
        from netdesigner.backends.keras.position import PositionEmbedding
        return PositionEmbedding(**kw)
    if t == "RBF":                            # this project's own Keras layer
        from netdesigner.backends.keras.radial import RBF
        return RBF(**kw)
    if t == "Sampling":
        rng = np.random.default_rng(seed)     # the noise our kernel draws from this seed
        return KerasSampling(rng.standard_normal(case.shapes[0]).astype(np.float32))
    return getattr(L, t)(**kw)


def call_keras(case, layer, tensors, training):
    if case.type_id == "MultiHeadAttention":
        return layer(*tensors, training=training)
    if case.type_id in ("SimpleRNN", "LSTM", "GRU"):     # the states are keyword arguments
        return layer(tensors[0], initial_state=list(tensors[1:]) or None, training=training)
    many = registry.get(case.type_id).many_inputs
    return layer(tensors if many else tensors[0], training=training)


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def keras_run(case, xs, weights, rs, training, seed=0):
    """Keras's outputs, input gradients and weight gradients (and the layer, for its state)."""
    layer = keras_layer(case, case.full_params(), seed)
    tensors = [tf.constant(x) for x in xs]
    call_keras(case, layer, tensors, False)               # builds the weights
    assert [tuple(w.shape) for w in layer.weights] == [w.shape for w in weights.values()], \
        "weights differ from Keras's in number, order or shape"
    layer.set_weights(list(weights.values()))
    getattr(layer, "finalize_state", lambda: None)()      # Normalization's statistics
    watched = [t for i, t in enumerate(tensors) if i not in case.ids]
    with tf.GradientTape() as tape:
        tape.watch(watched)
        outs = as_list(call_keras(case, layer, tensors, training))
        loss = tf.add_n([tf.reduce_sum(o * r) for o, r in zip(outs, rs)])
    grads = tape.gradient(loss, watched + list(layer.weights))
    dxs = grads[:len(watched)]
    dws = dict(zip(weights, grads[len(watched):]))
    return [o.numpy() for o in outs], dxs, dws, layer


def check_parity(case: Case, seed=0):
    rng = np.random.default_rng(seed)
    xs = case.inputs(rng, np.float32)
    weights = case.weights(rng, np.float32)
    outs, cache = registry.forward(case.type_id, xs, weights, case.params, case.training,
                                   rng=seed)
    rs = [rng.normal(size=o.shape).astype(np.float32) for o in outs]
    dxs, grads = registry.backward(rs, cache)

    k_outs, k_dxs, k_grads, layer = keras_run(case, xs, weights, rs, case.training, seed)
    assert len(outs) == len(k_outs)
    for i, (o, k) in enumerate(zip(outs, k_outs)):
        assert o.dtype == np.float32, f"output {i} is {o.dtype}"
        assert o.shape == k.shape, f"output {i}: shape {o.shape}, Keras {k.shape}"
        np.testing.assert_allclose(o, k, rtol=OUT_RTOL, atol=OUT_ATOL, err_msg=f"output {i}")
    ours = [dx for i, dx in enumerate(dxs) if i not in case.ids]
    for i, (dx, k) in enumerate(zip(ours, k_dxs)):
        assert dx.dtype == np.float32
        k = np.zeros_like(dx) if k is None else k.numpy()      # None: nothing depends on it
        np.testing.assert_allclose(dx, k, rtol=GRAD_TOL, atol=GRAD_TOL,
                                   err_msg=f"gradient of input {i}")
    for name, k in k_grads.items():
        if k is None:                                      # moving statistics
            assert name not in grads
            continue
        assert grads[name].dtype == np.float32
        np.testing.assert_allclose(grads[name], np.asarray(tf.convert_to_tensor(k)),
                                   rtol=GRAD_TOL, atol=GRAD_TOL, err_msg=f"gradient of {name}")
    return cache, layer


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.long) if c.slow_in_keras
                                  else c for c in CASES], ids=str)
def test_matches_keras(case):
    cache, layer = check_parity(case)
    if case.type_id == "BatchNormalization" and case.training:
        news = registry.updates(cache)
        assert set(news) == {"moving_mean", "moving_variance"}
        np.testing.assert_allclose(news["moving_mean"], layer.moving_mean.numpy(),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(news["moving_variance"], layer.moving_variance.numpy(),
                                   rtol=1e-5, atol=1e-6)
