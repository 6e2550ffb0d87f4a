"""Compiling, training, the event stream, stopping, NaN, early stopping and weight files."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from netdesigner.backends import data, protocol
from netdesigner.backends.numpy.model import CompileError, compile_graph
from netdesigner.backends.numpy.train import DEVICE, evaluate, fit, predict
from netdesigner.backends.numpy.weights import load_npz, save_npz
from netdesigner.graph import Analysis, Graph, fileformat

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def sample(name: str) -> Graph:
    return fileformat.load(os.path.join(ROOT, "samples", f"{name}.graph"))


def digits_split(graph: Graph):
    a = Analysis(graph, live=False)
    (i,), (o,) = graph.inputs(), graph.outputs()
    return data.prepare(data.load("digits"), graph.training, a.output_shapes(i)[0],
                        a.output_shapes(o)[0], i, o)


def small_mlp(**training) -> Graph:
    g = Graph()
    x = g.add_node("Input", {"shape": (4,)}, node_id="x")
    h = g.add_node("Dense", {"units": 8, "activation": "relu"}, node_id="hidden")
    d = g.add_node("Dropout", {"rate": 0.2}, node_id="drop")
    y = g.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="out")
    g.connect(x, 0, h, 0)
    g.connect(h, 0, d, 0)
    g.connect(d, 0, y, 0)
    if "optimizer" in training:
        training.setdefault("optimizer_params", {})
    g.training.update(training)
    return g


def iris_split(graph):
    a = Analysis(graph, live=False)
    return data.prepare(data.load("iris"), graph.training, a.output_shapes("x")[0],
                        a.output_shapes("out")[0], "x", "out")


# -- compiling --------------------------------------------------------------------------------

def test_a_graph_with_problems_is_refused_with_every_problem_named():
    g = Graph()
    x = g.add_node("Input", {"shape": (4,)}, node_id="x")
    d = g.add_node("Dense", {"units": 3}, node_id="dense_1")
    g.add_node("Add", {}, node_id="add_1")
    g.connect(x, 0, d, 0)
    with pytest.raises(CompileError) as e:
        compile_graph(g)
    assert "add_1" in str(e.value) and "not connected" in str(e.value)


def test_weights_are_seeded_and_dtype_is_chosen():
    g = sample("cnn_digits")
    a, b = compile_graph(g, seed=5), compile_graph(g, seed=5)
    c = compile_graph(g, seed=6)
    np.testing.assert_array_equal(a.flat, b.flat)
    assert not np.array_equal(a.flat, c.flat)
    assert a.flat.dtype == np.float32
    m64 = compile_graph(g, dtype=np.float64)
    x = np.random.default_rng(0).random((3, 8, 8, 1))
    (y,) = m64.forward([x])
    assert y.dtype == np.float64 and m64.weights["conv2d_1"]["kernel"].dtype == np.float64
    np.testing.assert_allclose(y.sum(axis=1), 1.0)
    assert a.count_params == Analysis(g, live=False).total_params()


def test_activations_and_gradients_are_kept_per_node_and_fan_out_adds_up():
    """y = Add(d(x), d2(d(x))): the gradient reaching d is the sum of both paths."""
    g = Graph()
    x = g.add_node("Input", {"shape": (3,)}, node_id="x")
    d = g.add_node("Dense", {"units": 3, "use_bias": False}, node_id="d")
    d2 = g.add_node("Dense", {"units": 3, "use_bias": False}, node_id="d2")
    s = g.add_node("Add", {}, node_id="s")
    for src, dst, port in [(x, d, 0), (d, d2, 0), (d, s, 0), (d2, s, 1)]:
        g.connect(src, 0, dst, port)
    m = compile_graph(g)
    xs = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    (y,) = m.forward([xs])
    assert set(m.activations) == {"x", "d", "d2", "s"}
    dy = np.ones_like(y)
    (dx,) = m.backward([dy])
    w, w2 = m.weights["d"]["kernel"], m.weights["d2"]["kernel"]
    np.testing.assert_allclose(y, xs @ w + xs @ w @ w2, rtol=1e-6)
    np.testing.assert_allclose(dx, dy @ (np.eye(3) + w2).T @ w.T, rtol=1e-5)
    np.testing.assert_allclose(m.grads["d"]["kernel"], xs.T @ (dy @ (np.eye(3) + w2).T),
                               rtol=1e-5)


# -- training ---------------------------------------------------------------------------------

def test_digits_mlp_reaches_95_percent_test_accuracy():
    g = sample("mlp_digits")
    split = digits_split(g)
    result = fit(g, split, g.training, stats_every=0)
    assert result.reason == "completed" and result.epochs_run == g.training["epochs"]
    test = evaluate(result.model, split.x_test, split.y_test)
    assert test["accuracy"] >= 0.95, test
    probs = predict(result.model, split.x_test)
    assert probs.shape == (len(split.x_test), 10)
    assert np.mean(probs.argmax(1) == split.y_test.argmax(1)) == pytest.approx(
        test["accuracy"])


def test_event_stream_follows_the_protocol():
    g = small_mlp(epochs=3, batch_size=16, optimizer="adam")
    split = iris_split(g)
    rec = protocol.Recorder()
    result = fit(g, split, g.training, on_event=rec, stats_every=4)
    kinds = [e["event"] for e in rec.events]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    assert "error" not in kinds
    begin = rec.events[0]
    steps = -(-len(split.x_train) // 16)
    assert begin["device"] == DEVICE and begin["backend"] == "numpy"
    assert begin["steps_per_epoch"] == steps and begin["samples"] == len(split.x_train)
    assert begin["layers"] == ["x", "hidden", "drop", "out"]
    batches = rec.of("batch")
    assert len(batches) == 3 * steps
    assert [b["step"] for b in batches] == list(range(1, 3 * steps + 1))
    assert {b["epoch"] for b in batches} == {0, 1, 2}
    assert set(batches[0]["metrics"]) == {"accuracy"}
    epochs = rec.of("epoch")
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert all(e["val_loss"] is not None and "accuracy" in e["val_metrics"] for e in epochs)
    stats = rec.of("layer_stats")
    assert [s["step"] for s in stats] == [1] + list(range(4, 3 * steps + 1, 4))
    for s in stats:
        assert set(s["activations"]) == set(begin["layers"])        # every node
        assert set(s["gradients"]) == {"hidden", "out"}
        assert set(s["gradients"]["hidden"]) == {"kernel", "bias"}
        assert set(s["weights"]) == {"hidden", "out"}
        assert s["activations"]["hidden"]["histogram"]["counts"]
    end = rec.end
    assert end["reason"] == "completed" and end["epochs_run"] == 3
    assert end["history"]["loss"] == result.history["loss"] and len(end["history"]["loss"]) == 3
    assert set(end["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert end["best_epoch"] == int(np.argmin(end["history"]["val_loss"]))
    pickle.dumps(rec.events)                    # plain data: crosses a process queue


def test_batch_size_one_and_full_batch():
    g = small_mlp(epochs=1, batch_size=1, optimizer="sgd")
    split = iris_split(g)
    rec = protocol.Recorder()
    fit(g, split, g.training, on_event=rec, stats_every=0)
    assert len(rec.of("batch")) == len(split.x_train)
    g.training["batch_size"] = 10_000
    rec = protocol.Recorder()
    fit(g, split, g.training, on_event=rec, stats_every=0)
    assert len(rec.of("batch")) == 1 and rec.events[0]["steps_per_epoch"] == 1


def test_should_stop_ends_the_run_within_one_batch():
    g = small_mlp(epochs=50, batch_size=8)
    split = iris_split(g)
    rec = protocol.Recorder()
    polls = []

    def should_stop():
        polls.append(len(rec.of("batch")))
        return len(polls) >= 7

    result = fit(g, split, g.training, on_event=rec, should_stop=should_stop)
    assert result.reason == "stopped" and rec.end["reason"] == "stopped"
    assert len(rec.of("batch")) == 7            # polled after every batch, none after
    assert polls == list(range(1, 8))
    assert rec.events[-1]["event"] == "train_end"


def test_a_diverging_run_ends_with_reason_nan_and_advice():
    g = small_mlp(epochs=20, batch_size=8, loss="mse", optimizer="sgd",
                  optimizer_params={"learning_rate": 10.0})
    g.node("out").params["activation"] = "linear"
    split = iris_split(g)
    split.x_train = split.x_train * 1e3
    rec = protocol.Recorder()
    result = fit(g, split, g.training, on_event=rec, weights_out=None)
    assert result.reason == "nan"
    end = rec.end
    assert end["reason"] == "nan" and end["message"] == protocol.NAN_ADVICE
    assert not rec.of("error")
    assert rec.events[-1] is end
    assert not np.isfinite(rec.of("batch")[-1]["loss"])
    assert result.epochs_run < 20


def test_early_stopping_restores_the_best_weights():
    """Validation labels are the training labels shifted by one class: the better the network
    learns, the worse the validation loss, so the best epoch is the first."""
    g = small_mlp(epochs=30, batch_size=16, early_stopping_patience=3,
                  restore_best_weights=True, optimizer_params={"learning_rate": 0.05})
    split = iris_split(g)
    split.x_val = split.x_train
    split.y_val = np.roll(split.y_train, 1, axis=1)
    rec = protocol.Recorder()
    weights_after_first = {}

    def on_event(e):
        rec(e)
        if e["event"] == "epoch" and e["epoch"] == 0:
            weights_after_first.update(model_ref[0].get_weights())

    model_ref = [compile_graph(g)]
    result = fit(g, split, g.training, on_event=on_event, model=model_ref[0])
    assert result.reason == "early_stopping"
    assert result.best_epoch == 0 and result.epochs_run == 4
    val = rec.of("epoch")
    assert val[3]["val_loss"] > val[0]["val_loss"]
    assert rec.end["best_val_loss"] == pytest.approx(val[0]["val_loss"])
    restored = result.model.get_weights()
    for k, v in weights_after_first.items():
        np.testing.assert_array_equal(restored[k], v)
    assert evaluate(result.model, split.x_val, split.y_val)["loss"] == pytest.approx(
        val[0]["val_loss"], rel=1e-6)


def test_weights_round_trip_through_npz(tmp_path):
    g = sample("resnet_digits")
    m = compile_graph(g, seed=1)
    m.forward([np.random.default_rng(0).random((4, 8, 8, 1))], training=True)   # BN stats move
    path = save_npz(m, tmp_path / "w.npz")
    with np.load(path) as f:
        keys = set(f.files)
    assert "conv2d_1/kernel" in keys and "block_1__2__bn_a/moving_mean" in keys
    other = compile_graph(g, seed=2)
    load_npz(other, path)
    np.testing.assert_array_equal(other.flat, m.flat)
    np.testing.assert_array_equal(other.flat_state, m.flat_state)
    x = np.random.default_rng(1).random((3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(predict(other, x), predict(m, x))
    bad = compile_graph(sample("cnn_digits"))
    with pytest.raises(ValueError, match="do not fit"):
        load_npz(bad, path)


def test_fit_options_are_explicit():
    """An option fit does not know is an error, not silently swallowed; a GPU is refused by
    name (this backend runs on the CPU)."""
    g = small_mlp(epochs=1, batch_size=32)
    split = iris_split(g)
    with pytest.raises(TypeError, match="strategy"):
        fit(g, split, g.training, stats_every=0, strategy="mirrored")
    with pytest.raises(ValueError, match="CPU only"):
        fit(g, split, g.training, stats_every=0, device="gpu")


def test_fit_reads_and_writes_weight_files(tmp_path):
    g = small_mlp(epochs=2, batch_size=32)
    split = iris_split(g)
    first = fit(g, split, g.training, weights_out=tmp_path / "a.npz", stats_every=0)
    again = fit(g, split, dict(g.training, epochs=1), weights_in=tmp_path / "a.npz",
                stats_every=0, device="cpu")
    before = first.model.get_weights()
    with np.load(tmp_path / "a.npz") as f:
        for k in f.files:
            np.testing.assert_array_equal(f[k], before[k])
    assert again.history["loss"][0] < first.history["loss"][0]


# -- the whole model's gradient, by finite differences ------------------------------------------

def _two_headed() -> Graph:
    """Fan-out, a merge, a softmax head (fused with its cross-entropy) and a linear head, with
    L1/L2 penalties."""
    g = Graph()
    x = g.add_node("Input", {"shape": (5,)}, node_id="x")
    a = g.add_node("Dense", {"units": 4, "activation": "tanh", "l1": 0.01, "l2": 0.02},
                   node_id="a")
    b = g.add_node("Dense", {"units": 4, "activation": "sigmoid"}, node_id="b")
    m = g.add_node("Multiply", {}, node_id="m")
    c = g.add_node("Dense", {"units": 3, "activation": "softmax", "l2": 0.03}, node_id="c")
    d = g.add_node("Dense", {"units": 3}, node_id="d")
    for src, dst, port in [(x, a, 0), (a, b, 0), (a, m, 0), (b, m, 1), (m, c, 0), (a, d, 0)]:
        g.connect(src, 0, dst, port)
    g.training.update(loss="categorical_crossentropy", optimizer="sgd",
                      optimizer_params={"learning_rate": 0.1}, metrics=["accuracy", "mae"])
    return g


def test_training_gradient_of_the_whole_model_matches_finite_differences():
    from netdesigner.backends.numpy.train import Trainer
    model = compile_graph(_two_headed(), dtype=np.float64)
    trainer = Trainer(model)
    assert trainer.fused == [True, False]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5))
    ys = [np.eye(3)[rng.integers(0, 3, 6)], np.eye(3)[rng.integers(0, 3, 6)]]

    def total_loss():
        outs = model.forward([x], training=True)
        return trainer._losses(outs, ys)[0] + model.penalty()

    outs = model.forward([x], training=True)
    _, douts, _ = trainer._losses(outs, ys)
    model.backward(douts, trainer.fused)
    model.add_penalty_grads()
    analytic = model.flat_grad.copy()
    h = 1e-6
    for i in rng.choice(model.flat.size, 25, replace=False):
        old = model.flat[i]
        model.flat[i] = old + h
        up = total_loss()
        model.flat[i] = old - h
        down = total_loss()
        model.flat[i] = old
        assert analytic[i] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8), i


def test_multi_output_training_names_metrics_per_output():
    g = _two_headed()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    ys = [np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)] for _ in range(2)]
    rec = protocol.Recorder()
    result = fit(g, {"x_train": x, "y_train": ys, "x_val": x[:10], "y_val": [y[:10] for y in ys]},
                 dict(g.training, epochs=2, batch_size=8), on_event=rec)
    assert set(rec.of("batch")[0]["metrics"]) == {"c_accuracy", "c_mae", "d_accuracy", "d_mae"}
    assert "val_d_mae" in result.history and len(result.history["val_loss"]) == 2
    ev = evaluate(result.model, x, ys)
    assert set(ev) == {"loss", "c_accuracy", "c_mae", "d_accuracy", "d_mae"}
    assert ev["loss"] > result.model.penalty() > 0
    outs = predict(result.model, x)
    assert len(outs) == 2 and outs[0].shape == (40, 3)


def test_sparse_targets_and_integer_inputs_train():
    """Token ids through an Embedding (the input stays integer) and class ids as targets."""
    g = Graph()
    t = g.add_node("Input", {"shape": (20,), "dtype": "int32"}, node_id="tokens")
    e = g.add_node("Embedding", {"input_dim": 100, "output_dim": 8}, node_id="emb")
    p = g.add_node("GlobalAveragePooling1D", {}, node_id="pool")
    o = g.add_node("Dense", {"units": 2, "activation": "softmax"}, node_id="out")
    for src, dst in [(t, e), (e, p), (p, o)]:
        g.connect(src, 0, dst, 0)
    g.training.update(dataset="sentiment", loss="sparse_categorical_crossentropy", epochs=3,
                      optimizer_params={"learning_rate": 0.01})
    a = Analysis(g, live=False)
    split = data.prepare(data.load("sentiment"), g.training, a.output_shapes(t)[0],
                         a.output_shapes(o)[0], t, o)
    assert split.y_train.ndim == 1
    result = fit(g, split, g.training, stats_every=0)
    assert result.model._as_inputs([split.x_train[:2]])[0].dtype.kind == "i"
    assert evaluate(result.model, split.x_test, split.y_test)["accuracy"] > 0.6


def test_predict_in_chunks_equals_one_forward_pass():
    g = sample("cnn_digits")
    m = compile_graph(g)
    x = np.random.default_rng(0).random((50, 8, 8, 1)).astype(np.float32)
    whole = m.forward([x])[0].copy()
    np.testing.assert_allclose(m.predict(x, batch_size=16)[0], whole, rtol=1e-6, atol=1e-7)


def test_optimizer_params_of_another_optimizer_are_refused_clearly():
    g = small_mlp(optimizer="sgd", optimizer_params={"learning_rate": 0.1, "beta_1": 0.9})
    with pytest.raises(ValueError, match="sgd optimizer has no parameter 'beta_1'"):
        fit(g, iris_split(g), g.training)


def test_blas_threads_default_leaves_a_core_free():
    from netdesigner.backends.numpy.train import blas_threads, default_threads
    assert default_threads() == max(1, len(os.sched_getaffinity(0)) - 1)
    with blas_threads(1):
        pass
