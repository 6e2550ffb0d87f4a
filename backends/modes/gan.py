"""Mode "gan": a generator and a discriminator, two separate networks in one design, trained
against each other with alternating steps (`backends.gan_loop`, the same on both backends).

* `graph.gan.split_gan` finds the two networks; the data set gives the real samples (labels
  ignored), split and scaled as for supervised training (`normalize`), shaped like the
  discriminator's Input;
* the `evaluation` event scores the discriminator on the held-out real samples (test split) and
  as many generated ones: `d_accuracy` near 0.5 means it can no longer tell them apart. For
  small vectors (2-D points) the report adds how close the generated cloud is to the data
  (`quality_report`).
"""
from __future__ import annotations

import numpy as np

from netdesigner.graph.gan import split_gan

from .. import data, datasources, protocol
from ..gan_loop import is_image
from .base import Mode, Prepared, check_backend, refuse_problems, with_global_penalties

QUALITY_MAX_FEATURES = 8      # quality_report for samples of at most this many values
SAMPLES_SHOWN = 24            # generated samples in the evaluation event


def gan_module(backend: str):
    """The backend's GAN module (`fit_gan`), imported only when needed."""
    check_backend(backend)
    if backend == "numpy":
        from ..numpy import gan
    else:
        from ..keras import gan
    return gan


class Gan(Mode):
    name = "gan"
    serves_raw_samples = False          # the generator's input is noise
    no_layer_stats = ("The GAN training loop updates its two networks in turn and does not "
                      "stream per-layer statistics, so gradients, activations and weights are "
                      "not shown for a GAN run; the Loss, Metrics and Generated tabs show how it "
                      "trains.")

    def prepare(self, graph, base_dir) -> Prepared:
        refuse_problems(graph)
        parts = split_gan(graph)
        settings = dict(graph.training)
        with_global_penalties(parts.generator, settings)
        with_global_penalties(parts.discriminator, settings)
        dataset = datasources.load(settings.get("dataset", ""), base_dir,
                                   settings.get("seed", 0), settings.get("streaming", "auto"))
        split = data.prepare(dataset, settings, parts.sample_shape, None, parts.sample_input)
        return Prepared(self, parts, split, settings)

    def fit(self, backend: str, prepared: Prepared, settings: dict, **run) -> protocol.FitResult:
        # both networks train on one device: no tf.distribute strategy, no mixed precision
        strategy, mixed = run.pop("strategy", "none"), run.pop("mixed_precision", False)
        offered = {"on_event", "should_stop", "stats_every", "weights_in", "weights_out",
                   "device", "threads", "dtype"}
        refused = sorted(set(run) - offered) + (["strategy"] if strategy not in (None, "none")
                                                else []) + (["mixed_precision"] if mixed else [])
        if refused:
            raise ValueError(f"the gan mode trains its two networks on one device: "
                             f"{', '.join(refused)} is not offered for it")
        return gan_module(backend).fit_gan(prepared.network, prepared.split, settings, **run)

    def evaluate(self, backend: str, result, prepared: Prepared, settings: dict) -> dict:
        return evaluation_event(result.model, prepared.split, settings,
                                prepared.network.noise_shape)

    def scores(self, backend: str, result, prepared: Prepared, settings: dict,
               evaluation: dict | None = None) -> dict:
        """The discriminator's loss and accuracy against each split's real samples (the test
        row from the `evaluation` event when given)."""
        split = prepared.split
        rows = {}
        for name, real in (("train", split.x_train), ("val", split.x_val),
                           ("test", split.x_test)):
            if name == "test" and evaluation is not None and len(real):
                rows[name] = self.test_row(evaluation)
            elif real is not None and len(real):
                loss, report, _ = discriminator_scores(
                    result.model, real, prepared.network.noise_shape, evaluation_noise(settings))
                rows[name] = {"d_loss": loss, "d_accuracy": report["d_accuracy"]}
        return rows

    def test_row(self, evaluation: dict) -> dict:
        return {"d_loss": evaluation["loss"], "d_accuracy": evaluation["report"]["d_accuracy"]}


MODE = Gan()


def evaluation_noise(settings: dict) -> np.random.Generator:
    return np.random.default_rng([int(settings.get("seed", 0)), 13])


def discriminator_scores(gan, real, noise_shape: tuple, rng: np.random.Generator) -> tuple:
    """The discriminator on real samples and as many generated ones (noise drawn from `rng`):
    (its loss, a report with d_accuracy and its parts, the generated samples)."""
    n = len(real)
    noise = rng.standard_normal((n, *noise_shape)).astype(np.float32)
    if data.streamed(real):
        # streamed from disk: read, generate and score a batch at a time (the generated
        # samples kept are the first batch's, enough for the evaluation event's examples)
        size = data.read_batch([real], 1024)
        p_real, p_fake, fake = [], [], None
        for k in range(0, n, size):
            batch_fake = np.asarray(gan.generate(noise[k:k + size]))
            fake = batch_fake if fake is None else fake
            p_real.append(np.asarray(gan.discriminate(np.asarray(real[k:k + size], np.float32)),
                                     np.float64))
            p_fake.append(np.asarray(gan.discriminate(batch_fake), np.float64))
        p_real, p_fake = np.concatenate(p_real), np.concatenate(p_fake)
    else:
        real = np.asarray(real, np.float32)
        fake = np.asarray(gan.generate(noise))
        p_real = np.asarray(gan.discriminate(real), np.float64)
        p_fake = np.asarray(gan.discriminate(fake), np.float64)
    right_real, right_fake = p_real > 0.5, p_fake <= 0.5
    eps = 1e-7
    d_loss = -(np.log(np.clip(p_real, eps, 1)).sum() + np.log(np.clip(1 - p_fake, eps, 1)).sum())
    report = {"d_accuracy": float((right_real.sum() + right_fake.sum()) / (2 * n)),
              "d_accuracy_real": float(right_real.mean()),
              "d_accuracy_fake": float(right_fake.mean()),
              "d_mean_p_real": float(p_real.mean()), "d_mean_p_fake": float(p_fake.mean())}
    return float(d_loss / (2 * n)), report, fake


def evaluation_event(gan, split, settings: dict, noise_shape: tuple) -> dict:
    """The discriminator on the test split's real samples and as many generated ones."""
    real = split.x_test if len(split.x_test) else split.x_train
    if not data.streamed(real):
        real = np.asarray(real, np.float32)
    n = len(real)
    rng = evaluation_noise(settings)
    loss, report, fake = discriminator_scores(gan, real, noise_shape, rng)
    sample_shape = tuple(real.shape[1:])
    if len(sample_shape) == 1 and sample_shape[0] <= QUALITY_MAX_FEATURES:
        train = np.asarray(split.x_train, np.float64)
        many = gan.generate(rng.standard_normal((len(train), *noise_shape)).astype(np.float32))
        report.update(quality_report(train, real, np.asarray(many, np.float64)))
    shown = min(SAMPLES_SHOWN, n)
    return {"event": "evaluation", "task": "gan", "samples": 2 * n,
            "loss": loss, "metrics": {"d_accuracy": report["d_accuracy"]},
            "report": report,
            "examples": {"generated": fake[:shown].astype(float).tolist(),
                         "images": is_image(sample_shape)}}


def nearest_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
    to_train = nearest_distances(test, train).mean()
    return {"mean_offset": float(np.linalg.norm(fake.mean(0) - train.mean(0)) / std),
            "std_ratio": float(fake.std(axis=0).mean() / std),
            "fidelity": float(nearest_distances(fake, train).mean() / to_train),
            "coverage": float(nearest_distances(test, fake).mean() / to_train)}
