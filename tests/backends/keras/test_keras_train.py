"""Training with the Keras backend streams the protocol of backends.protocol."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from netdesigner.backends import protocol
from netdesigner.backends.keras import stream as keras_stream
from netdesigner.backends.keras import train as keras_train
from netdesigner.backends.keras.stats import segment_stats
from netdesigner.backends.keras.weights import get_weights, read_npz

from .conftest import SAMPLES, load_sample, two_heads


def _fit(digits_mlp, stats_every=protocol.STATS_EVERY, should_stop=None, **settings):
    graph, flat, split = digits_mlp
    s = {**graph.training, "epochs": 2, **settings}
    recorder = protocol.Recorder()
    result = keras_train.fit(flat, split, s, on_event=recorder, should_stop=should_stop,
                             stats_every=stats_every)
    return recorder, result


def test_events_follow_the_protocol(digits_mlp):
    recorder, result = _fit(digits_mlp, stats_every=10)
    kinds = [e["event"] for e in recorder.events]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    begin = recorder.events[0]
    assert begin["backend"] == "keras" and begin["device"] == "CPU"
    assert begin["layers"] == ["input_1", "dense_1", "dense_2"]
    steps = begin["steps_per_epoch"]
    assert steps == -(-begin["samples"] // 32)
    batches = recorder.of("batch")
    assert len(batches) == 2 * steps
    assert [b["step"] for b in batches] == list(range(1, 2 * steps + 1))
    assert set(batches[0]["metrics"]) == {"accuracy"}
    epochs = recorder.of("epoch")
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert all(e["val_loss"] is not None and "accuracy" in e["val_metrics"] for e in epochs)
    # an epoch's loss is the sample-weighted mean of its batches' own losses
    first = [b for b in batches if b["epoch"] == 0]
    sizes = [32] * (steps - 1) + [begin["samples"] - 32 * (steps - 1)]
    mean = sum(b["loss"] * k for b, k in zip(first, sizes)) / sum(sizes)
    assert epochs[0]["loss"] == pytest.approx(mean, rel=1e-4)
    stats = recorder.of("layer_stats")
    assert [s["step"] for s in stats] == [1] + list(range(10, 2 * steps + 1, 10))
    s = stats[-1]
    assert set(s["activations"]) == {"input_1", "dense_1", "dense_2"}
    assert set(s["gradients"]) == {"dense_1", "dense_2"}
    assert set(s["gradients"]["dense_1"]) == {"kernel", "bias"}
    assert set(s["weights"]["dense_2"]) == {"kernel", "bias"}
    assert len(s["activations"]["dense_1"]["histogram"]["counts"]) == protocol.HISTOGRAM_BINS
    assert s["gradients"]["dense_1"]["kernel"]["norm"] > 0
    end = recorder.end
    assert end["reason"] == "completed" and end["epochs_run"] == 2
    assert end["history"]["loss"] == [e["loss"] for e in epochs]
    assert result.history == end["history"]
    assert isinstance(result.model, keras.Model)


def test_layer_stats_are_those_of_the_protocol_functions(digits_mlp):
    """The probe's numbers and histograms equal protocol.activation_stats / gradient_stats /
    weight_stats of the same tensors."""
    from netdesigner.backends.keras.compiler import compile_graph
    from netdesigner.backends.keras.stats import LayerProbe
    graph, flat, split = digits_mlp
    model = compile_graph(flat, graph.training)
    x, y = split.x_train[:16], split.y_train[:16]
    probe = LayerProbe(model, keras_train.probe_loss(graph.training), [x], [y])
    acts, grads, weights = probe.report()
    hidden = keras.Model(model.inputs[0], model.get_layer("dense_1").output)(x).numpy()
    ref = protocol.activation_stats(hidden)
    for key in ("mean", "std", "zeros"):
        assert acts["dense_1"][key] == pytest.approx(ref[key], rel=1e-5, abs=1e-7)
    assert acts["dense_1"]["histogram"] == ref["histogram"]
    kernel = model.get_layer("dense_2").get_weights()[0]
    assert weights["dense_2"]["kernel"]["histogram"] == \
        protocol.weight_stats(kernel)["histogram"]
    assert weights["dense_2"]["kernel"]["norm"] == pytest.approx(np.linalg.norm(kernel))
    with tf_tape() as (tape, tf):
        variables = model.trainable_variables
        loss = keras.losses.CategoricalCrossentropy()(y, model(x, training=True))
    g = tape.gradient(loss, variables)
    ref = protocol.gradient_stats(g[0].numpy())
    assert grads["dense_1"]["kernel"]["norm"] == pytest.approx(ref["norm"], rel=1e-5)
    assert grads["dense_1"]["kernel"]["mean_abs"] == pytest.approx(ref["mean_abs"], rel=1e-5)


class tf_tape:
    def __enter__(self):
        import tensorflow as tf
        self.tape = tf.GradientTape()
        self.tape.__enter__()
        return self.tape, tf

    def __exit__(self, *exc):
        return self.tape.__exit__(*exc)


def test_segment_stats_match_numpy_histogram_exactly():
    rng = np.random.default_rng(3)
    parts = [rng.normal(size=300), np.zeros(9), np.full(4, 2.5), np.linspace(-3, 3, 61),
             np.array([1.0, np.nan, 2.0, np.inf, -np.inf]), np.array([np.nan, np.nan]),
             np.maximum(rng.normal(size=128), 0.0), rng.uniform(size=7).astype(np.float32)]
    stats = segment_stats(np.concatenate([p.astype(np.float64) for p in parts]),
                          [len(p) for p in parts])
    for i, p in enumerate(parts):
        ref = protocol.activation_stats(p)
        hist = ({"counts": [], "edges": []} if stats["empty"][i] else
                {"counts": stats["counts"][i].tolist(), "edges": stats["edges"][i].tolist()})
        assert hist == ref["histogram"], i
        for key in ("mean", "std", "zeros"):
            if np.isnan(ref[key]):
                assert np.isnan(stats[key][i])
            else:
                assert stats[key][i] == pytest.approx(ref[key], abs=1e-9), (i, key)
        gref = protocol.gradient_stats(p)
        for key in ("norm", "mean_abs"):
            if not np.isnan(gref[key]):
                assert stats[key][i] == pytest.approx(gref[key]), (i, key)


def test_stop_ends_the_run_after_the_batch(digits_mlp):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3
    recorder, result = _fit(digits_mlp, stats_every=0, should_stop=should_stop)
    assert result.reason == "stopped"
    assert len(recorder.of("batch")) == 3
    assert recorder.of("epoch") == []          # the unfinished epoch gets no epoch event
    assert recorder.end["epochs_run"] == 0


def test_early_stopping_restores_the_best_weights(digits_mlp, tmp_path):
    graph, flat, split = digits_mlp
    recorder = protocol.Recorder()
    settings = {**graph.training, "epochs": 30, "early_stopping_patience": 1,
                "optimizer_params": {"learning_rate": 0.5}}
    out = tmp_path / "w.npz"
    result = keras_train.fit(flat, split, settings, on_event=recorder, stats_every=0,
                             weights_out=out)
    assert result.reason == "early_stopping"
    val = [e["val_loss"] for e in recorder.of("epoch")]
    assert result.epochs_run == len(val) < 30
    assert result.best_epoch == int(np.argmin(val))
    assert result.best_val_loss == pytest.approx(min(val))
    # the model (and the saved file) hold the weights of the best epoch
    ev = keras_train.evaluate(result.model, split.x_val, split.y_val, settings)
    assert ev["loss"] == pytest.approx(min(val), rel=1e-5)
    saved = read_npz(out)
    assert all(np.array_equal(saved[k], v) for k, v in get_weights(result.model).items())


def test_a_nan_loss_ends_the_run_with_advice(digits_mlp):
    graph, flat, split = digits_mlp
    x = split.x_train.copy()
    x[5] = np.nan
    recorder = protocol.Recorder()
    result = keras_train.fit(flat, {"x_train": x, "y_train": split.y_train},
                             {**graph.training, "epochs": 2}, on_event=recorder,
                             stats_every=0)
    assert result.reason == "nan"
    assert recorder.end["message"] == protocol.NAN_ADVICE
    losses = [b["loss"] for b in recorder.of("batch")]
    # the NaN sample's batch, then at most WEIGHT_CHECK_EVERY - 1 more: TensorFlow's CPU ReLU
    # can turn the NaN into 0, so the loss may stay finite while the weights are NaN already
    order = keras_train.permutations(len(x), 2, graph.training["seed"])[0]
    nan_batch = int(np.where(order == 5)[0][0]) // graph.training["batch_size"]
    assert nan_batch < len(losses) <= nan_batch + keras_stream.WEIGHT_CHECK_EVERY
    assert np.isfinite(losses[:nan_batch]).all()
    assert recorder.of("epoch") == []          # the run ends in the epoch of the NaN sample


def test_several_outputs_name_their_metrics_by_node():
    graph = two_heads()
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(64, 6)).astype("float32"), rng.normal(size=(64, 4)).astype("float32")]
    y = [np.eye(3, dtype="float32")[rng.integers(0, 3, 64)] for _ in range(2)]
    recorder = protocol.Recorder()
    settings = {**graph.training, "epochs": 2, "batch_size": 16}
    keras_train.fit(graph, {"x_train": x, "y_train": y, "x_val": x, "y_val": y}, settings,
                    on_event=recorder, stats_every=2)
    epoch = recorder.of("epoch")[0]
    assert set(epoch["metrics"]) == {"head_a_accuracy", "head_b_accuracy"}
    assert set(epoch["val_metrics"]) == {"head_a_accuracy", "head_b_accuracy"}
    assert {"head_a", "head_b", "trunk"} <= set(recorder.of("layer_stats")[0]["gradients"])


def test_the_custom_loop_matches_model_fit(digits_mlp):
    a, _ = _fit(digits_mlp, stats_every=0)
    graph, flat, split = digits_mlp
    b = protocol.Recorder()
    keras_train.fit(flat, split, {**graph.training, "epochs": 2}, on_event=b, stats_every=0,
                    loop="custom")
    for ea, eb in zip(a.of("epoch"), b.of("epoch")):
        assert eb["loss"] == pytest.approx(ea["loss"], rel=1e-5)
        assert eb["val_loss"] == pytest.approx(ea["val_loss"], rel=1e-5)
        assert eb["metrics"]["accuracy"] == pytest.approx(ea["metrics"]["accuracy"], abs=1e-6)
    assert [x["loss"] for x in a.of("batch")[:5]] == \
        pytest.approx([x["loss"] for x in b.of("batch")[:5]], rel=1e-5)


@pytest.mark.long
def test_devices_strategies_and_mixed_precision(digits_mlp):
    from netdesigner.backends.keras.devices import DeviceError
    graph, flat, split = digits_mlp
    for options, device in (({"device": "cpu"}, "CPU"),
                            ({"strategy": "mirrored"}, "MirroredStrategy over 1 replica(s): CPU"),
                            ({"mixed_precision": True}, "CPU, mixed_bfloat16")):
        rec = protocol.Recorder()
        result = keras_train.fit(flat, split, {**graph.training, "epochs": 1}, on_event=rec,
                                 stats_every=20, **options)
        assert rec.events[0]["device"] == device
        assert result.reason == "completed" and np.isfinite(rec.of("epoch")[0]["loss"])
    if not keras_train.devices_module.gpus():
        with pytest.raises(DeviceError, match="no GPU"):
            keras_train.fit(flat, split, graph.training, device="gpu")
    with pytest.raises(DeviceError, match="unknown strategy"):
        keras_train.fit(flat, split, graph.training, strategy="tpu")


def test_numpy_and_keras_agree_after_the_first_batch(digits_mlp):
    """From the same weights, on the same first batch, both backends give the same loss, and
    the same weights after one update."""
    from netdesigner.backends.numpy import train as numpy_train
    from netdesigner.backends.numpy.model import compile_graph as numpy_compile
    graph, flat, split = digits_mlp
    settings = {**graph.training, "epochs": 1}
    start = numpy_compile(flat, settings).get_weights()
    results = {}
    for name, fit in (("numpy", numpy_train.fit), ("keras", keras_train.fit)):
        rec = protocol.Recorder()
        r = fit(flat, split, settings, on_event=rec, should_stop=lambda: True,
                initial_weights=start, stats_every=0)
        results[name] = (rec.of("batch"), r)
    (nb, nr), (kb, kr) = results["numpy"], results["keras"]
    assert len(nb) == len(kb) == 1
    assert abs(nb[0]["loss"] - kb[0]["loss"]) < 1e-4
    assert abs(nb[0]["metrics"]["accuracy"] - kb[0]["metrics"]["accuracy"]) < 1e-6
    after_numpy, after_keras = nr.model.get_weights(), get_weights(kr.model)
    assert sorted(after_numpy) == sorted(after_keras)
    for key, value in after_numpy.items():
        np.testing.assert_allclose(after_keras[key], value, atol=1e-6)
    ev_numpy = numpy_train.evaluate(nr.model, split.x_val, split.y_val)
    ev_keras = keras_train.evaluate(kr.model, split.x_val, split.y_val, settings)
    assert abs(ev_numpy["loss"] - ev_keras["loss"]) < 1e-4


@pytest.mark.parametrize("optimizer, params, clip_norm", [
    ("adam", {"learning_rate": 0.01}, 0.0),
    ("sgd", {"learning_rate": 1.0}, 1e-3)], ids=["adam", "sgd-clipnorm"])
def test_an_embedding_takes_the_same_steps_on_both_backends(optimizer, params, clip_norm):
    """An Embedding's gradient reaches Keras's optimizer as tf.IndexedSlices, one row per token
    of the batch; Adam squared each row alone instead of the gradient, and clipnorm measured
    the rows, not the gradient (compiler.dense_gradients). From the same start, on the same
    batches, both backends now hold the same weights after five steps, the embedding table
    included; before, its values were up to 0.13 apart (Adam)."""
    from netdesigner.backends.numpy import train as numpy_train
    from netdesigner.backends.numpy.model import compile_graph as numpy_compile
    from netdesigner.backends.numpy.weights import from_keras
    from netdesigner.backends.jobs import prepare
    graph = load_sample("seq2seq_reverse")
    prepared = prepare(graph, str(SAMPLES))
    flat, split = prepared.network, prepared.split
    settings = {**graph.training, "epochs": 1, "optimizer": optimizer,
                "optimizer_params": params, "clip_norm": clip_norm}
    models = {}
    for name, fit in (("numpy", numpy_train.fit), ("keras", keras_train.fit)):
        batches = []
        rec = protocol.Recorder()
        result = fit(flat, split, settings, on_event=rec, stats_every=0,
                     should_stop=lambda: batches.append(1) or len(batches) >= 5)
        assert len(rec.of("batch")) == 5
        models[name] = result.model
    ours = models["numpy"].get_weights()
    theirs = from_keras(models["keras"], models["numpy"])
    start = numpy_compile(flat, settings).get_weights()
    moved = np.abs(ours["embedding_1/embeddings"] - start["embedding_1/embeddings"]).max()
    assert moved > 1e-4, "the embedding moved, well beyond the tolerance below"
    for key, value in ours.items():
        np.testing.assert_allclose(theirs[key], value, atol=2e-5, err_msg=key)


def test_weights_files_go_between_the_backends(digits_mlp, tmp_path):
    """Weights saved by the Keras backend load into the NumPy backend (names and order), and
    weights_in starts a Keras run from them."""
    graph, flat, split = digits_mlp
    out = tmp_path / "net.weights.npz"
    _, result = _fit(digits_mlp, stats_every=0)
    from netdesigner.backends.keras.weights import save_npz
    save_npz(result.model, out)
    from netdesigner.backends.numpy import weights as numpy_weights
    from netdesigner.backends.numpy.model import compile_graph as numpy_compile
    model = numpy_weights.load_npz(numpy_compile(flat, graph.training), out)
    expected = keras_train.predict(result.model, split.x_val)
    np.testing.assert_allclose(model.predict(split.x_val)[0], expected, atol=1e-5)
    rec = protocol.Recorder()
    again = keras_train.fit(flat, split, {**graph.training, "epochs": 1}, on_event=rec,
                            should_stop=lambda: True, weights_in=out, stats_every=0)
    first = keras_train.permutations(len(split.x_train), 1, graph.training["seed"])[0][:32]
    loss = keras.losses.CategoricalCrossentropy()(
        split.y_train[first], result.model(split.x_train[first], training=False))
    assert rec.of("batch")[0]["loss"] == pytest.approx(float(loss), rel=1e-5)   # not fresh
    assert again.reason == "stopped"


def test_the_runner_trains_with_the_keras_backend(tmp_path):
    from netdesigner.backends.jobs import Job, run_job
    from netdesigner.backends.weights_file import weights_path
    from netdesigner.graph import fileformat
    graph = load_sample("xor_mlp")
    graph.training["epochs"] = 20
    text = fileformat.dumps(graph)
    out = weights_path(tmp_path / "xor.graph")
    recorder = protocol.Recorder()
    run_job(Job(text, str(SAMPLES), backend="keras", weights_out=str(out),
                options={"device": "cpu"}), recorder, lambda: False)
    assert not recorder.of("error"), recorder.of("traceback")
    assert recorder.end["reason"] in ("completed", "early_stopping")
    assert set(read_npz(out)) == {"dense_1/kernel", "dense_1/bias", "dense_2/kernel",
                                  "dense_2/bias"}


@pytest.mark.long      # make test's budget (3.5 s)
def test_a_design_with_blocks_trains():
    from netdesigner.backends.jobs import prepare
    graph = load_sample("resnet_digits")
    prepared = prepare(graph, str(SAMPLES))
    flat, split = prepared.network, prepared.split
    rec = protocol.Recorder()
    steps = []
    keras_train.fit(flat, split, {**graph.training, "epochs": 1}, on_event=rec, stats_every=4,
                    should_stop=lambda: steps.append(1) or len(steps) >= 8)
    assert rec.end["reason"] == "stopped"
    stats = rec.of("layer_stats")[-1]
    assert set(stats["activations"]) == set(flat.nodes())
    assert "block_1__2__bn_b" in stats["gradients"]
    assert set(stats["weights"]["block_1__2__bn_b"]) == {"gamma", "beta", "moving_mean",
                                                         "moving_variance"}
