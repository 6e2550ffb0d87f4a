"""GAN training with the NumPy backend: `fit_gan`, alternating steps per batch.

    result = fit_gan(split_gan(graph), split, graph.training, on_event=print)
    result.model.generate(noise)           # made-up samples
    result.model.discriminate(x)           # the discriminator's probability that x is real

Per batch of real samples (shuffled as the supervised loop shuffles, seeded):

1. the discriminator: one step of its own `Trainer` (binary cross-entropy, the settings'
   optimizer) on the real samples (label 1) followed by as many generated ones (label 0);
2. the generator: new noise -> generator -> discriminator (frozen: its forward pass changes no
   statistic and no weight of it is updated) towards label 1 (the non-saturating loss,
   -log D(G(z))); the gradient runs back through the discriminator to its input
   (`Model.backward` returns it) and on into the generator, whose optimizer (a second instance,
   same settings) takes the step.

The noise is standard normal, drawn from a generator seeded by the settings' seed, so the Keras
backend (`backends.keras.gan`) draws the very same noise. Events: see `backends.gan_loop`.
"""
from __future__ import annotations

import numpy as np

from netdesigner.backends import gan_loop, protocol
from netdesigner.backends.data import split_arrays

from . import optimizers as optimizers_module
from .model import compile_graph
from .train import DEVICE, Trainer, blas_threads, check_device
from ..weights_file import read_npz, write_npz

BACKEND = "numpy"


class NumpyGan:
    """The two compiled networks of a GAN and what the evaluation needs from them."""

    def __init__(self, generator, discriminator, logits: bool):
        self.generator, self.discriminator, self.logits = generator, discriminator, logits

    def generate(self, noise: np.ndarray) -> np.ndarray:
        return self.generator.predict(noise)[0]

    def discriminate(self, x: np.ndarray) -> np.ndarray:
        """P(real) per sample."""
        out = self.discriminator.predict(x)[0].reshape(len(x))
        return 1 / (1 + np.exp(-out.astype(np.float64))) if self.logits else out

    def get_weights(self) -> dict:
        return {**self.generator.get_weights(), **self.discriminator.get_weights()}

    def set_weights(self, values: dict) -> None:
        for model in (self.generator, self.discriminator):
            mine = {k: v for k, v in values.items() if k.split("/", 1)[0] in model.weights}
            model.set_weights(mine)


def discriminator_settings(settings: dict, logits: bool) -> dict:
    """The training settings of the discriminator: binary cross-entropy and its accuracy."""
    return {**settings, "loss": "binary_crossentropy", "loss_params": {},
            "from_logits": logits, "metrics": ["accuracy"]}


class GanSteps:
    """One alternating step at a time (also what the parity test drives)."""

    def __init__(self, gan: NumpyGan, settings: dict):
        self.gan = gan
        g, d = gan.generator, gan.discriminator
        self.d_trainer = Trainer(d, discriminator_settings(settings, gan.logits))
        self.g_optimizer = optimizers_module.from_settings(settings, g.dtype)
        self.clip_norm = float(settings.get("clip_norm", 0.0) or 0.0)
        self._g_grads = [g.grads[n][k] for n in g.grads for k in g.grads[n]]

    def step(self, real: np.ndarray, noise_d: np.ndarray, noise_g: np.ndarray) -> tuple:
        """(generator loss, discriminator loss, discriminator accuracy); no update follows a
        loss that is not finite."""
        g, d = self.gan.generator, self.gan.discriminator
        fake = g.forward([noise_d], training=True, input_grads=False)[0]
        x = np.concatenate([real, fake.astype(real.dtype, copy=False)])
        labels = np.concatenate([np.ones((len(real), 1), d.dtype),
                                 np.zeros((len(fake), 1), d.dtype)])
        d_loss, d_metrics, _ = self.d_trainer.train_batch([x], [labels])
        if protocol.is_bad_loss(d_loss):
            return float("nan"), d_loss, d_metrics.get("accuracy", float("nan"))
        fake = g.forward([noise_g], training=True, input_grads=False)[0]
        outs = d.forward([fake], training=True, update_state=False, input_grads=True)
        g_loss, douts, _ = self.d_trainer._losses(outs, [np.ones((len(fake), 1), d.dtype)])
        if protocol.is_bad_loss(g_loss):
            return g_loss, d_loss, d_metrics["accuracy"]
        (dx,) = d.backward(douts, self.d_trainer.fused)     # d's grads: unused, never applied
        g.backward([dx])
        if g.regularized:
            g_loss += g.penalty()
            g.add_penalty_grads()
        if self.clip_norm > 0:
            for grad in self._g_grads:
                optimizers_module.clip_by_norm(grad, self.clip_norm)
        self.g_optimizer.step(g.flat, g.flat_grad)
        return g_loss, d_loss, d_metrics["accuracy"]


def fit_gan(parts, split, settings: dict, on_event=None, should_stop=None,
            stats_every: int = 0, initial_weights=None, *, weights_in=None, weights_out=None,
            dtype=np.float32, threads: int | None = None,
            device: str = "auto") -> protocol.FitResult:
    """Train a GAN (`graph.gan.GanParts`) on the real samples of `split` (labels ignored).
    `initial_weights` ({"node/name": array}) or `weights_in` (.npz) start from given weights
    of both networks; `weights_out` saves both in one .npz. `device`: auto or cpu."""
    check_device(device)
    emit = on_event if on_event is not None else (lambda e: None)
    gan = NumpyGan(compile_graph(parts.generator, settings, dtype=dtype),
                   compile_graph(parts.discriminator, settings, dtype=dtype), parts.logits)
    if weights_in:
        gan.set_weights(read_npz(weights_in))
    if initial_weights is not None:
        gan.set_weights(initial_weights)
    steps = GanSteps(gan, settings)
    x_train = gan_loop.real_samples(split_arrays(split)[0][0], dtype)
    schedule = gan_loop.Schedule(settings, len(x_train), parts.noise_shape)
    with np.errstate(all="ignore"), blas_threads(threads):
        result = gan_loop.run_loop(
            BACKEND, DEVICE, schedule, x_train, gan, emit, should_stop,
            lambda real, zd, zg: steps.step(real, zd.astype(dtype), zg.astype(dtype)),
            [s.id for m in (gan.generator, gan.discriminator) for s in m.steps])
    if weights_out and (result.reason != "nan" or all(
            np.isfinite(w).all() for w in gan.get_weights().values())):
        write_npz(gan.get_weights(), weights_out)
    emit(result.end)
    return result

