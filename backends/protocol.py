"""The training protocol both backends speak, defined once.

A training run reports what happens as plain dicts (picklable: they cross a process queue to the
designer, or go to the CLI's progress bar). Every backend builds them with the functions below,
so the GUI and the CLI never care which backend runs. A run is stopped by a `should_stop()`
callable that the loop polls after every batch.

Events, in order:
    train_begin  backend, device, epochs, steps_per_epoch, samples, layers (node ids)
    batch        epoch, batch, step, loss, metrics                (every batch)
    layer_stats  step, activations, gradients, weights            (at step 1, then every
                 `stats_every` batches)
    feature_maps step, maps: node -> channel images of one fixed probe sample, for layers
                 with image-shaped outputs (convolutions)        (with layer_stats)
    epoch        epoch, loss, metrics, val_loss, val_metrics, seconds
    train_end    reason (completed | early_stopping | stopped | nan), epochs_run, best_epoch,
                 best_val_loss, history (and `message`, with what to try, when reason is nan)
    evaluation   (after a finished run) loss, metrics and a report on the test split
                 (backends/evaluation.py)
    generated    GAN mode only (backends/gan_loop.py): step, epoch, samples (the generator's
                 outputs for one fixed noise batch, as lists) and, in the first one, `real`
                 (real training samples to compare with); at the start, then after every epoch.
                 GAN batch and epoch events carry the generator's loss as `loss` and the
                 discriminator's as the metrics d_loss and d_accuracy.
    error        message                                          (then nothing else)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

OnEvent = Callable[[dict], None]
ShouldStop = Callable[[], bool]

STATS_EVERY = 20          # batches between two layer_stats events, by default
HISTOGRAM_BINS = 30
REASONS = ("completed", "early_stopping", "stopped", "nan")


def histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict:
    """Counts and bin edges of the finite values (plain lists, for plotting)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"counts": [], "edges": []}
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    return {"counts": counts.tolist(), "edges": edges.tolist()}


def activation_stats(values: np.ndarray) -> dict:
    """What the designer shows for a layer's output: mean, spread, dead units, histogram."""
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std()),
            "zeros": float(np.mean(v == 0.0)), "histogram": histogram(v)}


def gradient_stats(values: np.ndarray) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"norm": float(np.sqrt(np.sum(v * v))), "mean_abs": float(np.mean(np.abs(v))),
            "histogram": histogram(v)}


def weight_stats(values: np.ndarray) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"norm": float(np.sqrt(np.sum(v * v))), "histogram": histogram(v)}


def train_begin(backend: str, device: str, epochs: int, steps_per_epoch: int, samples: int,
                layers: list) -> dict:
    return {"event": "train_begin", "backend": backend, "device": device, "epochs": epochs,
            "steps_per_epoch": steps_per_epoch, "samples": samples, "layers": list(layers)}


def batch(epoch: int, batch_index: int, step: int, loss: float, metrics: dict) -> dict:
    return {"event": "batch", "epoch": epoch, "batch": batch_index, "step": step,
            "loss": float(loss), "metrics": {k: float(v) for k, v in metrics.items()}}


def layer_stats(step: int, activations: dict, gradients: dict, weights: dict) -> dict:
    """activations: node -> activation_stats; gradients and weights: node -> weight name ->
    gradient_stats / weight_stats."""
    return {"event": "layer_stats", "step": step, "activations": activations,
            "gradients": gradients, "weights": weights}


MAX_MAPS = 8             # channels shown per layer
MAX_MAP_SIZE = 32        # a feature map is shown at most this many pixels wide


def feature_map_images(activation: np.ndarray) -> list:
    """The first channels of one sample's (height, width, channels) activation, each as a
    2-D list, down-sampled to at most MAX_MAP_SIZE pixels a side."""
    a = np.asarray(activation, dtype=np.float64)
    step = max(1, -(-max(a.shape[0], a.shape[1]) // MAX_MAP_SIZE))
    a = a[::step, ::step]
    return [a[:, :, c].round(4).tolist() for c in range(min(MAX_MAPS, a.shape[-1]))]


def feature_maps(step: int, maps: dict) -> dict:
    """maps: node -> list of 2-D lists (see feature_map_images)."""
    return {"event": "feature_maps", "step": step, "maps": maps}


def epoch(epoch_index: int, loss: float, metrics: dict, val_loss: Optional[float],
          val_metrics: dict, seconds: float, input_seconds: Optional[float] = None,
          train_seconds: Optional[float] = None) -> dict:
    """`train_seconds`: the epoch's pass over the training data (`seconds` adds the
    validation); `input_seconds`: how long of it the steps waited for their batches
    (reading, decoding, scaling) — the input pipeline's share of the step time."""
    event = {"event": "epoch", "epoch": epoch_index, "loss": float(loss),
             "metrics": {k: float(v) for k, v in metrics.items()},
             "val_loss": None if val_loss is None else float(val_loss),
             "val_metrics": {k: float(v) for k, v in (val_metrics or {}).items()},
             "seconds": float(seconds)}
    if input_seconds is not None and train_seconds is not None:
        event["input_seconds"] = float(input_seconds)
        event["train_seconds"] = float(train_seconds)
    return event


#: the input pipeline is called the bottleneck above this share of the training time
INPUT_BOUND_SHARE = 0.5


def input_share(event: dict) -> Optional[float]:
    """The share of an epoch's training time its steps waited for data (None: not measured)."""
    wait, total = event.get("input_seconds"), event.get("train_seconds")
    if wait is None or not total:
        return None
    return min(1.0, wait / total)


def input_advice(share: float) -> str:
    """The sentence for an epoch whose steps mostly waited for their data."""
    return (f"the input pipeline is the bottleneck: the steps waited for their batches "
            f"{share:.0%} of the time (reading and decoding the data, not the network, sets "
            f"the pace). Data that fits in memory trains faster with streaming off; smaller "
            f"images, or files on a faster disk, help too.")


def train_end(reason: str, epochs_run: int, best_epoch: Optional[int],
              best_val_loss: Optional[float], history: dict) -> dict:
    if reason not in REASONS:
        raise ValueError(f"unknown end reason {reason!r}")
    return {"event": "train_end", "reason": reason, "epochs_run": epochs_run,
            "best_epoch": best_epoch, "best_val_loss": best_val_loss, "history": history}


def generated(step: int, epoch: int, samples, real=None) -> dict:
    """GAN mode: the generator's outputs for the fixed noise batch (`real`: real samples, once)."""
    event = {"event": "generated", "step": step, "epoch": epoch,
             "samples": np.asarray(samples, dtype=np.float64).round(5).tolist()}
    if real is not None:
        event["real"] = np.asarray(real, dtype=np.float64).round(5).tolist()
    return event


def data_progress(stage: str, done: int, total: int, unit: str) -> dict:
    """How far a pass over the data set has come before training (`backends.progress`)."""
    return {"event": "data_progress", "stage": stage, "done": int(done), "total": int(total),
            "unit": unit}


def error(message: str) -> dict:
    return {"event": "error", "message": message}


def is_bad_loss(value: float) -> bool:
    """A NaN or infinite loss ends a run with reason 'nan' and a message saying what to try."""
    return not math.isfinite(value)


NAN_ADVICE = ("The loss became NaN or infinite: the weights diverged. Try a smaller learning "
              "rate, gradient clipping (clip_norm), normalising the inputs, or checking the data "
              "for missing values.")


@dataclass
class FitResult:
    """What a backend's `fit` returns (its last event is `end`)."""
    model: object                    # the trained model (NumPy Model or keras.Model)
    history: dict
    reason: str
    epochs_run: int
    best_epoch: Optional[int]
    best_val_loss: Optional[float]
    end: dict
    message: str = ""
    seconds: float = 0.0
    steps: int = 0
    device: str = ""
    strategy: str = "none"
    extra: dict = field(default_factory=dict)   # backend-specific measurements
    loop: object = None              # Keras: the custom loop that trained `model`, if one did


class Recorder:
    """Collects events (for the CLI, tests and the run history)."""

    def __init__(self, forward: OnEvent | None = None):
        self.events: list[dict] = []
        self.forward = forward

    def __call__(self, event: dict) -> None:
        self.events.append(event)
        if self.forward is not None:
            self.forward(event)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]

    @property
    def end(self) -> dict | None:
        ends = self.of("train_end")
        return ends[-1] if ends else None
