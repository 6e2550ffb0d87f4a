"""Run a training job in a separate process and stream its events back.

The designer and the CLI both train through here. The job runs in a fresh ("spawn") process so
that TensorFlow, the GIL and GPU memory never touch the GUI process: the worker puts plain
protocol dicts on a queue that the caller drains (the designer from a timer), Stop and Pause
are multiprocessing events the training loop polls after every batch, and ending the process
frees everything it held.
"""
from __future__ import annotations

import multiprocessing as mp
from collections import deque
import queue as queue_module
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from . import protocol

BACKENDS = ("numpy", "keras")


@dataclass
class Job:
    """What a worker needs: the design as .graph text (never live objects), and where to go."""
    graph_text: str
    base_dir: str                    # data set paths are relative to the project file
    backend: str = "numpy"
    stats_every: int = protocol.STATS_EVERY
    weights_out: str | None = None   # where the worker saves the trained weights (.npz)
    weights_in: str | None = None    # start from these weights (.npz), if given
    options: dict = field(default_factory=dict)   # backend options (device, strategy, ...)
    evaluate_only: bool = False      # no training: score `weights_in` on the test split


def backend_fit(backend: str):
    """The `fit` function of a backend (imported only when needed)."""
    if backend == "numpy":
        from .numpy.train import fit
    elif backend == "keras":
        from .keras.train import fit
    else:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    return fit


def prepare_job(graph, base_dir) -> tuple:
    """The expanded graph and the prepared data split for a design (single input/output)."""
    from netdesigner.graph.expand import expand_blocks
    from netdesigner.graph.validation import Analysis

    from . import data

    if graph.training.get("mode") == "gan":       # GAN mode: (GanParts, split of real samples)
        from .gan_mode import prepare_gan_job
        return prepare_gan_job(graph, base_dir)
    analysis = Analysis(graph, live=False)
    errors = analysis.errors()
    if errors:
        raise ValueError("the network has problems; fix them first:\n"
                         + "\n".join(f"  {p}" for p in errors[:10]))
    inputs, outputs = graph.inputs(), graph.outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"training from a data set needs one Input and one output layer; this "
                         f"network has {len(inputs)} inputs ({', '.join(inputs)}) and "
                         f"{len(outputs)} outputs ({', '.join(outputs)})")
    settings = graph.training
    mode_problem = reconstruction_mode_problem(graph, settings)
    if mode_problem:
        raise ValueError(mode_problem)
    dataset = data.load(settings.get("dataset", ""), base_dir, settings.get("seed", 0))
    split = data.prepare(dataset, settings, analysis.output_shapes(inputs[0])[0],
                         analysis.output_shapes(outputs[0])[0], inputs[0], outputs[0])
    return with_global_penalties(expand_blocks(graph), settings), split


RECONSTRUCTION_LOSSES = ("mse", "mae", "huber", "binary_crossentropy")


def reconstruction_mode_problem(graph, settings: dict) -> str:
    """Why the autoencoder / VAE mode cannot train this design ('' when it can)."""
    mode = settings.get("mode", "supervised")
    if mode not in ("autoencoder", "vae"):
        return ""
    if settings.get("loss") not in RECONSTRUCTION_LOSSES:
        return (f"the {mode} mode compares each output with its input, value by value: choose "
                f"the loss mse, mae or huber (or binary_crossentropy for values in [0, 1]), not "
                f"{settings.get('loss')}")
    if mode == "vae":
        from netdesigner.graph.expand import expand_blocks
        flat = expand_blocks(graph)
        if not any(flat.node(n).type == "Sampling" for n in flat.nodes()):
            return ("the vae mode needs a Sampling layer: the encoder ends in two Dense layers "
                    "(mean and log-variance) that feed a Sampling layer, whose output is the "
                    "code the decoder reads")
    return ""


def with_global_penalties(flat, settings: dict):
    """Apply the training settings' l1 / l2 to every layer that takes them (a layer's own,
    larger value wins), so both backends regularise the same weights the same way."""
    for key in ("l1", "l2"):
        value = float(settings.get(key, 0.0) or 0.0)
        if value <= 0:
            continue
        for n in flat.nodes():
            node = flat.node(n)
            if key in node.layer_type.params and node.params[key] < value:
                flat.set_param(n, key, value)
    return flat


def evaluate_test_split(backend: str, result, split, settings: dict) -> dict:
    """The `evaluation` event: loss, metrics and a report on the test split."""
    from .evaluation import evaluation_event
    if backend == "numpy":
        from .numpy.train import evaluate, predict
        scores = evaluate(result.model, split.x_test, split.y_test, settings)
        y_pred = predict(result.model, split.x_test)
    else:
        model = result.model
        values = model.evaluate(split.x_test, split.y_test, verbose=0, return_dict=True)
        scores = {k: float(v) for k, v in values.items()}
        y_pred = model.predict(split.x_test, verbose=0)
    loss = scores.pop("loss", None)
    return evaluation_event(split, y_pred, loss, scores)


def vae_generated_event(backend: str, result, flat, split) -> dict:
    """After a VAE trains: what its decoder makes of new codes (the Generated tab), shaped
    like the data set's samples (8x8 images for digits, also when the network reads 64
    values)."""
    import numpy as np

    from .evaluation import picture_shape
    from .vae_samples import GRID_SIDE, code_size, decode
    latent = code_size(flat)
    samples = np.asarray(decode(backend, result.model, flat, latent=latent))
    shape = picture_shape(split.dataset.sample_shape, int(np.prod(samples.shape[1:])))
    if shape:
        samples = samples.reshape((len(samples),) + shape)
    event = protocol.generated(result.steps, max(0, result.epochs_run - 1), samples)
    latent_grid = len(samples) == GRID_SIDE * GRID_SIDE and latent == 2
    event["columns"] = GRID_SIDE if latent_grid else None
    event["caption"] = (
        "What the trained decoder makes of new codes: a grid over the 2-D code space from "
        "(-2, 2) at the top left to (2, -2) at the bottom right. Neighbouring codes give "
        "similar samples." if latent_grid else
        f"What the trained decoder makes of {len(samples)} random codes drawn from N(0, 1).")
    return event


@dataclass
class Outcome:
    """What a finished job gives back: the backend's FitResult (its `model` is the trained
    model) and the `evaluation` event on the test split (None when training did not end)."""
    result: protocol.FitResult | None
    evaluation: dict | None


def execute(job: Job, on_event, should_stop=None) -> Outcome:
    """Train (or only evaluate) a job in this process; errors are raised, not reported."""
    from netdesigner.graph import fileformat
    graph = fileformat.loads(job.graph_text, "<project>")
    if graph.training.get("mode") == "gan":   # GAN mode: backends/gan_mode.py
        from .gan_mode import run_gan_job
        return Outcome(*run_gan_job(job, graph, on_event, should_stop))
    flat, split = prepare_job(graph, job.base_dir)
    fit = backend_fit(job.backend)
    settings = dict(graph.training)
    if job.evaluate_only:
        settings["epochs"] = 0
    options = {"device": settings.get("device", "auto"), **job.options}
    result = fit(flat, split, settings, on_event=on_event, should_stop=should_stop,
                 stats_every=job.stats_every, weights_out=job.weights_out,
                 weights_in=job.weights_in, **options)
    evaluation = None
    if result is not None and getattr(result, "reason", "completed") in ("completed",
                                                                        "early_stopping"):
        if settings.get("mode") == "vae":
            on_event(vae_generated_event(job.backend, result, flat, split))
        evaluation = evaluate_test_split(job.backend, result, split, graph.training)
        on_event(evaluation)
    return Outcome(result, evaluation)


def run_job(job: Job, on_event, should_stop) -> None:
    """Train in this process and report every failure as an `error` event (the worker's body;
    also used directly by tests)."""
    try:
        execute(job, on_event, should_stop)
    except Exception as e:       # the worker must report, not die silently
        on_event(protocol.error(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError)
                                else str(e)))
        on_event({"event": "traceback", "text": traceback.format_exc()})


def _worker(job: Job, events, stop, pause) -> None:
    from .quiet_tf import quiet_if_inherited
    quiet_if_inherited()            # before this fresh process imports TensorFlow
    def should_stop() -> bool:
        while pause.is_set() and not stop.is_set():
            time.sleep(0.05)
        return stop.is_set()
    run_job(job, events.put, should_stop)
    events.put({"event": "worker_done"})


class TrainingProcess:
    """Start, pause, resume and stop a training job; `drain()` returns the events so far."""

    def __init__(self, job: Job):
        ctx = mp.get_context("spawn")
        self.events = ctx.Queue()
        self._stop, self._pause = ctx.Event(), ctx.Event()
        self.process = ctx.Process(target=_worker, args=(job, self.events, self._stop,
                                                         self._pause), daemon=True)
        self.done = False
        self._late: deque = deque()           # events read while stopping, not drained yet

    def start(self) -> None:
        self.process.start()

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the loop to stop at the next batch; kill the process if it does not end in time.

        While waiting, the events keep being read (and kept for `drain`): a process whose
        queue holds more than the pipe takes cannot exit until someone reads it, and a small
        network streams thousands of batch events a second."""
        self._stop.set()
        self._pause.clear()
        deadline = time.perf_counter() + timeout
        while self.process.is_alive() and time.perf_counter() < deadline:
            try:
                self._late.append(self.events.get(timeout=0.02))
            except queue_module.Empty:
                pass
        self.process.join(max(0.0, deadline - time.perf_counter()))
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1.0)
        self.done = True

    def drain(self, limit: int = 10_000, budget_s: float | None = None) -> list[dict]:
        """The events that arrived, at most `limit` or as many as `budget_s` seconds allow."""
        out = []
        while self._late and len(out) < limit:
            event = self._late.popleft()
            if event.get("event") == "worker_done":
                self.done = True
            else:
                out.append(event)
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        for _ in range(limit - len(out)):
            if deadline is not None and time.perf_counter() > deadline:
                break
            try:
                event = self.events.get_nowait()
            except queue_module.Empty:
                break
            if event.get("event") == "worker_done":
                self.done = True
                continue
            out.append(event)
        if not out and not self.process.is_alive() and self.process.exitcode not in (0, None):
            if not self.done:
                self.done = True
                out.append(protocol.error(f"the training process ended unexpectedly (exit "
                                          f"code {self.process.exitcode})"))
        return out

    @property
    def running(self) -> bool:
        return self.process.is_alive() and not self.done


def weights_path(project: str | Path) -> Path:
    """Trained weights live beside the project: net.graph -> net.weights.npz."""
    project = Path(project)
    return project.with_name(project.stem + ".weights.npz")
