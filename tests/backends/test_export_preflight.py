"""The export pre-flight check names what a format cannot carry, and a real export agrees."""
import subprocess
import sys
from pathlib import Path

import pytest

from netdesigner.backends.export import export
from netdesigner.backends.export.errors import ExportError
from netdesigner.backends.export.preflight import problems_for
from netdesigner.graph import BlockDef, Graph, fileformat

ROOT = Path(__file__).resolve().parents[2]


def dense_net(activation: str) -> Graph:
    g = Graph()
    i = g.add_node("Input", {"shape": (4,)})
    d = g.add_node("Dense", {"units": 3, "activation": activation}, node_id="hidden")
    o = g.add_node("Dense", {"units": 2, "activation": "softmax"})
    g.connect(i, 0, d, 0)
    g.connect(d, 0, o, 0)
    return g


def test_gelu_is_an_onnx_error_and_nothing_else_is_refused():
    g = dense_net("gelu")
    (problem,) = problems_for(g, "onnx")
    assert problem.node == "hidden" and problem.severity == "error"
    assert "activation=gelu" in problem.message and "SavedModel" in problem.message
    for to in ("py", "savedmodel", "keras"):
        assert problems_for(g, to) == []
    assert problems_for(dense_net("swish"), "onnx") == []


def test_a_layer_inside_a_block_is_reported_on_the_block_node():
    inner = Graph()
    x = inner.add_node("Input", {"shape": (4,)}, node_id="x")
    d = inner.add_node("LSTM", {"units": 4, "recurrent_activation": "gelu"}, node_id="rnn")
    inner.connect(x, 0, d, 0)
    g = Graph()
    g.define_block(BlockDef("unit", inner, ["x"], [("rnn", 0)]))
    i = g.add_node("Input", {"shape": (5, 4)})
    b = g.add_node("Block", {"block": "unit", "repeat": 2}, node_id="encoder")
    g.connect(i, 0, b, 0)
    problems = problems_for(g, "onnx")
    assert [p.node for p in problems] == ["encoder"], "one problem, on the node one can click"
    assert "layer encoder__1__rnn of the block" in problems[0].message


def test_netdesigner_layers_in_a_keras_file_are_a_warning():
    g = fileformat.load(ROOT / "samples" / "vae_digits.graph")
    problems = problems_for(g, "keras")
    assert problems and all(p.severity == "warning" for p in problems)
    assert {g.node(p.node).type for p in problems} == {"Sampling"}
    assert problems_for(g, "savedmodel") == []


def test_unknown_format_is_a_sentence():
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        problems_for(dense_net("relu"), "tflite")


@pytest.mark.long        # ~16 s: a SavedModel export and a tf2onnx run
def test_the_flagged_design_really_fails_to_convert(tmp_path):
    """What the pre-flight check refuses, tf2onnx cannot convert: it used to write a file that
    onnxruntime then refused ("No Op registered for Erfc"); the export now says so and leaves
    no file."""
    out = tmp_path / "net.onnx"
    with pytest.raises(ExportError, match="Erfc"):
        export(dense_net("gelu"), "onnx", out)
    assert not out.exists()


@pytest.mark.long
def test_a_keras_file_with_a_netdesigner_layer_needs_netdesigner(tmp_path):
    """The warning is true: plain Keras cannot load the file; with netdesigner imported it can."""
    g = fileformat.load(ROOT / "samples" / "vae_digits.graph")
    (path,) = export(g, "keras", tmp_path / "vae.keras")
    load = "import keras; keras.models.load_model({!r}, compile=False); print('loaded')"
    plain = subprocess.run([sys.executable, "-c", load.format(str(path))],
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert plain.returncode != 0 and "Sampling" in plain.stderr
    with_nd = subprocess.run(
        [sys.executable, "-c", "import netdesigner.backends.keras.layers; "
         + load.format(str(path))], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert with_nd.returncode == 0 and "loaded" in with_nd.stdout, with_nd.stderr[-2000:]
