"""Training mode "gan", the part both backends share: data, schedule, events, evaluation.

`backends.runner` hands a design whose training setting `mode` is "gan" to `run_gan_job`:

* `graph.gan.split_gan` finds the generator and the discriminator (two separate networks in
  one design); the data set gives the real samples (labels ignored), split and scaled as for
  supervised training (`normalize`), shaped like the discriminator's Input;
* the backend's `fit_gan` (`backends.numpy.gan`, `backends.keras.gan`) trains them with
  alternating steps, through `run_loop` below, so both backends shuffle the same batches, draw
  the same noise and stream the same events:

      train_begin -> generated -> (batch* -> epoch -> generated)* -> train_end -> evaluation

  batch / epoch events carry the generator's loss as `loss` and the discriminator's loss and
  accuracy as the metrics `d_loss`, `d_accuracy` (so the usual loss plots work); `generated`
  holds the generator's samples for one fixed noise batch (and, the first time, real samples to
  compare with);
* the `evaluation` event scores the discriminator on the held-out real samples (test split) and
  as many generated ones: `d_accuracy` near 0.5 means it can no longer tell them apart. For
  small vectors (2-D points) the report adds how close the generated cloud is to the data
  (`quality_report`).

The noise is standard normal (float32), drawn per batch from a generator seeded by the
settings' seed.
"""
from __future__ import annotations

import time

import numpy as np

from . import protocol

SHOWN_POINTS = 300            # generated / real samples shown live for small vectors
SHOWN_IMAGES = 36             # ... for images
QUALITY_MAX_FEATURES = 8      # quality_report for samples of at most this many values
SAMPLES_SHOWN = 24            # generated samples in the evaluation event


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
        for b in range(schedule.steps_per_epoch):
            idx = order[b * size:(b + 1) * size]
            k = len(idx)
            values = step(x_train[idx], schedule.noise(k), schedule.noise(k))
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


# -- the job ------------------------------------------------------------------------------------

def prepare_gan_job(graph, base_dir) -> tuple:
    """(GanParts with the global l1/l2 applied, the split of real samples)."""
    from netdesigner.graph.gan import split_gan

    from . import data
    from .runner import with_global_penalties
    parts = split_gan(graph)
    settings = graph.training
    with_global_penalties(parts.generator, settings)
    with_global_penalties(parts.discriminator, settings)
    dataset = data.load(settings.get("dataset", ""), base_dir, settings.get("seed", 0))
    split = data.prepare(dataset, settings, parts.sample_shape, None, parts.sample_input)
    return parts, split


def backend_fit_gan(backend: str):
    if backend == "numpy":
        from .numpy.gan import fit_gan
    elif backend == "keras":
        from .keras.gan import fit_gan
    else:
        raise ValueError(f"unknown backend {backend!r}: choose numpy or keras")
    return fit_gan


def run_gan_job(job, graph, on_event, should_stop) -> tuple:
    """`backends.runner.execute` for mode "gan": (FitResult, evaluation event or None)."""
    parts, split = prepare_gan_job(graph, job.base_dir)
    settings = dict(graph.training)
    if job.evaluate_only:
        settings["epochs"] = 0
    options = {"device": settings.get("device", "auto"), **job.options}
    result = backend_fit_gan(job.backend)(
        parts, split, settings, on_event=on_event, should_stop=should_stop,
        weights_out=job.weights_out, weights_in=job.weights_in, **options)
    evaluation = None
    if result.reason == "completed":
        evaluation = evaluation_event(result.model, split, settings, parts.noise_shape)
        on_event(evaluation)
    return result, evaluation


# -- evaluation ---------------------------------------------------------------------------------

def evaluation_event(gan, split, settings: dict, noise_shape: tuple) -> dict:
    """The discriminator on the test split's real samples and as many generated ones."""
    real = np.asarray(split.x_test if len(split.x_test) else split.x_train, np.float32)
    n = len(real)
    rng = np.random.default_rng([int(settings.get("seed", 0)), 13])
    fake = np.asarray(gan.generate(rng.standard_normal((n, *noise_shape)).astype(np.float32)))
    p_real = np.asarray(gan.discriminate(real), np.float64)
    p_fake = np.asarray(gan.discriminate(fake), np.float64)
    right_real, right_fake = p_real > 0.5, p_fake <= 0.5
    eps = 1e-7
    d_loss = -(np.log(np.clip(p_real, eps, 1)).sum() + np.log(np.clip(1 - p_fake, eps, 1)).sum())
    report = {"d_accuracy": float((right_real.sum() + right_fake.sum()) / (2 * n)),
              "d_accuracy_real": float(right_real.mean()),
              "d_accuracy_fake": float(right_fake.mean()),
              "d_mean_p_real": float(p_real.mean()), "d_mean_p_fake": float(p_fake.mean())}
    sample_shape = tuple(real.shape[1:])
    if len(sample_shape) == 1 and sample_shape[0] <= QUALITY_MAX_FEATURES:
        train = np.asarray(split.x_train, np.float64)
        many = gan.generate(rng.standard_normal((len(train), *noise_shape)).astype(np.float32))
        report.update(quality_report(train, real, np.asarray(many, np.float64)))
    shown = min(SAMPLES_SHOWN, n)
    return {"event": "evaluation", "task": "gan", "samples": 2 * n,
            "loss": float(d_loss / (2 * n)), "metrics": {"d_accuracy": report["d_accuracy"]},
            "report": report,
            "examples": {"generated": fake[:shown].astype(float).tolist(),
                         "images": is_image(sample_shape)}}



def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from each row of a to its nearest row of b."""
    from scipy.spatial import cKDTree
    return cKDTree(b).query(a)[0]


def quality_report(train: np.ndarray, test: np.ndarray, fake: np.ndarray) -> dict:
    """How close generated points (as many as the training set) are to the data:

    * mean_offset: distance between the means, in units of the data's average std;
    * std_ratio: the generated points' average std over the data's (1: same spread);
    * fidelity: mean distance of a generated point to its nearest training point, over the same
      for a held-out real point (about 1: generated points lie on the data as real ones do;
      much more: they are off the data);
    * coverage: mean distance of a held-out real point to its nearest generated point, over its
      distance to its nearest training point (about 1: the generated points cover the data;
      much more: parts of the data are missed, e.g. mode collapse)."""
    std = float(train.std(axis=0).mean()) or 1.0
    to_train = _nearest(test, train).mean()
    return {"mean_offset": float(np.linalg.norm(fake.mean(0) - train.mean(0)) / std),
            "std_ratio": float(fake.std(axis=0).mean() / std),
            "fidelity": float(_nearest(fake, train).mean() / to_train),
            "coverage": float(_nearest(test, fake).mean() / to_train)}
