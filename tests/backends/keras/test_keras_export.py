"""Export: a standalone script, a SavedModel, a .keras file and ONNX, with trained weights."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import onnxruntime as ort
import pytest
import tensorflow as tf

from netdesigner.backends.export import ExportError, export, weights_file_for
from netdesigner.backends.keras.compiler import compile_graph
from netdesigner.backends.keras.weights import get_weights

from tests.graph.builders import seq2seq_states

from .conftest import ROOT, load_sample, sequence_design, two_heads

HERE = Path(__file__).parent


def _trained(graph):
    """The compiled design with weights moved away from their initial values (as training
    would), and inputs to run it on."""
    model = compile_graph(graph)
    rng = np.random.default_rng(7)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype)
                       if "moving_variance" not in v.path else w + 0.5
                       for w, v in zip(model.get_weights(), model.weights)])
    xs = []
    for t in model.inputs:
        shape = (5,) + tuple(t.shape[1:])
        xs.append(rng.integers(0, 50, shape).astype("int32") if "int" in t.dtype
                  else rng.normal(size=shape).astype("float32"))
    return model, xs


def _outputs(model, xs) -> list:
    out = model(xs if len(xs) > 1 else xs[0], training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _normalised(config) -> dict:
    return json.loads(json.dumps(config, default=list))


DESIGNS = {"resnet_digits": lambda: load_sample("resnet_digits"), "two_heads": two_heads,
           "sequence": sequence_design, "seq2seq_states": seq2seq_states}


@pytest.fixture(scope="module")
def exported_scripts(tmp_path_factory):
    """Every design exported as a script with its weights, then run in fresh processes."""
    root = tmp_path_factory.mktemp("scripts")
    results = {}
    procs = {}
    for name, make in DESIGNS.items():
        graph = make()
        model, xs = _trained(graph)
        written = export(graph, "py", root / f"{name}.py", weights=get_weights(model),
                         source_name=f"{name}.graph")
        assert written == [root / f"{name}.py", weights_file_for(root / f"{name}.py")]
        np.savez(root / f"{name}_in.npz", **{f"x_{i}": x for i, x in enumerate(xs)})
        args = [sys.executable, str(HERE / "check_exported.py"), str(root / f"{name}.py"),
                str(root / f"{name}_in.npz"), str(root / f"{name}_out")]
        if name == "resnet_digits":
            from netdesigner.backends.export import write_data
            from netdesigner.backends.jobs import prepare
            split = prepare(graph, str(ROOT / "samples")).split
            write_data(split, root / "digits.npz")
            args.append(str(root / "digits.npz"))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
               "PYTHONPATH": ""}
        procs[name] = (subprocess.Popen(args, env=env, cwd=str(root), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True), model, xs)
    for name, (proc, model, xs) in procs.items():
        out = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0, out[-4000:]
        report = json.loads((root / f"{name}_out.json").read_text())
        with np.load(root / f"{name}_out.npz") as d:
            outputs = [d[f"y_{i}"] for i in range(len(d.files))]
        results[name] = (report, outputs, model, xs, root / f"{name}.py")
    return results


# three scripts run in fresh TensorFlow processes (~17 s of the 2-core CI): make test-long
@pytest.mark.long
@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_the_script_rebuilds_the_compiled_model(exported_scripts, name):
    report, outputs, model, xs, script = exported_scripts[name]
    assert report["project_modules"] == []          # standalone: no import of this project
    assert report["params"] == model.count_params()
    assert report["config"] == _normalised(model.get_config())
    for got, want in zip(outputs, _outputs(model, xs)):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    assert report["optimizer"] == type(model.optimizer).__name__
    assert report["loss"] == type(model.loss).__name__


@pytest.mark.long
def test_the_script_trains_on_the_exported_data(exported_scripts):
    report = exported_scripts["resnet_digits"][0]
    assert np.isfinite(report["trained_loss"])


@pytest.mark.long
def test_the_script_is_readable(exported_scripts):
    text = exported_scripts["resnet_digits"][4].read_text()
    assert "from backends" not in text and "import graph" not in text
    assert 'block_1__2__conv_a = keras.layers.Conv2D(' in text
    assert "def build_model():" in text and "def compile_model(model):" in text
    assert "MultiWorkerMirroredStrategy" in text and "MirroredStrategy()" in text
    assert "keras.optimizers.Adam(" in text and "learning_rate=0.001," in text
    assert max(len(line) for line in text.splitlines()) <= 100
    compile(text, "resnet_digits.py", "exec")


def test_savedmodel_serves_the_same_outputs(tmp_path):
    for graph in (load_sample("resnet_digits"), two_heads()):
        model, xs = _trained(graph)
        out = tmp_path / f"{model.name}_savedmodel"
        export(graph, "savedmodel", out, weights=get_weights(model))
        served = tf.saved_model.load(str(out))
        args = [tf.constant(x) for x in xs]
        got = served.serve(args if len(args) > 1 else args[0])
        got = got if isinstance(got, (list, tuple)) else [got]
        for g, want in zip(got, _outputs(model, xs)):
            np.testing.assert_allclose(np.asarray(g), want, atol=1e-6, rtol=0)


def test_keras_file_reloads_in_safe_mode(tmp_path):
    graph = load_sample("resnet_digits")
    model, xs = _trained(graph)
    path = export(graph, "keras", tmp_path / "net.keras", weights=get_weights(model))[0]
    again = keras.models.load_model(path, safe_mode=True)
    for g, want in zip(_outputs(again, xs), _outputs(model, xs)):
        np.testing.assert_allclose(g, want, atol=1e-6, rtol=0)
    assert type(again.optimizer) is type(model.optimizer)
    assert _normalised(again.get_config()) == _normalised(model.get_config())


@pytest.mark.long      # make test's budget; the ONNX outputs are checked in make test-long too
def test_onnx_gives_the_same_outputs(tmp_path):
    graph = load_sample("cnn_digits")
    model, xs = _trained(graph)
    path = export(graph, "onnx", tmp_path / "net.onnx", weights=get_weights(model))[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    got = session.run(None, {name: xs[0]})[0]
    np.testing.assert_allclose(got, _outputs(model, xs)[0], atol=1e-6, rtol=0)


def test_unknown_format_is_refused():
    with pytest.raises(ExportError, match="unknown export format"):
        export(load_sample("mlp_digits"), "tflite", "x.tflite")


def test_two_exports_without_weights_are_identical(tmp_path):
    """Seeded initial weights (the one initial draw both backends use): exporting the same
    project twice gives the same script and the same weights file, byte for byte."""
    graph = load_sample("gan_moons")
    outs = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        outs.append(export(graph, "py", tmp_path / run / "gan.py"))
    for first, second in zip(*outs):
        assert first.name == second.name
        assert first.read_bytes() == second.read_bytes(), first.name
