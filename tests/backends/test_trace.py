"""Tracing one sample: every layer's output and output gradient (NumPy exact, Keras within
float32 noise of it), the worked-out value of a Dense / Conv2D output, and `netdesigner trace`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends.numpy.losses import from_settings
from netdesigner.backends.trace import (Given, TraceError, drawing_shape, explain, given_input,
                                        parse_tokens, token_input, trace, trace_weights)
from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def cnn():
    return fileformat.load(SAMPLES / "cnn_digits.graph")


@pytest.fixture(scope="module")
def cnn_trace(cnn):
    return trace(cnn, SAMPLES, index=7)


def test_every_layer_has_its_output_and_gradient_for_the_sample(cnn, cnn_trace):
    assert list(cnn_trace.layers) == cnn.topological_order()
    assert cnn_trace.layers["input_1"].outputs[0].shape == (8, 8, 1)
    assert cnn_trace.layers["conv2d_1"].outputs[0].shape == (8, 8, 16)
    assert all(t.gradients[0] is not None and np.isfinite(t.gradients[0]).all()
               for t in cnn_trace.layers.values())
    # the last layer's output is the prediction; the loss is the design's loss on the target
    np.testing.assert_array_equal(cnn_trace.layers["dense_2"].outputs[0],
                                  cnn_trace.prediction[0])
    loss = from_settings(cnn.training).value(cnn_trace.prediction[0][None],
                                             cnn_trace.target[None])
    assert cnn_trace.loss == pytest.approx(loss)
    assert cnn_trace.classes and cnn_trace.predicted_class() == int(
        np.argmax(cnn_trace.prediction[0]))


def test_the_input_gradient_is_the_loss_slope(cnn, cnn_trace):
    """Finite differences on the sample itself: the traced gradient is the real one."""
    from netdesigner.backends.jobs import prepare
    from netdesigner.backends.numpy.model import compile_graph
    prepared = prepare(cnn, SAMPLES)
    model = compile_graph(prepared.network, prepared.settings, dtype=np.float64)
    loss = from_settings(prepared.settings)
    x = np.asarray(cnn_trace.inputs[0], dtype=np.float64)[None]
    y = cnn_trace.target[None]
    grad = cnn_trace.layers["input_1"].gradients[0]
    for index in [(2, 3, 0), (4, 4, 0), (6, 1, 0)]:
        h = 1e-5
        up, down = x.copy(), x.copy()
        up[(0,) + index] += h
        down[(0,) + index] -= h
        slope = (loss.value(model.forward([up])[0], y)
                 - loss.value(model.forward([down])[0], y)) / (2 * h)
        assert grad[index] == pytest.approx(slope, rel=1e-3, abs=1e-6)


def test_keras_traces_the_same_values(cnn, cnn_trace):
    other = trace(cnn, SAMPLES, index=7, backend="keras")
    assert list(other.layers) == list(cnn_trace.layers)
    for n, mine in cnn_trace.layers.items():
        theirs = other.layers[n]
        np.testing.assert_allclose(theirs.outputs[0], mine.outputs[0], atol=1e-5, rtol=0)
        scale = max(float(np.abs(mine.gradients[0]).max()), 1e-3)
        np.testing.assert_allclose(theirs.gradients[0], mine.gradients[0], atol=1e-5 * scale,
                                   rtol=1e-4)


@pytest.mark.parametrize("node", ["conv2d_1", "conv2d_2", "dense_1", "dense_2"])
def test_the_worked_out_value_is_the_layer_output(cnn, cnn_trace, node):
    weights = trace_weights(cnn, SAMPLES)
    out = cnn_trace.layers[node].outputs[0]
    for position in np.ndindex(out.shape):
        e = explain(cnn, cnn_trace, weights, node, position)
        assert e.value == pytest.approx(float(out[position]), abs=1e-5)
        assert e.inputs.shape == e.weights.shape
        assert e.z == pytest.approx(e.weighted_sum + e.bias)
    e = explain(cnn, cnn_trace, weights, "conv2d_1", (0, 0, 0))
    assert e.inputs.shape == (3, 3, 1) and "bias" in e.text()


def test_faults_are_sentences(cnn, cnn_trace):
    with pytest.raises(TraceError, match="the test split has 270 samples"):
        trace(cnn, SAMPLES, index=270)
    with pytest.raises(TraceError, match="unknown split"):
        trace(cnn, SAMPLES, split="holdout")
    with pytest.raises(TraceError, match="GAN"):
        trace(fileformat.load(SAMPLES / "gan_moons.graph"), SAMPLES)
    weights = trace_weights(cnn, SAMPLES)
    with pytest.raises(TraceError, match="Dense and Conv2D"):
        explain(cnn, cnn_trace, weights, "max_pooling2d_1", (0, 0, 0))
    with pytest.raises(TraceError, match="outside it"):
        explain(cnn, cnn_trace, weights, "dense_2", (10,))


def test_a_badly_written_explain_is_a_sentence(capsys):
    from netdesigner.designer.cli import main
    assert main(["trace", str(SAMPLES / "cnn_digits.graph"), "--explain", "dense_1:x"]) == 1
    assert "NODE:I,J,K" in capsys.readouterr().err


@pytest.mark.long       # three CLI runs in subprocesses (~5 s); explain and --why also in-process
def test_the_command_line(tmp_path):
    project = tmp_path / "cnn.graph"
    project.write_text((SAMPLES / "cnn_digits.graph").read_text())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "netdesigner", "trace", str(project),
                               *args], capture_output=True, text=True, timeout=120, env=env)
    done = run("--sample", "5", "--png", str(tmp_path / "t.png"), "--explain", "dense_1:3",
               "--why", str(tmp_path / "why.png"))
    assert done.returncode == 0, done.stderr
    assert "conv2d_1" in done.stdout and "+ bias" in done.stdout
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert "Grad-CAM (conv2d_2)" in done.stdout and (tmp_path / "why.png").stat().st_size > 500
    data = json.loads(run("--sample", "5", "--json", "--layer", "dense_2").stdout)
    assert [entry["node"] for entry in data["layers"]] == ["dense_2"]
    assert len(data["layers"][0]["outputs"][0]) == 10
    bad = run("--sample", "100000")
    assert bad.returncode == 1 and "does not exist" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_saliency_is_the_slope_of_the_class_logit_and_grad_cam_weighs_the_last_conv(cnn):
    from netdesigner.backends.jobs import prepare
    from netdesigner.backends.numpy.model import compile_graph
    from netdesigner.backends.trace import attribution
    a = attribution(cnn, SAMPLES, index=7)
    prepared = prepare(cnn, SAMPLES)
    model = compile_graph(prepared.network, prepared.settings, dtype=np.float64)
    x = prepared.split.x_test[7:8].astype(np.float64)
    model.forward([x])
    assert a.class_index == int(np.argmax(model.activations["dense_2"][0][0]))

    def logit(z):
        model.forward([z])
        return float(model.logits["dense_2"][0, a.class_index])
    for r, c in [(2, 3), (4, 4), (6, 1)]:
        up, down = x.copy(), x.copy()
        up[0, r, c, 0] += 1e-5
        down[0, r, c, 0] -= 1e-5
        slope = (logit(up) - logit(down)) / 2e-5
        assert a.saliency[r, c] == pytest.approx(abs(slope), rel=1e-3, abs=1e-6)
    # Grad-CAM by hand on the last convolution: maps weighted by their mean gradient
    model.forward([x])
    grads = {}
    one_hot = np.zeros((1, 10))
    one_hot[0, a.class_index] = 1
    model.backward([one_hot], logits=[True], output_grads=grads)
    maps, dmaps = model.activations["conv2d_2"][0][0], grads["conv2d_2"][0][0]
    raw = np.maximum((maps * dmaps.mean(axis=(0, 1))).sum(-1), 0)
    assert a.conv_layer == "conv2d_2" and a.gradcam.shape == (8, 8)
    np.testing.assert_allclose(a.gradcam[::2, ::2], raw / raw.max(), atol=1e-5)
    with pytest.raises(TraceError, match="does not classify"):
        attribution(fileformat.load(SAMPLES / "sine_forecast.graph"), SAMPLES)


def test_attention_weights_of_a_sample_are_the_keras_layers_scores():
    """transformer_sentiment's self-attention: the traced weights (heads x steps x steps) are
    what Keras's MultiHeadAttention returns as its scores for the same inputs and weights."""
    import keras

    from netdesigner.backends.jobs import prepare
    from netdesigner.backends.keras.compiler import build_model
    from netdesigner.backends.numpy.model import compile_graph
    from netdesigner.backends.numpy.weights import to_keras
    graph = fileformat.load(SAMPLES / "transformer_sentiment.graph")
    traced = trace(graph, SAMPLES, index=4)
    (node, weights), = traced.attention.items()
    assert weights.shape[0] == 4 and weights.shape[1] == weights.shape[2]
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-5)
    flat = prepare(graph, SAMPLES).network
    k_model = build_model(flat)
    to_keras(compile_graph(flat, dict(graph.training)), k_model)
    sources = [traced.layers[e.source].outputs[e.source_port][None]
               for e in flat.in_edges(node)]
    query, value = sources[0], sources[1] if len(sources) > 1 else sources[0]
    _, scores = k_model.get_layer(node)(query, value, return_attention_scores=True)
    np.testing.assert_allclose(weights, keras.ops.convert_to_numpy(scores)[0], atol=1e-5)


# -- a sample the user gives ---------------------------------------------------------------
def test_a_raw_sample_given_is_prepared_as_the_data_sets_own(cnn, cnn_trace):
    """Test row 7 given as the data set has it (0 to 16, before scaling) traces the same as
    picking row 7: the given sample goes through the pipeline's own reshaping and scaling."""
    from netdesigner.backends import data
    settings = cnn.training
    dataset = data.load("digits")
    _, _, test = data.split_indices(len(dataset.x), settings.get("validation_split", 0.15),
                                    settings.get("test_split", 0.15), settings.get("seed", 0))
    raw = dataset.x[test[7]]
    given = trace(cnn, SAMPLES, given=Given("sample", raw, "row.npy"))
    assert given.name() == "row.npy" and np.isnan(given.loss) and given.target is None
    for n, t in cnn_trace.layers.items():
        np.testing.assert_array_equal(given.layers[n].outputs[0], t.outputs[0])
        assert given.layers[n].gradients[0] is None           # no target, no gradient
    data_dict = given.to_dict()
    assert data_dict["given"] == "row.npy" and data_dict["loss"] is None
    assert data_dict["split"] is None and data_dict["index"] is None


def test_a_drawing_gets_the_data_sets_range_and_fitted_scaling():
    """Ink 0..1 becomes the digits' 0..16, then the standard scaling fitted on the training
    split (each pixel's mean and deviation); an MLP that reads 64 values gets it flattened."""
    from netdesigner.backends.jobs import prepare
    mlp = fileformat.load(SAMPLES / "mlp_digits.graph")
    mlp.training["normalize"] = "standard"
    assert drawing_shape(mlp) == (8, 8) and token_input(mlp) is None
    prepared = prepare(mlp, SAMPLES)
    ink = np.zeros((8, 8), np.float32)
    ink[1:7, 4] = 1.0
    ink[2, 3] = 0.5
    x = given_input(prepared, Given("drawing", ink, "the drawing"))
    train = np.asarray(data_x_train_raw(mlp), np.float64)          # the oracle's own statistics
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1
    np.testing.assert_allclose(x[0], (ink.ravel() * 16 - mean) / std, rtol=1e-5, atol=1e-5)


def data_x_train_raw(graph):
    from netdesigner.backends import data
    s = graph.training
    dataset = data.load("digits")
    train, _, _ = data.split_indices(len(dataset.x), s.get("validation_split", 0.15),
                                     s.get("test_split", 0.15), s.get("seed", 0))
    return dataset.x[train].reshape(len(train), -1)


def test_typed_tokens_are_checked_against_the_design():
    reverse = fileformat.load(SAMPLES / "seq2seq_reverse.graph")
    assert token_input(reverse) == (6, 10) and drawing_shape(reverse) is None
    assert parse_tokens(reverse, "3, 1 4 1 5 9").values.tolist() == [3, 1, 4, 1, 5, 9]
    for text, sentence in (("3 1 4 1 5 x", "token 6, 'x', is not a token id: type whole "
                                           "numbers from 0 to 9"),
                           ("3 1 4 1 5 10", "token 6, 10, is outside the vocabulary"),
                           ("3 1 -4 1 5 9", "token 3, -4, is outside the vocabulary"),
                           ("3 1 4", "the sequence has 3 tokens; this design reads 6"),
                           ("", "type the sequence as token ids")):
        with pytest.raises(TraceError, match=sentence):
            parse_tokens(reverse, text)
    with pytest.raises(TraceError, match="does not read token ids"):
        parse_tokens(fileformat.load(SAMPLES / "cnn_digits.graph"), "1 2 3")


def test_the_command_line_traces_a_picture_or_tokens(tmp_path, capsys):
    from PIL import Image

    from netdesigner.designer.cli import main
    picture = np.zeros((32, 32), np.uint8)
    picture[4:28, 14:18] = 255                     # a bright one on black, four times too big
    Image.fromarray(picture).save(tmp_path / "one.png")
    assert main(["trace", str(SAMPLES / "cnn_digits.graph"), "--input",
                 str(tmp_path / "one.png"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["given"] == "one.png" and data["predicted_class"] is not None
    assert data["layers"][0]["shapes"] == [[8, 8, 1]]            # resized to the digits
    assert main(["trace", str(SAMPLES / "seq2seq_reverse.graph"), "--tokens", "1 2 x"]) == 1
    assert "token 3, 'x', is not a token id" in capsys.readouterr().err
    assert main(["trace", str(SAMPLES / "seq2seq_reverse.graph"), "--input",
                 str(tmp_path / "one.png")]) == 1
    assert "does not read grey images" in capsys.readouterr().err


def test_an_input_whose_shape_is_no_list_is_neither_drawn_nor_typed():
    """A broken file ("shape": 6, one of make test's seeded mutants) opens in the designer: the
    trace panel asks these while validation names the fault."""
    from netdesigner.backends.trace import token_input
    from netdesigner.graph import Graph
    g = Graph()
    g.add_node("Input", {"shape": 6, "dtype": "int32"})
    assert drawing_shape(g) is None and token_input(g) is None
    # steps or a vocabulary that are no counts: not known (the field takes any length)
    g = Graph()
    x = g.add_node("Input", {"shape": [[6]], "dtype": "int32"})
    emb = g.add_node("Embedding", {"input_dim": [10], "output_dim": 4})
    g.connect(x, 0, emb, 0)
    assert token_input(g) == (None, None)
