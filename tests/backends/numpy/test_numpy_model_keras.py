"""Whole networks against Keras: the same graph, the same weights, the same outputs, input
gradients and weight gradients (of L = sum(output_i * r_i) for fixed random r_i), and one
full training step (loss, L1/L2 penalty, clipping, optimizer) equal to Keras's."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from netdesigner.backends.numpy.model import compile_graph  # noqa: E402
from netdesigner.backends.numpy.train import Trainer  # noqa: E402
from netdesigner.backends.numpy.weights import from_keras, to_keras  # noqa: E402
from netdesigner.graph import Graph, fileformat  # noqa: E402
from tests.backends.numpy.keras_graph import keras_model  # noqa: E402
from tests.graph.builders import seq2seq_states  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
OUT_TOL, GRAD_TOL = 1e-5, 1e-4


def branchy() -> Graph:
    """Three inputs, three outputs; fan-out (d1, cat, img features) and merges of every kind."""
    g = Graph()
    a = g.add_node("Input", {"shape": (8,)}, node_id="vec")
    b = g.add_node("Input", {"shape": (5, 3)}, node_id="seq")
    c = g.add_node("Input", {"shape": (6, 6, 2)}, node_id="img")
    d1 = g.add_node("Dense", {"units": 6, "activation": "tanh"}, node_id="d1")
    d2 = g.add_node("Dense", {"units": 6, "activation": "relu"}, node_id="d2")
    add = g.add_node("Add", {}, node_id="add")
    lstm = g.add_node("LSTM", {"units": 6}, node_id="lstm")
    conv = g.add_node("Conv2D", {"filters": 4, "kernel_size": (3, 3), "padding": "same",
                                 "activation": "relu"}, node_id="conv")
    up = g.add_node("Conv2DTranspose", {"filters": 3, "kernel_size": (3, 3), "strides": (2, 2),
                                        "padding": "same"}, node_id="deconv")
    pool = g.add_node("MaxPooling2D", {"pool_size": (2, 2)}, node_id="pool")
    gap = g.add_node("GlobalAveragePooling2D", {}, node_id="gap")
    img_d = g.add_node("Dense", {"units": 6}, node_id="img_dense")
    cat = g.add_node("Concatenate", {}, node_id="cat")
    bn = g.add_node("BatchNormalization", {}, node_id="bn")
    out1 = g.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out_class")
    out2 = g.add_node("Dense", {"units": 1}, node_id="out_value")
    mul = g.add_node("Multiply", {}, node_id="mul")
    out3 = g.add_node("Dense", {"units": 2, "activation": "sigmoid"}, node_id="out_flags")
    for src, dst, port in [(a, d1, 0), (d1, d2, 0), (d1, add, 0), (d2, add, 1), (b, lstm, 0),
                           (c, conv, 0), (conv, up, 0), (up, pool, 0), (pool, gap, 0),
                           (gap, img_d, 0), (add, cat, 0), (lstm, cat, 1), (img_d, cat, 2),
                           (cat, bn, 0), (bn, out1, 0), (cat, out2, 0), (d1, mul, 0),
                           (img_d, mul, 1), (mul, out3, 0)]:
        g.connect(src, 0, dst, port)
    return g


def residual() -> Graph:
    return fileformat.load(os.path.join(ROOT, "samples", "resnet_digits.graph"))


def _inputs(model, rng, batch=4):
    return [rng.normal(size=(batch,) + tuple(model.step[n].output_shapes[0])).astype(np.float32)
            for n in model.inputs]


def _perturb(model, rng):
    """Move weights off their initial values (zero biases, unit gammas, default statistics)."""
    for node, name, w in model.weight_list():
        if name == "moving_variance":
            w[...] = rng.uniform(0.5, 1.5, w.shape)
        else:
            w += rng.uniform(-0.3, 0.3, w.shape).astype(w.dtype)


def _compare(graph, training, seed=0):
    rng = np.random.default_rng(seed)
    model = compile_graph(graph, seed=seed)
    _perturb(model, rng)
    km = keras_model(model)
    to_keras(model, km)
    xs = _inputs(model, rng)
    before = model.get_weights()

    outs = model.forward(xs, training=training)
    rs = [rng.normal(size=o.shape).astype(np.float32) for o in outs]
    dxs = model.backward(rs)

    tensors = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        k_outs = km(tensors, training=training)
        k_outs = k_outs if isinstance(k_outs, (list, tuple)) else [k_outs]
        loss = tf.add_n([tf.reduce_sum(o * r) for o, r in zip(k_outs, rs)])
    variables = km.trainable_variables
    grads = tape.gradient(loss, tensors + variables)

    assert len(outs) == len(k_outs)
    for i, (o, k) in enumerate(zip(outs, k_outs)):
        np.testing.assert_allclose(o, k.numpy(), rtol=OUT_TOL, atol=OUT_TOL,
                                   err_msg=f"output {model.outputs[i]}")
    for n, dx, k in zip(model.inputs, dxs, grads[:len(tensors)]):
        np.testing.assert_allclose(dx, k.numpy(), rtol=GRAD_TOL, atol=GRAD_TOL,
                                   err_msg=f"gradient of input {n}")
    k_grads = {v.path: g for v, g in zip(variables, grads[len(tensors):])}
    checked = 0
    for node, weights in model.grads.items():
        layer = km.get_layer(node)
        trainable = [v for v in layer.weights if v.trainable]
        assert len(trainable) == len(weights), node
        for (name, g), v in zip(weights.items(), trainable):
            np.testing.assert_allclose(g, np.asarray(k_grads[v.path]), rtol=GRAD_TOL,
                                       atol=GRAD_TOL, err_msg=f"gradient of {node}/{name}")
            checked += 1
    assert checked == sum(len(w) for w in model.grads.values())
    if training:          # moving statistics followed the batch, as Keras's did
        for node, name, w in model.weight_list():
            if "moving" in name:
                k = [v for v in km.get_layer(node).weights if v.path.endswith(name)][0]
                np.testing.assert_allclose(w, k.numpy(), rtol=1e-5, atol=1e-6,
                                           err_msg=f"{node}/{name}")
                assert not np.array_equal(w, before[f"{node}/{name}"])
    return model, km


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_branchy_multi_input_multi_output_graph_matches_keras(training):
    model, _ = _compare(branchy(), training)
    assert model.inputs == ["vec", "seq", "img"]
    assert [n for n, _ in model.outputs] == ["out_class", "out_value", "out_flags"]


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_recurrent_states_as_wires_match_keras(training):
    """Outputs, input gradients and every weight's gradient through the state wires."""
    model, km = _compare(seq2seq_states(), training)
    assert [n for n, _ in model.outputs] == ["cat"]    # the GRU's sequence output unread


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_residual_block_sample_matches_keras(training):
    model, _ = _compare(residual(), training)
    assert any("__" in s.id for s in model.steps)          # the block was expanded
    # the skip connection: the block input feeds conv_a and the Add
    consumers = [s.id for s in model.steps if ("conv2d_1", 0) in s.inputs]
    assert len(consumers) == 2


def video() -> Graph:
    """Clips through ConvLSTM2D, BatchNormalization, Conv3D, 3-D and channels-first pooling."""
    g = Graph()
    layers = [("Input", {"shape": (4, 6, 6, 1)}, "clip"),
              ("ConvLSTM2D", {"filters": 3, "kernel_size": (3, 3), "padding": "same",
                              "return_sequences": True}, "convlstm"),
              ("BatchNormalization", {}, "bn"),
              ("Conv3D", {"filters": 2, "kernel_size": (2, 3, 3), "padding": "same",
                          "activation": "relu"}, "conv3d"),
              ("MaxPooling3D", {"pool_size": (1, 2, 2)}, "pool3d"),
              ("GlobalAveragePooling3D", {"data_format": "channels_first"}, "per_frame"),
              ("Dense", {"units": 2, "activation": "softmax"}, "out")]
    previous = None
    for type_id, params, node_id in layers:
        node = g.add_node(type_id, params, node_id=node_id)
        if previous is not None:
            g.connect(previous, 0, node, 0)
        previous = node
    return g


def test_video_network_matches_keras():
    model, _ = _compare(video(), training=True)
    assert model.step["per_frame"].output_shapes[0] == (4,)      # one mean per frame


def test_weights_copy_to_keras_and_back():
    model = compile_graph(branchy(), seed=3)
    km = keras_model(model)
    to_keras(model, km)
    other = compile_graph(branchy(), seed=4)
    assert not np.array_equal(other.flat, model.flat)
    values = from_keras(km, other)
    assert set(values) == set(model.get_weights())
    np.testing.assert_array_equal(other.flat, model.flat)
    np.testing.assert_array_equal(other.flat_state, model.flat_state)
    plain = from_keras(km)
    assert "d1/kernel" in plain and "bn/moving_mean" in plain


def _mlp(l1=0.0, l2=0.0, **training):
    g = Graph()
    x = g.add_node("Input", {"shape": (6,)}, node_id="x")
    h = g.add_node("Dense", {"units": 5, "activation": "relu", "l1": l1, "l2": l2},
                   node_id="hidden")
    y = g.add_node("Dense", {"units": 3, "activation": "softmax", "l2": l2}, node_id="out")
    g.connect(x, 0, h, 0)
    g.connect(h, 0, y, 0)
    g.training.update(training)
    return g


KERAS_OPTIMIZERS = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam,
                    "adamw": keras.optimizers.AdamW, "rmsprop": keras.optimizers.RMSprop,
                    "adagrad": keras.optimizers.Adagrad}


@pytest.mark.parametrize("optimizer,params,clip", [
    ("adam", {"learning_rate": 0.01}, 0.0),
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}, 0.05),
    ("adamw", {"learning_rate": 0.01, "weight_decay": 0.1}, 0.5),
])
def test_training_steps_match_keras_train_on_batch(optimizer, params, clip):
    """Loss with softmax fused into the cross-entropy (as Keras does), L1/L2 penalties,
    clipnorm and the optimizer: three steps on the same batches give the same losses and
    weights."""
    g = _mlp(l1=0.01, l2=0.02, loss="categorical_crossentropy", optimizer=optimizer,
             optimizer_params=params, clip_norm=clip, metrics=["accuracy"])
    rng = np.random.default_rng(1)
    model = compile_graph(g)
    trainer = Trainer(model)
    km = keras_model(model)
    to_keras(model, km)
    kw = {"clipnorm": clip} if clip else {}
    km.compile(optimizer=KERAS_OPTIMIZERS[optimizer](**params, **kw),
               loss="categorical_crossentropy")
    for step in range(3):
        x = rng.normal(size=(8, 6)).astype(np.float32) * 3
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
        loss, metrics, _ = trainer.train_batch([x], [y])
        k_loss = km.train_on_batch(x, y)
        assert loss == pytest.approx(float(k_loss), rel=1e-5, abs=1e-6), f"step {step}"
        for node in model.weights:
            for (name, w), k in zip(model.weights[node].items(),
                                    km.get_layer(node).get_weights()):
                np.testing.assert_allclose(w, k, rtol=1e-5, atol=1e-6,
                                           err_msg=f"step {step}: {node}/{name}")


def test_saturated_softmax_loss_is_computed_from_logits_like_keras():
    g = _mlp(loss="categorical_crossentropy")
    model = compile_graph(g)
    km = keras_model(model)
    model.weights["out"]["kernel"][...] = 0
    model.weights["out"]["kernel"][0] = [60.0, 0.0, -60.0]
    model.weights["hidden"]["kernel"][...] = 0
    model.weights["hidden"]["kernel"][0, 0] = 1.0
    to_keras(model, km)
    km.compile(loss="categorical_crossentropy")
    x = np.zeros((1, 6), np.float32)
    x[0, 0] = 1.0
    y = np.array([[0, 0, 1.0]], np.float32)
    from netdesigner.backends.numpy.train import evaluate
    ours = evaluate(model, x, y)["loss"]
    assert ours == pytest.approx(120.0, rel=1e-5)          # not clipped at -log(1e-7) = 16.1
    assert ours == pytest.approx(float(km.evaluate(x, y, verbose=0)), rel=1e-5)
