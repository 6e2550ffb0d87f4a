"""Streamed data sets (backends/datasources.py) in the other training modes: augmentation,
autoencoder and VAE (the target is the input), GAN (the real samples): the same weights as
the same data in memory, on the NumPy backend exactly."""
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends import data, jobs, tfrecord
from netdesigner.backends.data import Rows
from netdesigner.graph import Graph, fileformat
from tests.backends.streaming_data import image_folder, mlp

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def flat_weights(prepared, backend="numpy"):
    run = jobs.train(prepared, backend, lambda e: None, stats_every=0)
    model = run.result.model
    weights = model.get_weights() if hasattr(model, "get_weights") else {"flat": model.flat}
    if isinstance(weights, dict):
        return run, [np.array(weights[k]) for k in sorted(weights)]
    return run, [np.array(w) for w in weights]


def both(graph_for, root, backend="numpy"):
    """(in memory, streamed) runs and weights of the design `graph_for(streaming)`."""
    out = []
    for streaming in ("off", "on"):
        prepared = jobs.prepare(graph_for(streaming), root)
        assert isinstance(prepared.split.x_train, Rows) == (streaming == "on")
        out.append((prepared, *flat_weights(prepared, backend)))
    return out


def assert_same(memory, streamed):
    for a, b in zip(memory[2], streamed[2]):
        np.testing.assert_array_equal(a, b)
    assert memory[1].result.history == streamed[1].result.history


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("modes")
    image_folder(root / "shapes", 60, classes=3, size=8)
    tfrecord.write(root / "moons.tfrecord", *two_arcs())
    return root


def two_arcs(n=200, seed=0):
    """Two noisy half circles in 2-D (like the built-in moons, without importing sklearn)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = rng.uniform(0, np.pi, n)
    x = np.stack([np.cos(t) + y, np.sin(t) * (1 - 2 * y) + 0.5 * y], 1)
    return (x + rng.normal(0, 0.1, x.shape)).astype(np.float32), y


def test_augmentation_on_a_streamed_image_folder_gives_the_same_weights(root):
    settings = {"dataset": "shapes", "epochs": 1, "batch_size": 16, "normalize": "minmax",
                "seed": 2, "augment_copies": 2, "augment_flip": True, "augment_shift": 1,
                "augment_rotate": 20.0}
    memory, streamed = both(lambda s: mlp((8, 8, 1), 3, {**settings, "streaming": s}, 8), root)
    assert len(streamed[0].split.x_train) == len(memory[0].split.x_train) == 3 * 42
    np.testing.assert_array_equal(np.asarray(streamed[0].split.x_train),
                                  memory[0].split.x_train)
    np.testing.assert_array_equal(np.asarray(streamed[0].split.y_train),
                                  memory[0].split.y_train)
    assert_same(memory, streamed)


def autoencoder(settings: dict) -> Graph:
    g = Graph()
    last = g.add_node("Input", {"shape": [8, 8, 1]})
    for kind, params in (("Flatten", {}), ("Dense", {"units": 6, "activation": "relu"}),
                         ("Dense", {"units": 64, "activation": "sigmoid"})):
        node = g.add_node(kind, params)
        g.connect(last, 0, node, 0)
        last = node
    g.training.update({"mode": "autoencoder", "loss": "mse", "epochs": 1, "batch_size": 16,
                       "normalize": "minmax", "seed": 4, **settings})
    return g


def test_an_autoencoder_trains_on_a_streamed_folder_as_in_memory(root):
    memory, streamed = both(lambda s: autoencoder({"dataset": "shapes", "streaming": s,
                                                   "augment_copies": 1,
                                                   "augment_flip": True}), root)
    np.testing.assert_array_equal(np.asarray(streamed[0].split.y_val), memory[0].split.y_val)
    assert_same(memory, streamed)


def test_a_denoising_autoencoder_gets_the_same_noise_streamed(root):
    """input_noise on a streamed folder: each row's noise is its own (data.noisy), so batches
    read from disk in the epoch's order are noisy exactly as in memory; the targets are clean."""
    memory, streamed = both(lambda s: autoencoder({"dataset": "shapes", "streaming": s,
                                                   "input_noise": 0.3, "augment_copies": 1,
                                                   "augment_flip": True}), root)
    m, s = memory[0].split, streamed[0].split
    for part in ("x_train", "x_val", "x_test", "y_train", "y_test"):
        np.testing.assert_array_equal(np.asarray(getattr(s, part)), getattr(m, part))
    rows = np.array([40, 3, 77, 3])                  # any order, a row twice: the same noise
    np.testing.assert_array_equal(s.x_train[rows], m.x_train[rows])
    clean = m.y_train.reshape(m.x_train.shape)
    assert 0.25 < float(np.std(m.x_train - clean)) < 0.35     # noise of std 0.3 on the inputs
    assert not np.array_equal(m.x_val - m.y_val.reshape(m.x_val.shape),
                              (m.x_test - m.y_test.reshape(m.x_test.shape))[:len(m.x_val)])
    assert_same(memory, streamed)


def gan(streaming: str) -> Graph:
    from tests.backends.test_gan_mode import tiny_gan
    return tiny_gan(dataset="moons.tfrecord", streaming=streaming, epochs=2, batch_size=32,
                    seed=6)


def test_a_gan_learns_from_streamed_real_samples_as_from_memory(root):
    memory, streamed = both(gan, root)
    assert_same(memory, streamed)


@pytest.mark.long
def test_a_vae_and_a_gan_on_keras_train_the_same_from_streamed_data(tmp_path):
    digits = data.load("digits")
    tfrecord.write(tmp_path / "digits.tfrecord", digits.x[:400], digits.y[:400])
    vae = fileformat.load(SAMPLES / "vae_digits.graph")

    def vae_for(streaming):
        g = fileformat.loads(fileformat.dumps(vae))
        g.training.update({"dataset": "digits.tfrecord", "streaming": streaming, "epochs": 1})
        return g
    memory, streamed = both(vae_for, tmp_path)
    assert_same(memory, streamed)
    tfrecord.write(tmp_path / "moons.tfrecord", *two_arcs())
    memory, streamed = both(gan, tmp_path, "keras")
    for a, b in zip(memory[2], streamed[2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
