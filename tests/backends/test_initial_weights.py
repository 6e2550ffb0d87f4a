"""Both backends start from the same weights: one seeded draw (backends/initial_weights.py)."""
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends.initial_weights import initial_weights
from netdesigner.backends.jobs import prepare
from netdesigner.graph import fileformat

keras = pytest.importorskip("keras")

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.graph"))


def assert_same_start(numpy_model, keras_model):
    """Every weight equal, bit for bit, under the names both backends write to `.npz` files;
    no Keras layer holds a weight of its own (one that the shared draw missed would keep
    Keras's initialiser)."""
    from netdesigner.backends.keras.weights import get_weights
    ours, theirs = numpy_model.get_weights(), get_weights(keras_model)
    assert sorted(theirs) == sorted(ours)
    for key, value in ours.items():
        np.testing.assert_array_equal(theirs[key], value, err_msg=key)


@pytest.mark.parametrize("name", NAMES)
def test_both_backends_start_every_sample_from_the_same_weights(name):
    """What each backend's `fit` compiles: NumPy's Model and Keras's model (both networks of a
    GAN) hold the weights of `initial_weights` for the sample's seed."""
    from netdesigner.backends.keras.compiler import compile_graph as keras_compile
    from netdesigner.backends.numpy.model import compile_graph as numpy_compile
    graph = fileformat.load(SAMPLES / f"{name}.graph")
    settings = dict(graph.training)
    if settings.get("mode") == "gan":
        from netdesigner.backends.keras.gan import build_gan
        parts = prepare(graph, str(SAMPLES)).network
        networks = [parts.generator, parts.discriminator]
        gan = build_gan(parts, settings)
        keras_models = [gan.generator, gan.discriminator]
    else:
        flat = prepare(graph, str(SAMPLES)).network
        networks = [flat]
        keras_models = [keras_compile(flat, settings, compile=False)]
    for flat, keras_model in zip(networks, keras_models):
        numpy_model = numpy_compile(flat, settings)
        drawn = initial_weights(flat, settings["seed"])
        assert drawn, f"{name}: no weights drawn"
        start = numpy_model.get_weights()
        assert list(start) == list(drawn)
        for key, value in drawn.items():
            np.testing.assert_array_equal(start[key], value, err_msg=key)
        assert_same_start(numpy_model, keras_model)


def test_the_seed_changes_the_draw_and_only_the_seed():
    from netdesigner.graph.expand import expand_blocks
    flat = expand_blocks(fileformat.load(SAMPLES / "seq2seq_reverse.graph"))
    a, again, other = (initial_weights(flat, s) for s in (0, 0, 1))
    assert all(np.array_equal(a[k], again[k]) for k in a)
    assert not any(np.array_equal(a[k], other[k]) for k in a if "kernel" in k)
    # the initialisers Keras would use: zero biases but the LSTM's forget gate, at 1
    bias = a["lstm_1/bias"]
    assert np.all(bias[64:128] == 1) and np.all(np.delete(bias, np.s_[64:128]) == 0)
    limit = np.sqrt(6 / (16 + 256))                      # Glorot-uniform, fan in 16, fan out 256
    assert np.abs(a["lstm_1/kernel"]).max() <= limit
    u = a["lstm_1/recurrent_kernel"]                        # orthogonal rows
    np.testing.assert_allclose(u @ u.T, np.eye(64), atol=1e-5)


def test_keras_without_a_seed_keeps_its_own_initialisers():
    """seed=False leaves the weights to Keras's initialisers (the random state alone)."""
    from netdesigner.backends.keras.compiler import compile_graph as keras_compile
    from netdesigner.backends.numpy.model import compile_graph as numpy_compile
    graph = fileformat.load(SAMPLES / "mlp_digits.graph")
    keras.utils.set_random_seed(0)
    theirs = keras_compile(graph, seed=False, compile=False)
    ours = numpy_compile(graph)
    kernel = theirs.get_layer("dense_1").get_weights()[0]
    assert kernel.shape == ours.weights["dense_1"]["kernel"].shape
    assert not np.array_equal(kernel, ours.weights["dense_1"]["kernel"])
