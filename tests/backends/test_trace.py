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
from netdesigner.backends.trace import TraceError, explain, trace, trace_weights
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
