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


def test_netdesigner_layers_in_a_keras_file_are_a_note_on_how_to_load():
    g = fileformat.load(ROOT / "samples" / "vae_digits.graph")
    problems = problems_for(g, "keras")
    assert problems and all(p.severity == "warning" for p in problems)
    assert {g.node(p.node).type for p in problems} == {"Sampling"}
    assert all("import netdesigner_layers before keras.models.load_model" in p.message
               for p in problems)
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


@pytest.mark.long        # ~20 s each: an export and two fresh Keras processes
@pytest.mark.parametrize("sample,cls", [("vae_digits", "Sampling"), ("rbf_moons", "RBF"),
                                        ("transformer_sentiment", "PositionEmbedding")])
def test_a_keras_file_with_a_netdesigner_layer_loads_with_the_module_beside_it(
        tmp_path, sample, cls):
    """The note is true: with only the export folder on the path (netdesigner not importable),
    importing netdesigner_layers lets plain Keras load the file in safe mode, with the same
    outputs; without it Keras cannot find the class."""
    import numpy as np
    g = fileformat.load(ROOT / "samples" / f"{sample}.graph")
    out = tmp_path / "export"
    out.mkdir()
    written = export(g, "keras", out / "model.keras")
    assert [p.name for p in written] == ["model.keras", "netdesigner_layers.py"]
    assert "import netdesigner" not in (out / "netdesigner_layers.py").read_text().replace(
        "import netdesigner_layers", "")
    from netdesigner.backends.export import compiled_model
    model = compiled_model(g)
    x = np.random.default_rng(0).normal(size=(3, *model.inputs[0].shape[1:])).astype("float32")
    np.save(out / "x.npy", x)
    want = model.predict(x, verbose=0)
    want = want[0] if isinstance(want, list) else want
    # -S: no site processing, so the editable install's path hook for netdesigner is not
    # there; Keras's own site-packages folder is added by hand (its .pth files unread)
    import keras
    site = str(Path(keras.__file__).resolve().parents[1])
    env = {"PYTHONPATH": str(out), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": "", "HOME": str(tmp_path)}
    load = ("import sys; sys.path.append({site!r}){imp}\n"
            "try:\n    import netdesigner\n    raise SystemExit('netdesigner importable')\n"
            "except ImportError: pass\n"
            "import keras, numpy as np\n"
            "m = keras.models.load_model('model.keras')\n"
            "y = m.predict(np.load('x.npy'), verbose=0)\n"
            "np.save('y.npy', y[0] if isinstance(y, list) else y)\n")
    plain = subprocess.run([sys.executable, "-S", "-c", load.format(site=site, imp="")],
                           capture_output=True, text=True, timeout=120, cwd=out, env=env)
    assert plain.returncode != 0 and cls in plain.stderr, plain.stderr[-2000:]
    with_module = subprocess.run(
        [sys.executable, "-S", "-c", load.format(site=site, imp="; import netdesigner_layers")],
        capture_output=True, text=True, timeout=120, cwd=out, env=env)
    assert with_module.returncode == 0, with_module.stderr[-2000:]
    np.testing.assert_allclose(np.load(out / "y.npy"), want, atol=1e-5)
