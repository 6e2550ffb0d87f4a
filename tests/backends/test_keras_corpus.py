"""The Keras corpus (tests/backends/keras_corpus.py): each model round-trips
`.keras` -> `.graph` -> `.keras` with equal parameter counts and outputs within 1e-4 and passes
`check` (NumPy vs Keras, node by node, on the imported weights), or is refused with a first
line that names what is out of scope."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.backends.keras_corpus import CORPUS, CUSTOM  # noqa: E402

#: the slowest (2-3 s each) run under `make test-long`; the rest in `make test`
LONG = ("bilstm_classifier", "small_resnet", "timeseries_transformer_last",
        "timeseries_transformer", "next_frame_convlstm", "ct_scan_3d_cnn", "seq2seq_states")


def _cases():
    for name in CORPUS:
        marks = (pytest.mark.long,) if name in LONG else ()
        yield pytest.param(name, marks=marks, id=name)


def _batch(model, rng) -> list:
    xs = []
    for t in model.inputs:
        shape = (3,) + tuple(7 if d is None else d for d in t.shape[1:])
        if "int" in str(t.dtype):
            xs.append(rng.integers(0, 5, shape).astype(np.int32))
        else:
            xs.append(rng.uniform(0, 1, shape).astype(np.float32))
    return xs


def _outputs(model, xs) -> list:
    out = model(xs if len(xs) > 1 else xs[0], training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _save_as_received(model, path) -> None:
    """Save, then forget the author's classes: the file as someone else receives it."""
    from keras.src.saving import object_registration
    model.save(path)
    for key in CUSTOM:
        object_registration.GLOBAL_CUSTOM_OBJECTS.pop(key, None)


@pytest.fixture(autouse=True)
def _restore_custom_classes():
    from keras.src.saving import object_registration
    yield
    object_registration.GLOBAL_CUSTOM_OBJECTS.update(CUSTOM)


def import_corpus_model(name: str, tmp_path):
    """(imported graph, weights path, original model) or raises what import_file raises."""
    from netdesigner.backends.keras.importer import import_file
    build, _ = CORPUS[name]
    model = build()
    rng = np.random.default_rng(0)
    # off the initial values (zero biases, unit BatchNormalization statistics)
    model.set_weights([(w + rng.uniform(0.1, 0.3, w.shape) if w.ndim <= 1
                        else w * rng.uniform(0.8, 1.2, w.shape)).astype(w.dtype)
                       for w in model.get_weights()])
    path = tmp_path / f"{name}.keras"
    _save_as_received(model, path)
    graph, written = import_file(path, tmp_path / f"{name}.graph")
    return graph, (written[1] if len(written) > 1 else None), model


@pytest.mark.parametrize("name", list(_cases()))
def test_corpus_model(name, tmp_path):
    import keras

    from netdesigner.backends import parity
    from netdesigner.backends.export import export
    from netdesigner.graph import Analysis, fileformat

    _, refused = CORPUS[name]
    if refused is not None:
        with pytest.raises(ValueError) as info:
            import_corpus_model(name, tmp_path)
        first = str(info.value).splitlines()[0]
        assert refused in str(info.value), str(info.value)
        assert "could not be deserialized" not in str(info.value)
        assert len(first) < 400
        assert refused in first
        assert not (tmp_path / f"{name}.graph").exists()
        return

    graph, weights, model = import_corpus_model(name, tmp_path)
    design = fileformat.load(tmp_path / f"{name}.graph")
    analysis = Analysis(design, live=False)
    assert analysis.errors() == []
    assert analysis.total_params() == model.count_params()
    # .graph -> .keras, loaded by plain Keras
    out = export(design, "keras", tmp_path / f"{name}_again.keras", weights=str(weights))[0]
    again = keras.models.load_model(out, safe_mode=True)
    assert again.count_params() == model.count_params()
    xs = _batch(model, np.random.default_rng(1))
    for a, b in zip(_outputs(model, xs), _outputs(again, xs), strict=True):
        np.testing.assert_allclose(b, a, atol=1e-4, rtol=1e-4)
    # the NumPy backend agrees with Keras on the imported weights
    report = parity.check(design, weights=str(weights))
    assert report.ok, "\n" + report.table()


def test_the_corpus_holds_the_kinds_the_issue_names():
    assert len(CORPUS) >= 15
    assert {"conv_autoencoder", "unet", "dcgan_generator", "dcgan_discriminator", "vae_encoder",
            "vae_decoder", "seq2seq_states", "text_cnn", "bilstm_classifier", "timeseries_fcn",
            "timeseries_transformer", "anomaly_conv1d_autoencoder"} <= set(CORPUS)
