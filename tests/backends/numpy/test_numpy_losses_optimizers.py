"""Losses, metrics, optimizers, L1/L2 penalties and clipping against Keras's own."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from netdesigner.backends.numpy import losses, optimizers  # noqa: E402
from netdesigner.backends.numpy.model import REGULARIZED, compile_graph  # noqa: E402
from netdesigner.backends.numpy.weights import to_keras  # noqa: E402
from netdesigner.graph import CATALOG, Graph  # noqa: E402
from tests.backends.numpy.keras_graph import keras_model  # noqa: E402

VALUE_TOL, GRAD_TOL = 1e-5, 1e-4


# -- losses ---------------------------------------------------------------------------------------

def _probabilities(rng, shape, extremes=True):
    p = rng.uniform(0.01, 1.0, shape).astype(np.float32)
    p /= p.sum(axis=-1, keepdims=True)
    if extremes:       # values the clipping catches: exact 0, tiny, exact 1
        p.reshape(-1)[[0, 5, 9]] = [0.0, 1e-9, 1.0]
    return p


def _cases(rng):
    n, c = 6, 4
    logits = rng.normal(0, 2, (n, c)).astype(np.float32)
    onehot = np.eye(c, dtype=np.float32)[rng.integers(0, c, n)]
    labels = rng.integers(0, c, n)
    binary = rng.integers(0, 2, (n, 3)).astype(np.float32)
    regression = rng.normal(size=(n, 3)).astype(np.float32)
    pred = rng.normal(size=(n, 3)).astype(np.float32)
    pred[0, 0] = regression[0, 0] + 0.25          # inside Huber's quadratic zone
    return [
        ("mse", {}, False, regression, pred, keras.losses.MeanSquaredError()),
        ("mae", {}, False, regression, pred, keras.losses.MeanAbsoluteError()),
        ("huber", {"delta": 1.0}, False, regression, pred, keras.losses.Huber(1.0)),
        ("huber", {"delta": 0.3}, False, regression, pred, keras.losses.Huber(0.3)),
        ("hinge", {}, False, binary * 2 - 1, pred, keras.losses.Hinge()),
        ("hinge", {}, False, binary, pred, keras.losses.Hinge()),           # 0/1 labels
        ("binary_crossentropy", {}, False, binary,
         np.clip(_sigmoid(pred), 0, 1).astype(np.float32).round(3),
         keras.losses.BinaryCrossentropy()),
        ("binary_crossentropy", {}, True, binary, pred,
         keras.losses.BinaryCrossentropy(from_logits=True)),
        ("categorical_crossentropy", {}, False, onehot, _probabilities(rng, (n, c)),
         keras.losses.CategoricalCrossentropy()),
        ("categorical_crossentropy", {}, False, onehot, rng.uniform(0.1, 2, (n, c)).astype(
            np.float32), keras.losses.CategoricalCrossentropy()),           # not normalised
        ("categorical_crossentropy", {}, True, onehot, logits,
         keras.losses.CategoricalCrossentropy(from_logits=True)),
        ("sparse_categorical_crossentropy", {}, False, labels, _probabilities(rng, (n, c)),
         keras.losses.SparseCategoricalCrossentropy()),
        ("sparse_categorical_crossentropy", {}, False, labels[:, None],
         _probabilities(rng, (n, c), extremes=False),
         keras.losses.SparseCategoricalCrossentropy()),
        ("sparse_categorical_crossentropy", {}, True, labels, logits,
         keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
    ]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


CASE_IDS = ["mse", "mae", "huber", "huber-0.3", "hinge", "hinge-01", "bce", "bce-logits",
            "cce", "cce-unnormalised", "cce-logits", "sparse", "sparse-column", "sparse-logits"]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_loss_value_and_gradient_match_keras(index):
    name, params, from_logits, y_true, y_pred, k_loss = _cases(np.random.default_rng(index))[
        index]
    loss = losses.Loss(name, params, from_logits)
    value, grad = loss.value_and_grad(y_pred, y_true)
    assert grad.shape == y_pred.shape and grad.dtype == np.float32
    p = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        k = k_loss(tf.constant(y_true), p)
    k_grad = tape.gradient(k, p).numpy()
    assert value == pytest.approx(float(k), rel=VALUE_TOL, abs=VALUE_TOL)
    np.testing.assert_allclose(grad, k_grad, rtol=GRAD_TOL, atol=GRAD_TOL)


def test_float64_losses_keep_float64():
    rng = np.random.default_rng(0)
    p = _probabilities(rng, (3, 4), extremes=False).astype(np.float64)
    value, grad = losses.Loss("categorical_crossentropy").value_and_grad(p, np.eye(4)[[0, 1, 2]])
    assert grad.dtype == np.float64 and np.isfinite(value)


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="unknown loss"):
        losses.Loss("cosine")


@pytest.mark.parametrize("loss,y_true,y_pred,kind", [
    ("categorical_crossentropy", np.eye(3)[[0, 1, 2, 1]], np.eye(3)[[0, 2, 2, 1]],
     "categorical"),
    ("sparse_categorical_crossentropy", np.array([0, 1, 2, 1]), np.eye(3)[[0, 2, 2, 1]],
     "sparse"),
    ("binary_crossentropy", np.array([[1.0], [0], [1], [0]]),
     np.array([[0.9], [0.2], [0.4], [0.7]]), "binary"),
])
def test_accuracy_is_the_one_keras_picks(loss, y_true, y_pred, kind):
    l = losses.Loss(loss)
    assert losses.accuracy_kind(l, y_true.shape, y_pred.shape) == kind
    ours = losses.metric_values(["accuracy", "mse", "mae"], l, y_pred, y_true)
    metric = {"categorical": keras.metrics.CategoricalAccuracy,
              "sparse": keras.metrics.SparseCategoricalAccuracy,
              "binary": keras.metrics.BinaryAccuracy}[kind]()
    metric.update_state(y_true, y_pred)
    assert ours["accuracy"] == pytest.approx(float(metric.result()))
    if kind != "sparse":
        assert ours["mse"] == pytest.approx(float(np.mean((y_pred - y_true) ** 2)))
        assert ours["mae"] == pytest.approx(float(np.mean(np.abs(y_pred - y_true))))


def test_binary_accuracy_on_logits_and_hinge_targets():
    logits = np.array([[2.0], [-1.0], [0.2], [-0.1]])
    y = np.array([[1.0], [0.0], [0.0], [0.0]])
    acc = losses.metric_values(["accuracy"], losses.Loss("binary_crossentropy",
                                                         from_logits=True), logits, y)
    assert acc["accuracy"] == 0.75
    hinge = losses.metric_values(["accuracy"], losses.Loss("hinge"), logits, y * 2 - 1)
    assert hinge["accuracy"] == 0.75


# -- optimizers ------------------------------------------------------------------------------------

OPTIMIZER_CASES = [
    ("sgd", {}, keras.optimizers.SGD, {}),
    ("sgd", {"learning_rate": 0.05, "momentum": 0.9}, keras.optimizers.SGD,
     {"learning_rate": 0.05, "momentum": 0.9}),
    ("sgd", {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}, keras.optimizers.SGD,
     {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}),
    ("adagrad", {"learning_rate": 0.1}, keras.optimizers.Adagrad, {"learning_rate": 0.1}),
    ("rmsprop", {}, keras.optimizers.RMSprop, {}),
    ("rmsprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "epsilon": 1e-5},
     keras.optimizers.RMSprop, {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5,
                                "epsilon": 1e-5}),
    ("adam", {}, keras.optimizers.Adam, {}),
    ("adam", {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3},
     keras.optimizers.Adam, {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9,
                             "epsilon": 1e-3}),
    ("adamw", {}, keras.optimizers.AdamW, {}),
    ("adamw", {"learning_rate": 0.01, "weight_decay": 0.1}, keras.optimizers.AdamW,
     {"learning_rate": 0.01, "weight_decay": 0.1}),
]


def _default_lr(name, keras_cls, keras_params):
    """Our defaults are the training settings' (graph.training.OPTIMIZERS); give Keras the
    same learning rate when the case relies on defaults."""
    from netdesigner.graph.training import OPTIMIZERS
    params = dict(keras_params)
    params.setdefault("learning_rate", OPTIMIZERS[name].params["learning_rate"].default)
    return params


@pytest.mark.parametrize("case", OPTIMIZER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OPTIMIZER_CASES)])
def test_first_five_updates_match_keras(case):
    name, params, keras_cls, keras_params = case
    rng = np.random.default_rng(7)
    shapes = [(3, 4), (4,), (2, 2, 3)]
    values = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[rng.normal(size=s).astype(np.float32) for s in shapes] for _ in range(5)]

    ours = optimizers.make(name, params)
    flat = np.concatenate([v.ravel() for v in values])
    k_vars = [keras.Variable(v) for v in values]
    k_opt = keras_cls(**_default_lr(name, keras_cls, keras_params))
    for step in range(5):
        ours.step(flat, np.concatenate([g.ravel() for g in grads[step]]))
        k_opt.apply_gradients(zip([tf.constant(g) for g in grads[step]], k_vars))
        k_flat = np.concatenate([v.numpy().ravel() for v in k_vars])
        np.testing.assert_allclose(flat, k_flat, rtol=0, atol=1e-6, err_msg=f"step {step + 1}")
    assert ours.iterations == 5


def test_optimizer_defaults_follow_keras():
    assert optimizers.Adagrad().initial_accumulator_value == 0.1
    assert optimizers.make("adam").epsilon == 1e-7
    assert optimizers.make("adamw").weight_decay == 0.004
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizers.make("lbfgs")


def test_clip_by_norm_matches_keras_clipnorm():
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=(5, 4)).astype(np.float32) * 3,       # clipped
             rng.normal(size=(3,)).astype(np.float32) * 0.01,      # left alone
             np.zeros((2, 2), np.float32)]                          # zero stays zero
    values = [np.zeros(g.shape, np.float32) for g in grads]
    k_vars = [keras.Variable(v) for v in values]
    keras.optimizers.SGD(learning_rate=1.0, clipnorm=0.7).apply_gradients(
        zip([tf.constant(g) for g in grads], k_vars))
    for g, v in zip(grads, k_vars):
        ours = optimizers.clip_by_norm(g.copy(), 0.7)
        np.testing.assert_allclose(-ours, v.numpy(), rtol=1e-6, atol=1e-7)
    assert np.linalg.norm(optimizers.clip_by_norm(grads[0].copy(), 0.7)) == pytest.approx(
        0.7, rel=1e-5)


# -- L1/L2 ------------------------------------------------------------------------------------

def regularised_graph() -> Graph:
    """A layer of every kind that takes l1/l2, each with different coefficients."""
    g = Graph()
    reg = iter([(0.01, 0.0), (0.0, 0.02), (0.03, 0.01), (0.02, 0.02), (0.01, 0.03),
                (0.02, 0.01), (0.005, 0.01), (0.01, 0.01), (0.02, 0.0), (0.0, 0.01),
                (0.015, 0.005), (0.004, 0.02), (0.01, 0.002), (0.003, 0.004),
                (0.006, 0.0), (0.0, 0.007), (0.002, 0.008)])

    def add(type_id, params, node_id, *sources):
        if "l1" in CATALOG[type_id].params.names():
            params = dict(params, **dict(zip(("l1", "l2"), next(reg))))
        n = g.add_node(type_id, params, node_id=node_id)
        for port, s in enumerate(sources):
            g.connect(s, 0, n, port)
        return n

    img = add("Input", {"shape": (6, 6, 2)}, "img")
    conv = add("Conv2D", {"filters": 3, "kernel_size": (3, 3)}, "conv", img)
    dw = add("DepthwiseConv2D", {"kernel_size": (2, 2)}, "dw", conv)
    sep = add("SeparableConv2D", {"filters": 2, "kernel_size": (2, 2)}, "sep", dw)
    tconv = add("Conv2DTranspose", {"filters": 2, "kernel_size": (2, 2)}, "tconv", sep)
    flat = add("Flatten", {}, "flat", tconv)
    dense = add("Dense", {"units": 4}, "dense", flat)
    seq = add("Input", {"shape": (5,), "dtype": "int32"}, "tokens")
    emb = add("Embedding", {"input_dim": 10, "output_dim": 4}, "emb", seq)
    lstm = add("LSTM", {"units": 3, "return_sequences": True}, "lstm", emb)
    bi = add("Bidirectional", {"layer": "GRU", "units": 2, "return_sequences": True}, "bi",
             lstm)
    td = add("TimeDistributed", {"units": 3}, "td", bi)
    c1 = add("Conv1D", {"filters": 3, "kernel_size": 2, "padding": "same"}, "conv1d", td)
    t1 = add("Conv1DTranspose", {"filters": 3, "kernel_size": 2, "strides": 1}, "tconv1d", c1)
    gru = add("GRU", {"units": 3, "return_sequences": True}, "gru", t1)
    mha = add("MultiHeadAttention", {"num_heads": 2, "key_dim": 2}, "mha", gru, gru)
    rnn = add("SimpleRNN", {"units": 4}, "rnn", mha)
    clip = add("Input", {"shape": (3, 4, 4, 2)}, "clip")
    clstm = add("ConvLSTM2D", {"filters": 2, "kernel_size": (2, 2), "return_sequences": True},
                "clstm", clip)
    c3 = add("Conv3D", {"filters": 2, "kernel_size": (2, 2, 2)}, "conv3d", clstm)
    pooled = add("GlobalAveragePooling3D", {}, "gap3d", c3)
    dense3 = add("Dense", {"units": 4}, "dense3", pooled)
    add("Add", {}, "sum", dense, rnn, dense3)
    return g


def test_l1_l2_penalties_and_their_gradients_match_keras():
    g = regularised_graph()
    model = compile_graph(g)
    rng = np.random.default_rng(2)
    for _, _, w in model.weight_list():
        w += rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype)
    km = keras_model(model)
    to_keras(model, km)
    regularised = {s.type for s in model.steps if s.regularized}
    assert regularised == set(REGULARIZED)       # every kind is exercised
    with tf.GradientTape() as tape:
        k_penalty = tf.add_n(km.losses)
    k_grads = dict(zip([v.path for v in km.trainable_variables],
                       tape.gradient(k_penalty, km.trainable_variables)))
    assert model.penalty() == pytest.approx(float(k_penalty), rel=1e-5)
    model.flat_grad.fill(0)
    model.add_penalty_grads()
    for node, weights in model.grads.items():
        trainable = [v for v in km.get_layer(node).weights if v.trainable]
        for (name, g), v in zip(weights.items(), trainable):
            k = k_grads[v.path]
            k = np.zeros(g.shape, np.float32) if k is None else np.asarray(
                tf.convert_to_tensor(k))
            np.testing.assert_allclose(g, k, rtol=1e-5, atol=1e-6,
                                       err_msg=f"penalty gradient of {node}/{name}")
