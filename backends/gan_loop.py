"""The GAN training loop both backends share: schedule, noise, events.

The backend's `fit_gan` (`backends.numpy.gan`, `backends.keras.gan`) trains the generator and
the discriminator with alternating steps through `run_loop` below, so both backends shuffle the
same batches, draw the same noise and stream the same events (the mode itself - data, evaluation
- is `backends.modes.gan`):

    train_begin -> generated -> (batch* -> epoch -> generated)* -> train_end

Batch / epoch events carry the generator's loss as `loss` and the discriminator's loss and
accuracy as the metrics `d_loss`, `d_accuracy` (so the usual loss plots work); `generated` holds
the generator's samples for one fixed noise batch (and, the first time, real samples to compare
with). The noise is standard normal (float32), drawn per batch from a generator seeded by the
settings' seed.
"""
from __future__ import annotations

import time

import numpy as np

from . import data, protocol

SHOWN_POINTS = 300            # generated / real samples shown live for small vectors
SHOWN_IMAGES = 36             # ... for images


class Schedule:
    """Batches, shuffling and noise of a GAN run (identical for both backends)."""

    def __init__(self, settings: dict, n: int, noise_shape: tuple):
        if n == 0:
            raise ValueError("there is no training data")
        seed = int(settings.get("seed", 0))
        self.n = n
        self.noise_shape = tuple(noise_shape)
        self.epochs = int(settings.get("epochs", 10))
        self.batch_size = max(1, min(int(settings.get("batch_size", 32)), n))
        self.steps_per_epoch = -(-n // self.batch_size)
        self.shuffle = np.random.default_rng([seed, 2])        # as the supervised loops
        self.noise_rng = np.random.default_rng([seed, 11])
        self.fixed_rng = np.random.default_rng([seed, 12])

    def noise(self, k: int, rng=None) -> np.ndarray:
        rng = self.noise_rng if rng is None else rng
        return rng.standard_normal((k, *self.noise_shape)).astype(np.float32)


def is_image(shape: tuple) -> bool:
    return len(shape) == 3 and shape[-1] in (1, 3) and min(shape[:2]) >= 4


def shown_count(sample_shape: tuple) -> int:
    return SHOWN_IMAGES if len(sample_shape) > 1 else SHOWN_POINTS


def real_samples(x_train, dtype):
    """The training split's real samples in `dtype`: an array, or for a data set streamed from
    disk (`data.Rows`) rows converted batch by batch as they are read."""
    if data.streamed(x_train):
        return x_train.take(None, lambda v: np.asarray(v, dtype), dtype=dtype)
    return np.asarray(x_train, dtype)


def run_loop(backend: str, device: str, schedule: Schedule, x_train: np.ndarray, gan, emit,
             should_stop, step, layers: list) -> protocol.FitResult:
    """The epochs of a GAN run. `step(real, noise_d, noise_g)` makes one alternating update and
    returns (generator loss, discriminator loss, discriminator accuracy); `gan.generate(noise)`
    gives samples. Returns the FitResult (its `end` not emitted yet)."""
    started = time.perf_counter()
    sample_shape = tuple(x_train.shape[1:])
    fixed = schedule.noise(shown_count(sample_shape), schedule.fixed_rng)
    emit(protocol.train_begin(backend, device, schedule.epochs, schedule.steps_per_epoch,
                              schedule.n, layers))
    emit(protocol.generated(0, -1, gan.generate(fixed),
                            real=x_train[:shown_count(sample_shape)]))
    history = {"loss": [], "d_loss": [], "d_accuracy": []}
    reason, epochs_run, count, size = "completed", 0, 0, schedule.batch_size
    for epoch in range(schedule.epochs):
        t0 = time.perf_counter()
        order = schedule.shuffle.permutation(schedule.n)
        sums, seen = np.zeros(3), 0
        batches = [order[b * size:(b + 1) * size] for b in range(schedule.steps_per_epoch)]
        # streamed real samples: a thread reads the next batches from disk during each step
        feed = (data.prefetched(lambda idx: x_train[idx], batches) if data.streamed(x_train)
                else (x_train[idx] for idx in batches))
        for b, real in enumerate(feed):
            k = len(real)
            values = step(real, schedule.noise(k), schedule.noise(k))
            count += 1
            g_loss, d_loss, d_acc = (float(v) for v in values)
            emit(protocol.batch(epoch, b, count, g_loss, {"d_loss": d_loss,
                                                          "d_accuracy": d_acc}))
            if protocol.is_bad_loss(g_loss) or protocol.is_bad_loss(d_loss):
                reason = "nan"
                break
            sums += np.array([g_loss, d_loss, d_acc]) * k
            seen += k
            if should_stop is not None and should_stop():
                reason = "stopped"
                break
        feed.close()                     # the reader thread stops where the epoch did
        if reason != "completed":
            break
        epochs_run = epoch + 1
        g_loss, d_loss, d_acc = sums / seen
        emit(protocol.epoch(epoch, g_loss, {"d_loss": d_loss, "d_accuracy": d_acc}, None, {},
                            time.perf_counter() - t0))
        for key, value in zip(history, (g_loss, d_loss, d_acc)):
            history[key].append(float(value))
        emit(protocol.generated(count, epoch, gan.generate(fixed)))
    end = protocol.train_end(reason, epochs_run, None, None, history)
    message = protocol.NAN_ADVICE if reason == "nan" else ""
    if message:
        end["message"] = message
    return protocol.FitResult(gan, history, reason, epochs_run, None, None, end, message,
                              time.perf_counter() - started, count, device)
