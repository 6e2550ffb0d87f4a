"""Training with several Inputs and outputs: a data set's arrays named after the design's ids
(NPZ files, the teacher-forcing sequence sets), split, scaled and encoded per array; both
backends train them; greedy decoding of a teacher-forced network."""
from __future__ import annotations

import numpy as np
import pytest

from netdesigner.backends import data, jobs, protocol
from netdesigner.backends.decoding import greedy_decode
from netdesigner.backends.evaluation import evaluation_event
from netdesigner.graph import fileformat
from netdesigner.graph.model import Graph


def two_in_two_out(dataset: str, normalize: str = "none") -> Graph:
    """Inputs `a` (3 floats) and `b` (2 floats) -> concatenated -> Dense 8 -> outputs `cls`
    (softmax over 3 classes) and `num` (one number)."""
    g = Graph()
    a = g.add_node("Input", {"shape": [3]}, node_id="a")
    b = g.add_node("Input", {"shape": [2]}, node_id="b")
    cat = g.add_node("Concatenate", {})
    hidden = g.add_node("Dense", {"units": 8, "activation": "tanh"})
    cls = g.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="cls")
    num = g.add_node("Dense", {"units": 1, "activation": "linear"}, node_id="num")
    for src, dst, port in ((a, cat, 0), (b, cat, 1), (cat, hidden, 0), (hidden, cls, 0),
                           (hidden, num, 0)):
        g.connect(src, 0, dst, port)
    g.training.update({"dataset": dataset, "loss": "mse", "optimizer": "adam",
                       "optimizer_params": {"learning_rate": 0.01}, "batch_size": 16,
                       "epochs": 2, "normalize": normalize, "metrics": []})
    return g


def arrays(n: int = 100, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    a = rng.normal(3.0, 2.0, (n, 3)).astype(np.float32)
    b = np.stack([a[:, 0] * 2, np.arange(n, dtype=np.float32)], axis=1)  # row k: b[k, 1] == k
    return {"a": a, "b": b, "cls": (np.arange(n) % 3).astype(np.int64),
            "num": a.sum(axis=1, keepdims=True)}


@pytest.fixture
def npz(tmp_path):
    def write(**named):
        path = tmp_path / "named.npz"
        np.savez(path, **named)
        return path
    return write


def prepared(graph: Graph, base_dir):
    return jobs.prepare(graph, str(base_dir)).split


def test_named_arrays_feed_their_inputs_and_outputs_with_the_rows_kept_together(npz, tmp_path):
    named = arrays()
    npz(**named)
    split = prepared(two_in_two_out("named.npz", normalize="standard"), tmp_path)
    assert split.inputs == ["a", "b"] and split.outputs == ["cls", "num"]
    (a, b), (cls, num) = split.x_train, split.y_train
    rows = b[:, 1] * np.asarray(split.scaling["b"]["std"])[1] + split.scaling["b"]["mean"][1]
    rows = np.round(rows).astype(int)           # the sample each training row came from
    # one split for every array: the rows of a, b and both targets stay together
    np.testing.assert_allclose(a * np.asarray(split.scaling["a"]["std"])
                               + split.scaling["a"]["mean"], named["a"][rows], rtol=1e-5)
    assert cls.shape == (70, 3) and (cls.argmax(1) == rows % 3).all()       # one-hot per target
    np.testing.assert_allclose(num, named["num"][rows], rtol=1e-6)
    # scaling per Input, fitted on the training split only
    np.testing.assert_allclose(a.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(split.scaling["a"]["mean"], named["a"][rows].mean(0), rtol=1e-5)
    assert "inputs a (3,), b (2,); targets cls (3,), num (1,)" in split.summary()


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("b"), "has no array named 'b' for the Input b (its arrays: a, cls, num)"),
    (lambda d: d.update(extra=d["num"]), "array 'extra' matches no Input or output of the "
                                         "network (Inputs: a, b; outputs: cls, num)"),
    (lambda d: d.update(b=d["b"][:90]), "array 'b' has 90 samples but 'a' has 100"),
    (lambda d: d.update(a=d["a"][:, :2]), "array 'a' of data set 'named' has samples of shape "
                                          "(2,), but the Input a expects (3,)"),
    (lambda d: d.update(num=np.ones((100, 2), np.float32)), "The targets have shape (2,) but "
                                                            "the output num gives (1,)"),
], ids=["missing", "extra", "rows", "input-shape", "target-shape"])
def test_a_misfit_array_is_named_with_its_node(npz, tmp_path, change, message):
    named = arrays()
    change(named)
    npz(**named)
    with pytest.raises(data.DataError) as e:
        prepared(two_in_two_out("named.npz"), tmp_path)
    assert message in str(e.value)


def test_the_arrays_setting_names_the_array_of_each_node(npz, tmp_path):
    named = arrays()
    npz(first=named["a"], second=named["b"], cls=named["cls"], target=named["num"])
    g = two_in_two_out("named.npz")
    g.training["arrays"] = " a=first, b = second,num=target "
    split = prepared(g, tmp_path)
    np.testing.assert_array_equal(split.x_train[1][:, 0], split.x_train[0][:, 0] * 2)
    np.testing.assert_allclose(split.y_train[1][:, 0], split.x_train[0].sum(axis=1), rtol=1e-5)
    for setting, message in (("a=first, b", "'b' is not node=array"),
                             ("c=first", "'c' is no Input or output of the network (they are "
                                         "a, b, cls, num)"),
                             ("a=first, b=third", "has no array named 'third', which the "
                                                  "training setting arrays gives the Input b"),
                             ("a=first, b=first", "array 'first' feeds two nodes")):
        g.training["arrays"] = setting
        with pytest.raises(data.DataError) as e:
            prepared(g, tmp_path)
        assert message in str(e.value)


def test_a_two_input_design_on_x_and_y_data_is_told_about_teacher_forcing():
    g = two_in_two_out("reverse")
    with pytest.raises(data.DataError, match="no array named 'a' for the Input a "
                                             r"\(its arrays: x, y\).*'reverse_teacher'"):
        prepared(g, ".")


def test_teacher_forcing_shifts_the_target_behind_a_start_token():
    plain, forced = data.load("reverse", seed=3), data.load("reverse_teacher", seed=3)
    enc, dec, y = (forced.arrays[k] for k in ("encoder_in", "decoder_in", "y"))
    np.testing.assert_array_equal(enc, plain.x)
    np.testing.assert_array_equal(y, plain.y)
    assert data.start_token(forced) == 10 and (dec[:, 0] == 10).all()
    np.testing.assert_array_equal(dec[:, 1:], y[:, :-1])


def test_a_single_input_design_still_gets_the_plain_split():
    """One Input and one output on x / y: `prepare` as before (arrays, not lists)."""
    ds = data.load("xor")
    settings = {"validation_split": 0, "test_split": 0, "loss": "mse"}
    via_network = data.prepare_network(ds, settings, {"in": (2,)}, {"out": (1,)})
    plain = data.prepare(ds, settings, (2,), (1,), "in", "out")
    assert not via_network.multi and via_network.inputs == []
    np.testing.assert_array_equal(via_network.x_train, plain.x_train)
    np.testing.assert_array_equal(via_network.y_train, plain.y_train)


def test_the_cli_trains_a_two_input_two_output_design_on_numpy(npz, tmp_path, capsys):
    from netdesigner.designer.cli import main
    npz(**arrays())
    g = two_in_two_out("named.npz", normalize="standard")
    fileformat.save(g, tmp_path / "two.graph")
    assert main(["train", str(tmp_path / "two.graph"), "--epochs", "2", "--no-save"]) == 0
    out = capsys.readouterr().out
    assert "test" in out and "nan" not in out


def test_the_numpy_backend_takes_a_step_with_the_losses_of_both_outputs_summed(npz, tmp_path):
    from netdesigner.backends.numpy import train as numpy_train
    npz(**arrays())
    prep = jobs.prepare(two_in_two_out("named.npz"), str(tmp_path))
    rec = protocol.Recorder()
    result = numpy_train.fit(prep.network, prep.split, {**prep.settings, "epochs": 1},
                             on_event=rec, should_stop=lambda: True, stats_every=0)
    split, model = prep.split, result.model
    first = rec.of("batch")[0]["loss"]
    # the loss of the first batch again, from the weights before the step: the sum per output
    start = numpy_train.fit(prep.network, prep.split, {**prep.settings, "epochs": 0}).model
    order = np.random.default_rng([0, 2]).permutation(len(split.x_train[0]))[:16]
    outs = start.forward([x[order] for x in split.x_train], training=False)
    per_output = [float(np.mean((o - y[order]) ** 2)) for o, y in zip(outs, split.y_train)]
    assert first == pytest.approx(sum(per_output), rel=1e-5)
    assert not np.allclose(model.flat, start.flat)


def test_evaluation_of_several_outputs_lists_scores_and_says_what_views_cannot_show(npz,
                                                                                    tmp_path):
    npz(**arrays())
    split = prepared(two_in_two_out("named.npz"), tmp_path)
    event = evaluation_event(split, [y * 0.5 for y in split.y_test], 0.3, {})
    assert event["task"] == "outputs" and set(event["report"]) == {"cls", "num"}
    assert "accuracy" in event["report"]["cls"] and "mse" in event["report"]["num"]
    assert "2 outputs (cls, num)" in event["note"]


def test_greedy_decoding_feeds_back_its_own_previous_token():
    """A stand-in network whose step t predicts (decoder input at t) + 1: from the start token
    10 it writes 0, 1, 2, ... only when each prediction is fed back into the next step."""
    def predict(feed):
        fed = feed["decoder_in"]
        assert feed["encoder_in"].shape == (4, 5)
        return np.eye(11)[(fed + 1) % 11]
    tokens = greedy_decode(predict, {"encoder_in": np.zeros((4, 5))}, steps=5, start=10)
    np.testing.assert_array_equal(tokens, np.tile(np.arange(5), (4, 1)))


@pytest.mark.long          # builds a Keras model (several seconds of TensorFlow start-up)
def test_numpy_and_keras_agree_on_a_two_input_two_output_design(npz, tmp_path):
    """From the same initial weights and the same batches, both backends give the same loss
    (the outputs' losses summed) and metrics every epoch."""
    from netdesigner.backends.keras import train as keras_train
    from netdesigner.backends.numpy import train as numpy_train
    from netdesigner.backends.numpy.model import compile_graph
    npz(**arrays(n=200))
    g = two_in_two_out("named.npz", normalize="standard")
    g.training.update({"epochs": 3, "metrics": ["mae"]})
    prep = jobs.prepare(g, str(tmp_path))
    start = compile_graph(prep.network, prep.settings).get_weights()
    histories = {}
    for name, module in (("numpy", numpy_train), ("keras", keras_train)):
        result = module.fit(prep.network, prep.split, prep.settings, initial_weights=start,
                            stats_every=0)
        histories[name] = result.history
    numpy_h, keras_h = histories["numpy"], histories["keras"]
    assert set(numpy_h) <= set(keras_h) and "cls_mae" in numpy_h and "val_num_mae" in numpy_h
    for key, values in numpy_h.items():
        np.testing.assert_allclose(keras_h[key], values, rtol=1e-4, atol=1e-5, err_msg=key)


def teacher_forced_seq2seq(steps: int = 6, units: int = 64, epochs: int = 40) -> Graph:
    """A seq2seq without state wires, trained with teacher forcing (`reverse_teacher`): the
    encoder LSTM's last output, repeated at every step (RepeatVector), joined to the decoder's
    input (the right previous digit, embedded) -> a decoder LSTM -> one softmax per step."""
    g = Graph()
    enc = g.add_node("Input", {"shape": [steps], "dtype": "int32"}, node_id="encoder_in")
    dec = g.add_node("Input", {"shape": [steps], "dtype": "int32"}, node_id="decoder_in")
    enc_emb = g.add_node("Embedding", {"input_dim": 10, "output_dim": 16})
    dec_emb = g.add_node("Embedding", {"input_dim": 11, "output_dim": 16})   # + start token
    encoder = g.add_node("LSTM", {"units": units})
    repeat = g.add_node("RepeatVector", {"n": steps})
    joined = g.add_node("Concatenate", {})
    decoder = g.add_node("LSTM", {"units": units, "return_sequences": True})
    out = g.add_node("TimeDistributed", {"units": 10, "activation": "softmax"})
    for src, dst, port in ((enc, enc_emb, 0), (enc_emb, encoder, 0), (encoder, repeat, 0),
                           (dec, dec_emb, 0), (repeat, joined, 0), (dec_emb, joined, 1),
                           (joined, decoder, 0), (decoder, out, 0)):
        g.connect(src, 0, dst, port)
    g.training.update({"dataset": "reverse_teacher" if steps == 6 else "reverse_long_teacher",
                       "loss": "sparse_categorical_crossentropy", "optimizer": "adam",
                       "optimizer_params": {"learning_rate": 0.01}, "batch_size": 64,
                       "epochs": epochs, "one_hot": False, "metrics": ["accuracy"]})
    return g


@pytest.mark.long          # 40 epochs of two LSTMs: about a minute on NumPy, 1.5 on Keras
@pytest.mark.parametrize("backend", ["numpy", "keras"])
def test_a_teacher_forced_seq2seq_learns_to_reverse_and_decodes_greedily(backend):
    """Trained with teacher forcing (seed 0; measured NumPy 98.96% per digit, 93.9% of the
    sequences; Keras 99.91% and 99.5%), it also reverses when it reads its own previous digit
    (greedy decoding, on the 750 test samples: measured NumPy 97.8% per digit, 93.9% of the
    sequences; Keras 99.87% and 99.5%)."""
    from netdesigner.backends.decoding import predictor
    g = teacher_forced_seq2seq()
    outcome = jobs.execute(jobs.Job(fileformat.dumps(g), ".", backend, stats_every=0),
                           lambda event: None)
    report = outcome.evaluation["report"]
    assert report["accuracy"] >= 0.97 and report["sequence_accuracy"] >= 0.85, report
    split = outcome.prepared.split
    encoder_in, _ = split.x_test
    tokens = greedy_decode(predictor(backend, outcome.result.model, g.inputs()),
                           {"encoder_in": encoder_in}, 6, data.start_token(split.dataset))
    assert (tokens == split.y_test).mean() >= 0.95
    assert (tokens == split.y_test).all(axis=1).mean() >= 0.85


def test_an_output_layer_with_several_ports_is_refused_by_name():
    g = Graph()
    x = g.add_node("Input", {"shape": [4, 2]})
    lstm = g.add_node("LSTM", {"units": 3, "return_state": True})
    g.connect(x, 0, lstm, 0)
    g.training.update({"dataset": "xor", "loss": "mse"})
    with pytest.raises(ValueError, match=r"the output layer lstm_1 gives 3 values \(ports\)"):
        jobs.prepare(g, ".")


def test_a_two_input_two_output_design_is_traced_on_both_backends(npz, tmp_path):
    """Every layer of a sample with two Inputs and two outputs: the Inputs hold their parts of
    the row, the loss is the sum of the outputs' (as training has it), and Keras agrees with
    NumPy; saliency (one Input's values) and a drawn sample (one array) say why not."""
    from netdesigner.backends.numpy.losses import from_settings
    from netdesigner.backends.trace import Given, TraceError, attribution, trace
    npz(**arrays())
    graph = two_in_two_out("named.npz")
    split = prepared(graph, tmp_path)
    traced = {b: trace(graph, str(tmp_path), index=4, backend=b) for b in ("numpy", "keras")}
    t = traced["numpy"]
    np.testing.assert_array_equal(t.layers["a"].outputs[0], split.x_test[0][4])
    np.testing.assert_array_equal(t.layers["b"].outputs[0], split.x_test[1][4])
    assert isinstance(t.target, list) and len(t.target) == len(t.prediction) == 2
    loss = from_settings(graph.training)
    want = sum(float(loss.value_and_grad(np.asarray(p)[None], np.asarray(y)[None])[0])
               for p, y in zip(t.prediction, t.target))
    assert t.loss == pytest.approx(want)
    assert t.predicted_class() is None and t.to_dict()["target"][1] == t.target[1].tolist()
    for n, layer in t.layers.items():
        other = traced["keras"].layers[n]
        np.testing.assert_allclose(other.outputs[0], layer.outputs[0], rtol=1e-5, atol=1e-6)
        if layer.gradients[0] is not None:
            # the Inputs' gradients (~3e-3) are sums of terms of ~20 (dense_1's) that cancel:
            # float32 leaves ~2e-6 of them, as in a one-Input trace
            np.testing.assert_allclose(other.gradients[0], layer.gradients[0], rtol=1e-4,
                                       atol=1e-5)
    assert t.layers["a"].gradients[0] is not None and t.layers["b"].gradients[0] is not None
    with pytest.raises(TraceError, match="this design has 2 Inputs"):
        attribution(graph, str(tmp_path), index=4)
    with pytest.raises(TraceError, match=r"the drawing is one sample, and this design has 2 "
                                         r"Inputs \(a, b\): trace a row of a split instead"):
        trace(graph, str(tmp_path), given=Given("sample", np.zeros(3, np.float32),
                                                "the drawing"))
