"""From a project to a trained, evaluated model: the one path every front end takes.

    prepared = prepare(graph, base_dir)          # validate, expand blocks, penalties, data, mode
    outcome = execute(Job(text, base_dir, "keras"), on_event)   # train + evaluate, in-process
    outcome.result.model, outcome.evaluation

`prepare` validates the design, picks its training mode (`backends.modes`), expands blocks,
applies the global penalties and loads and prepares the data set. `execute` then lets the mode
train on the chosen backend and evaluate on the test split, sending protocol events
(`backends.protocol`) as it goes. The designer runs jobs in a worker process
(`backends.runner`), the command line (`train`, `compare`) and the Python API in-process; all of
them through here.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from netdesigner.graph import fileformat

from . import decoded_cache, progress, protocol
from .modes import BACKENDS, Prepared, mode_named


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


@dataclass
class Outcome:
    """What a finished job gives back: the backend's FitResult (its `model` is the trained
    model), the `evaluation` event on the test split (None when training did not end), and
    what was prepared (mode, network, data)."""
    result: protocol.FitResult | None
    evaluation: dict | None
    prepared: Prepared


#: the options each backend's `fit` takes besides the common ones (unknown ones are refused)
BACKEND_OPTIONS = {
    "numpy": ("device", "threads", "dtype"),
    "keras": ("device", "strategy", "mixed_precision", "loop", "devices", "probe_size",
              "validation_batch_size", "jit_compile"),
}


def prepare(graph, base_dir) -> Prepared:
    """The design made ready to train in its mode (ValueError with a sentence when it cannot)."""
    return mode_named(graph.training.get("mode", "supervised")).prepare(graph, base_dir)


def model_with_weights(backend: str, prepared, weights=None, error=ValueError):
    """The model of a prepared design on `backend` (numpy or keras) with the weights of the
    .npz given (else the design's seeded initial weights); `error` (a ValueError) names the file
    when they do not fit. The one way trace and predict load a model."""
    if backend == "keras":
        from .keras.compiler import compile_graph
        from .keras.weights import load_any as load
    else:
        from .numpy.model import compile_graph
        from .numpy.weights import load_npz as load
    model = compile_graph(prepared.network, prepared.settings)
    if weights:
        try:
            load(model, weights)
        except (OSError, KeyError, ValueError) as e:
            raise error(f"{weights}: these weights do not fit the design ({e})") from None
    return model


def fit_options(backend: str, options: dict, settings: dict) -> dict:
    """The backend options of a run: the project's device, then the job's own options."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose {' or '.join(BACKENDS)}")
    unknown = sorted(set(options) - set(BACKEND_OPTIONS[backend]))
    if unknown:
        raise ValueError(f"the {backend} backend has no option {', '.join(unknown)} (it takes "
                         f"{', '.join(BACKEND_OPTIONS[backend])})")
    return {"device": settings.get("device", "auto"), **options}


def train(prepared: Prepared, backend: str, on_event, should_stop=None, *,
          settings: dict | None = None, stats_every: int = protocol.STATS_EVERY,
          weights_in=None, weights_out=None, options: dict | None = None,
          evaluate_only: bool = False) -> Outcome:
    """Train what `prepare` made on `backend` (with `settings`, default the project's) and
    evaluate it on the test split."""
    settings = dict(prepared.settings if settings is None else settings)
    if evaluate_only:
        settings["epochs"] = 0
    mode = prepared.mode
    with decoded_cache.kept():       # a streamed set's later epochs read what the first decoded
        result = mode.fit(backend, prepared, settings, on_event=on_event,
                          should_stop=should_stop, stats_every=stats_every,
                          weights_in=weights_in, weights_out=weights_out,
                          **fit_options(backend, options or {}, settings))
    evaluation = None
    if result.reason in ("completed", "early_stopping"):
        for event in mode.after_fit(backend, result, prepared):
            on_event(event)
        evaluation = mode.evaluate(backend, result, prepared, settings)
        on_event(evaluation)
    return Outcome(result, evaluation, prepared)


def execute(job: Job, on_event, should_stop=None) -> Outcome:
    """Prepare and train a job in this process; errors are raised, not reported."""
    graph = fileformat.loads(job.graph_text, "<project>")
    with progress.reporting(lambda *report: on_event(protocol.data_progress(*report))):
        prepared = prepare(graph, job.base_dir)
    return train(prepared, job.backend, on_event, should_stop,
                 stats_every=job.stats_every, weights_in=job.weights_in,
                 weights_out=job.weights_out, options=job.options,
                 evaluate_only=job.evaluate_only)


def run_job(job: Job, on_event, should_stop) -> None:
    """`execute`, reporting every failure as an `error` event (the worker's body)."""
    try:
        execute(job, on_event, should_stop)
    except Exception as e:       # the worker must report, not die silently
        on_event(protocol.error(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError)
                                else str(e)))
        on_event({"event": "traceback", "text": traceback.format_exc()})
