"""Autoencoder and VAE training modes: targets, input noise, sparse codes, the KL term."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from netdesigner.backends import data, protocol  # noqa: E402
from netdesigner.backends.jobs import Job, prepare, run_job
from netdesigner.backends.modes.base import training_module  # noqa: E402
from netdesigner.graph import fileformat  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _sample(name: str):
    return fileformat.load(SAMPLES / f"{name}.graph")


def test_the_target_of_every_sample_is_the_sample_itself():
    prepared = prepare(_sample("autoencoder_digits"), str(SAMPLES))
    flat, split = prepared.network, prepared.split
    assert split.dataset.task == data.RECONSTRUCTION
    for x, y in ((split.x_train, split.y_train), (split.x_val, split.y_val),
                 (split.x_test, split.y_test)):
        assert x.shape[1:] == (64,) and y.shape == x.shape
        np.testing.assert_array_equal(x, y)
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0     # minmax scaling


def test_input_noise_corrupts_the_inputs_only_and_is_seeded():
    g = _sample("denoising_autoencoder")
    split = prepare(g, str(SAMPLES)).split
    clean = prepare(_sample("autoencoder_digits"), str(SAMPLES)).split
    np.testing.assert_array_equal(split.y_test, clean.y_test)          # clean targets
    noise = split.x_test - split.y_test
    assert abs(noise.std() - g.training["input_noise"]) < 0.01
    assert abs(noise.mean()) < 0.01
    again = prepare(g, str(SAMPLES)).split
    np.testing.assert_array_equal(again.x_train, split.x_train)


def test_an_output_of_the_wrong_size_is_named():
    g = _sample("autoencoder_digits")
    last = g.outputs()[0]
    g.set_param(last, "units", 10)
    with pytest.raises(data.DataError, match=rf"{last} gives \(10,\).*64 units"):
        prepare(g, str(SAMPLES))


def test_the_vae_mode_needs_a_sampling_layer_and_a_reconstruction_loss():
    g = _sample("autoencoder_digits")
    g.set_training("mode", "vae")
    with pytest.raises(ValueError, match="needs a Sampling layer"):
        prepare(g, str(SAMPLES))
    g.set_training("mode", "autoencoder")
    g.set_training("loss", "categorical_crossentropy")
    with pytest.raises(ValueError, match="choose the loss mse"):
        prepare(g, str(SAMPLES))


def _trained_code_activity(name: str) -> float:
    """Mean fraction of the 32 code units that are active (> 0.01) on the test images."""
    g = _sample(name)
    prepared = prepare(g, str(SAMPLES))
    flat, split = prepared.network, prepared.split
    result = training_module("numpy").fit(flat, split, g.training, stats_every=0)
    model = result.model
    model.forward(split.x_test, training=False)
    code = next(s.id for s in model.steps if s.type == "Dense"
                and s.output_shapes[0] == (32,))
    return float((model.activations[code][0] > 0.01).mean())


def test_the_l1_activity_penalty_makes_the_code_sparse():
    plain = _trained_code_activity("autoencoder_digits")
    sparse = _trained_code_activity("sparse_autoencoder")
    # measured: about half of the plain code's units fire per image, far fewer with the penalty
    assert sparse < 0.6 * plain, (sparse, plain)


def test_the_evaluation_shows_inputs_and_reconstructions_as_images():
    rec = protocol.Recorder()
    g = _sample("denoising_autoencoder")
    g.set_training("epochs", 2)
    run_job(Job(fileformat.dumps(g), str(SAMPLES), "numpy", stats_every=0), rec,
            lambda: False)
    (event,) = rec.of("evaluation")
    assert event["task"] == "reconstruction"
    examples = event["examples"]
    assert examples["images"] is True
    inputs, targets, outputs = (np.asarray(examples[k]) for k in
                                ("inputs", "targets", "outputs"))
    assert inputs.shape == targets.shape == outputs.shape == (12, 8, 8, 1)
    assert not np.allclose(inputs, targets)                 # the noisy inputs are shown
    assert event["report"]["mse"] == pytest.approx(event["loss"], rel=1e-4)


def test_vae_loss_and_gradients_with_the_kl_term_match_keras():
    """Same weights, same batch, inference mode (the code is the mean): the NumPy loss
    (reconstruction + KL) and every weight's gradient equal Keras's with model.losses."""
    import tensorflow as tf

    from netdesigner.backends.keras.compiler import build_model
    from netdesigner.backends.numpy.model import compile_graph
    from netdesigner.backends.numpy.train import Trainer
    from netdesigner.backends.numpy.weights import to_keras

    g = _sample("vae_digits")
    prepared = prepare(g, str(SAMPLES))
    flat, split = prepared.network, prepared.split
    model = compile_graph(flat, g.training, seed=3)
    x, y = split.x_train[:16], split.y_train[:16]
    trainer = Trainer(model, g.training)
    outs = model.forward([x], training=False)
    loss, douts, _ = trainer._losses(outs, [y])
    kl = model.added_loss()
    assert kl > 0
    model.backward(douts, trainer.fused)

    k_model = build_model(flat)
    to_keras(model, k_model)
    with tf.GradientTape() as tape:
        pred = k_model(x, training=False)
        k_recon = tf.reduce_mean(tf.square(pred - y))
        k_kl = tf.add_n(k_model.losses)
        total = k_recon + k_kl
    assert float(k_kl) == pytest.approx(kl, rel=1e-5)
    assert float(total) == pytest.approx(loss + kl, rel=1e-5)
    nodes = list(model.grads)
    variables = [v for n in nodes for v in k_model.get_layer(n).trainable_weights]
    k_grads = iter(tape.gradient(total, variables))
    for node in nodes:
        for name, mine in model.grads[node].items():
            theirs = next(k_grads)
            np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=f"{node}/{name}")


@pytest.mark.long
@pytest.mark.parametrize("name, bound", [("vae_digits", 0.045), ("sparse_autoencoder", 0.02),
                                         ("denoising_autoencoder", 0.032)])
def test_the_keras_backend_trains_the_reconstruction_samples(name, bound):
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(_sample(name)), str(SAMPLES), "keras", stats_every=0), rec,
            lambda: False)
    assert not rec.of("error"), rec.of("error")
    (event,) = rec.of("evaluation")
    assert event["report"]["mse"] <= bound


def test_new_codes_decode_to_new_digits():
    """After training, the VAE's decoder turns a grid of 2-D codes into images (the
    `generated` event): each about as close to some training digit as real test digits are,
    and together of many digit classes (a trained MLP names them)."""
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(_sample("vae_digits")), str(SAMPLES), "numpy", stats_every=0),
            rec, lambda: False)
    (event,) = rec.of("generated")
    images = np.asarray(event["samples"], dtype=np.float32)
    assert images.shape == (36, 8, 8, 1)
    split = prepare(_sample("vae_digits"), str(SAMPLES)).split
    train = split.y_train.reshape(len(split.y_train), 64)
    flat_images = images.reshape(36, 64)

    def nearest(a):
        return float(((a[:, None, :] - train[None]) ** 2).mean(-1).min(1).mean())
    # measured: decoded 0.018, real test digits 0.018, the average image 0.036, noise 0.2
    assert nearest(flat_images) < 0.03
    assert nearest(flat_images) < nearest(train.mean(0, keepdims=True))
    g = _sample("mlp_digits")
    prepared = prepare(g, str(SAMPLES))
    flat, digits = prepared.network, prepared.split
    classifier = training_module("numpy").fit(flat, digits, g.training, stats_every=0).model
    named = classifier.predict(flat_images)[0].argmax(1)
    assert len(set(named.tolist())) >= 6, named              # measured: 8 of 10 classes
