"""Every sample opens, validates, and reaches its stated target (see samples/README.md)."""
from pathlib import Path

import pytest

from backends import protocol
from backends.runner import Job, run_job
from graph import fileformat, validate

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

# sample -> (report key, check, quick?)   quick ones run in `make test`, the rest in test-long
TARGETS = {
    "perceptron_and": ("accuracy", lambda v: v == 1.0, True),
    "perceptron_or": ("accuracy", lambda v: v == 1.0, True),
    "perceptron_xor": ("accuracy", lambda v: v <= 0.75, True),
    "xor_mlp": ("accuracy", lambda v: v == 1.0, True),
    "mlp_digits": ("accuracy", lambda v: v >= 0.95, True),
    "deep_sigmoid_mlp": ("accuracy", lambda v: v < 0.30, True),
    "deep_relu_mlp": ("accuracy", lambda v: v >= 0.85, True),
    "cnn_digits": ("accuracy", lambda v: v >= 0.97, False),
    "vgg_digits": ("accuracy", lambda v: v >= 0.97, False),
    "inception_digits": ("accuracy", lambda v: v >= 0.85, False),
    "resnet_digits": ("accuracy", lambda v: v >= 0.97, False),
    "embedding_lstm_sentiment": ("accuracy", lambda v: v >= 0.95, False),
    "bilstm_sentiment": ("accuracy", lambda v: v >= 0.95, False),
    "transformer_sentiment": ("accuracy", lambda v: v >= 0.95, False),
    "sine_forecast": ("mse", lambda v: v <= 0.02, False),
}


def test_every_sample_has_a_target_and_a_description():
    names = {p.stem for p in SAMPLES.glob("*.graph")}
    assert names == set(TARGETS)
    readme = (SAMPLES / "README.md").read_text()
    for name in names:
        g = fileformat.load(SAMPLES / f"{name}.graph")
        assert g.metadata.get("title") and g.metadata.get("description"), name
        assert f"`{name}.graph`" in readme, f"{name} is not documented in samples/README.md"
        assert validate(g).problems() == [], name


def _params():
    for name, (key, check, quick) in TARGETS.items():
        marks = [] if quick else [pytest.mark.long]
        yield pytest.param(name, key, check, marks=marks, id=name)


@pytest.mark.parametrize("name, key, check", list(_params()))
def test_sample_reaches_its_target_on_numpy(name, key, check):
    g = fileformat.load(SAMPLES / f"{name}.graph")
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(g), str(SAMPLES), "numpy", stats_every=0), rec, lambda: False)
    assert not rec.of("error"), rec.of("error")
    (evaluation,) = rec.of("evaluation")
    value = evaluation["report"][key]
    assert check(value), f"{name}: test {key} = {value:.4f}"
