"""The exported script and `.keras` file take raw samples too: the scaling fitted on the
training split and the class names go with them, so raw samples give the designer's
predictions (the SavedModel's `serve_raw`: test_keras_export_serving.py)."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends.data import split_indices
from netdesigner.backends.evaluation import class_ids
from netdesigner.backends.export import compiled_model, export
from netdesigner.backends.jobs import prepare
from netdesigner.backends.keras.weights import get_weights
from netdesigner.graph import fileformat

ROOT = Path(__file__).resolve().parents[3]


def designer(sample: str, n: int = 40):
    """(design, split, raw test samples as in the data set, the designer's outputs on them)."""
    g = fileformat.load(ROOT / "samples" / f"{sample}.graph")
    split = prepare(g, ROOT / "samples").split
    s = g.training
    _, _, test = split_indices(len(split.dataset.x), s.get("validation_split", 0.15),
                               s.get("test_split", 0.15), s.get("seed", 0))
    raw = np.asarray(split.dataset.x[test])[:n]
    model = compiled_model(g)
    return g, split, raw, model, model.predict(split.x_test[:n], verbose=0)


def load_script(path: Path):
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)           # defines; main() runs only as a program
    return module


@pytest.mark.long
def test_raw_digits_through_the_exported_script_and_keras_file(tmp_path):
    g, split, raw, model, want = designer("mlp_digits")
    classes = [str(c) for c in split.dataset.classes]
    names = [classes[i] for i in class_ids(want)]
    weights = get_weights(model)

    script, *_ = export(g, "py", tmp_path / "net.py", split=split, weights=weights)
    text = script.read_text()
    assert "RAW = {" in text and repr(float(split.scaling["max"])) in text
    module = load_script(script)
    assert module.RAW["classes"] == classes
    outputs, got_names = module.predict_raw(module.train(weights=str(tmp_path /
                                                                     "net.weights.h5")), raw)
    np.testing.assert_allclose(outputs, want, atol=1e-5)
    assert got_names == names

    written = export(g, "keras", tmp_path / "net.keras", split=split, model=model)
    assert [p.name for p in written] == ["net.keras", "net.raw.keras",
                                         "net.preprocessing.json"]
    meta = json.loads(written[2].read_text())
    assert meta["classes"] == classes and meta["raw_model"] == "net.raw.keras"
    import keras
    loaded = keras.models.load_model(written[1], safe_mode=True)
    np.testing.assert_allclose(loaded.predict(raw, verbose=0), want, atol=1e-5)
    # the network itself still takes prepared samples
    plain = keras.models.load_model(written[0], safe_mode=True)
    np.testing.assert_allclose(plain.predict(split.x_test[:40], verbose=0), want, atol=1e-5)


FRESH_KERAS = """
import json, sys
import keras, numpy as np
model = keras.models.load_model(sys.argv[1], safe_mode=True)
meta = json.load(open(sys.argv[2]))
y = model.predict(np.load(sys.argv[3]), verbose=0)
print(json.dumps([meta["classes"][i] for i in np.argmax(y, axis=-1)]))
"""


@pytest.mark.long
@pytest.mark.parametrize("sample", ["mlp_digits", "cnn_digits"])
def test_raw_samples_in_fresh_processes_give_the_designers_class_names(sample, tmp_path):
    g, split, raw, model, want = designer(sample)
    classes = [str(c) for c in split.dataset.classes]
    names = [classes[i] for i in class_ids(want)]
    np.save(tmp_path / "raw.npy", raw)
    export(g, "py", tmp_path / "net.py", split=split, weights=get_weights(model))
    written = export(g, "keras", tmp_path / "net.keras", split=split, model=model)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, str(tmp_path / "net.py"), "--predict",
                           str(tmp_path / "raw.npy")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == names
    done = subprocess.run([sys.executable, "-c", FRESH_KERAS, str(written[1]), str(written[2]),
                           str(tmp_path / "raw.npy")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == names


@pytest.mark.long
def test_standardised_raw_samples_through_the_keras_file(tmp_path):
    g, split, raw, model, want = designer("rbf_moons")
    assert split.scaling["mode"] == "standard"
    written = export(g, "keras", tmp_path / "moons.keras", split=split, model=model)
    import keras
    sys.path.insert(0, str(tmp_path))        # netdesigner_layers.py (RBF) beside the file
    try:
        import netdesigner_layers  # noqa: F401
        loaded = keras.models.load_model(tmp_path / "moons.raw.keras", safe_mode=True)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("netdesigner_layers", None)
    assert any(p.name == "netdesigner_layers.py" for p in written)
    np.testing.assert_allclose(loaded.predict(raw.astype(np.float32), verbose=0), want,
                               atol=1e-5)


@pytest.mark.long
def test_raw_samples_through_the_onnx_export(tmp_path):
    from netdesigner.backends.export import onnx_available
    if not onnx_available():
        pytest.skip("tf2onnx is not installed (an optional dependency: pip install -e '.[onnx]')")
    import onnxruntime
    g, split, raw, model, want = designer("mlp_digits")
    written = export(g, "onnx", tmp_path / "net.onnx", split=split, model=model)
    assert [p.name for p in written] == ["net.onnx", "net.raw.onnx", "net.preprocessing.json"]
    session = onnxruntime.InferenceSession(str(written[1]))
    (got,) = session.run(None, {session.get_inputs()[0].name: raw.astype(np.float32)})
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("scaling", [
    {"mode": "minmax", "min": -3.0, "max": 13.0},
    {"mode": "standard", "mean": np.array([[1.0, -2.0, 0.5]] * 2, np.float32),
     "std": np.array([[2.0, 1.0, 0.25]] * 2, np.float32)},
    {}])
def test_the_raw_keras_model_and_the_scripts_prepare_raw_scale_as_the_designer(scaling,
                                                                                 monkeypatch):
    """Quick: the layers put in front of the network, and the script's copy of the scaling,
    compute what `backends.data.fit_scaling` fitted (raw (2, 3) samples, a (6,) Input)."""
    import keras

    from netdesigner.backends.export.serving import Preprocessing, raw_keras_model
    from netdesigner.backends.export.templates import supervised_runtime
    rng = np.random.default_rng(0)
    raw = rng.uniform(-3, 13, (5, 2, 3)).astype(np.float32)
    if scaling.get("mode") == "minmax":
        prepared = (raw - scaling["min"]) / (scaling["max"] - scaling["min"])
    elif scaling:
        prepared = (raw - scaling["mean"]) / scaling["std"]
    else:
        prepared = raw
    prepared = prepared.reshape(5, 6)
    x = keras.Input((6,))
    network = keras.Model(x, keras.layers.Dense(3, activation="softmax")(x))
    p = Preprocessing((2, 3), (6,), "float32", scaling, ["a", "b", "c"])
    got = np.asarray(raw_keras_model(network, p)(raw))
    np.testing.assert_allclose(got, np.asarray(network(prepared)), atol=1e-6)
    monkeypatch.setattr(supervised_runtime, "RAW", json.loads(json.dumps(p.describe())))
    np.testing.assert_allclose(supervised_runtime.prepare_raw(raw), prepared, atol=1e-6)
