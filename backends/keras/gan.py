"""GAN training with the Keras backend: `fit_gan`, the NumPy backend's alternating steps.

Two `keras.Model`s (the generator and the discriminator of `graph.gan.split_gan`, each with its
own optimizer made from the same settings) and one `tf.function` step with two GradientTapes,
written once in `backends/export/templates/gan_runtime.py` (exported GAN scripts copy it):

1. the discriminator on the real samples (label 1) followed by as many generated ones (label 0),
   binary cross-entropy (from the logits when its output is linear; a sigmoid output gives Keras
   its logits too), plus its layers' penalties;
2. the generator: new noise -> generator -> discriminator towards label 1 (the non-saturating
   loss); only the generator's variables are updated.

Batches and noise come from `backends.gan_loop.run_loop`, exactly as for the NumPy backend
(`backends.numpy.gan`), so the two can be compared step by step. One difference: a
BatchNormalization layer inside the discriminator updates its moving statistics in the
generator's step here (Keras has no "training without updating" call), not in NumPy.
"""
from __future__ import annotations

import numpy as np

from netdesigner.backends import gan_loop, protocol
from netdesigner.backends.data import split_arrays
from netdesigner.backends.export.templates import gan_runtime

from . import devices as devices_module
from .compiler import compile_graph, make_optimizer
from ..weights_file import read_npz, write_npz
from .weights import get_weights as keras_weights, set_weights as set_keras_weights

BACKEND = "keras"


class KerasGan:
    """The two Keras models of a GAN and what the evaluation needs from them."""

    def __init__(self, generator, discriminator, logits: bool):
        self.generator, self.discriminator, self.logits = generator, discriminator, logits

    def generate(self, noise: np.ndarray) -> np.ndarray:
        return np.asarray(self.generator(np.asarray(noise, np.float32), training=False))

    def discriminate(self, x: np.ndarray) -> np.ndarray:
        """P(real) per sample."""
        out = np.asarray(self.discriminator(np.asarray(x, np.float32), training=False),
                         np.float64).reshape(len(x))
        return 1 / (1 + np.exp(-out)) if self.logits else out

    def get_weights(self) -> dict:
        return {**keras_weights(self.generator), **keras_weights(self.discriminator)}

    def set_weights(self, values: dict) -> None:
        for model in (self.generator, self.discriminator):
            names = {layer.name for layer in model.layers}
            set_keras_weights(model, {k: v for k, v in values.items()
                                      if k.split("/", 1)[0] in names})


def make_step(gan: KerasGan, settings: dict):
    """The alternating step: (real, noise_d, noise_g) -> (g_loss, d_loss, d_accuracy). It is
    the exported GAN script's step (`backends.export.templates.gan_runtime.make_step`), so the
    designer and the script train alike; each network gets its own optimizer."""
    return gan_runtime.make_step(gan.generator, gan.discriminator, make_optimizer(settings),
                                 make_optimizer(settings), gan.logits)


def build_gan(parts, settings: dict) -> KerasGan:
    """The two models, seeded as `backends.keras.compile_graph` seeds a model."""
    generator = compile_graph(parts.generator, settings, compile=False)
    discriminator = compile_graph(parts.discriminator, settings, compile=False)
    return KerasGan(generator, discriminator, parts.logits)


def fit_gan(parts, split, settings: dict, on_event=None, should_stop=None,
            stats_every: int = 0, initial_weights=None, *, weights_in=None, weights_out=None,
            device: str | None = "auto") -> protocol.FitResult:
    """Train a GAN (`graph.gan.GanParts`) on the real samples of `split` (labels ignored); the
    arguments are those of `backends.numpy.gan.fit_gan`, plus the device."""
    emit = on_event if on_event is not None else (lambda e: None)
    ctx = devices_module.setup(device, "none")
    with ctx.scope():
        gan = build_gan(parts, settings)
        if weights_in:
            gan.set_weights(read_npz(weights_in))
        if initial_weights is not None:
            gan.set_weights(initial_weights)
        step = make_step(gan, settings)
    x_train = gan_loop.real_samples(split_arrays(split)[0][0], np.float32)
    schedule = gan_loop.Schedule(settings, len(x_train), parts.noise_shape)

    def run_step(real, noise_d, noise_g):
        with ctx.scope():
            return [float(v) for v in step(real, noise_d, noise_g)]

    layers = [layer.name for m in (gan.generator, gan.discriminator) for layer in m.layers]
    result = gan_loop.run_loop(BACKEND, ctx.description, schedule, x_train, gan, emit,
                               should_stop, run_step, layers)
    weights = gan.get_weights()
    if weights_out and (result.reason != "nan" or all(np.isfinite(w).all()
                                                      for w in weights.values())):
        write_npz(weights, weights_out)
    emit(result.end)
    return result
