"""Train one design several times, changing only the optimizer, to compare their loss curves.

    runs = compare_optimizers(graph, base_dir, ["sgd", "momentum", "rmsprop", "adam"])
    runs["adam"].history["loss"]          # one value per epoch

Every run starts from the same initial weights and sees the same batches in the same order (the
design's seed fixes both), so the curves differ by the update rule alone. Every training mode
can be compared (a GAN's two networks both take the optimizer; its `loss` is the generator's). Each optimizer keeps
its own declared defaults (learning rate included): that is how a student would first meet it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from netdesigner.graph.training import OPTIMIZERS

from . import jobs

#: name shown -> (optimizer, parameters that differ from its declared defaults)
VARIANTS: dict[str, tuple[str, dict]] = {
    "sgd": ("sgd", {}),
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("adagrad", {}),
    "rmsprop": ("rmsprop", {}),
    "adam": ("adam", {}),
    "adamw": ("adamw", {}),
}
DEFAULT = ("sgd", "momentum", "rmsprop", "adam")


@dataclass
class ComparedRun:
    name: str
    optimizer: str
    optimizer_params: dict
    history: dict
    reason: str
    seconds: float
    test: dict = field(default_factory=dict)

    def as_project_run(self, backend: str) -> dict:
        """The run as the designer keeps it in the project (Runs tab), labelled."""
        return {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "backend": backend,
                "label": self.name, "reason": self.reason,
                "epochs": len(self.history.get("loss", [])), "history": self.history,
                "optimizer": self.optimizer, "optimizer_params": self.optimizer_params,
                "test": self.test}


def variant_settings(settings: dict, name: str) -> dict:
    """The training settings with the optimizer `name` (a VARIANTS key) in place."""
    if name not in VARIANTS:
        raise ValueError(f"unknown optimizer {name!r}: choose from {', '.join(VARIANTS)}")
    optimizer, changes = VARIANTS[name]
    params = {**OPTIMIZERS[optimizer].params.defaults(), **changes}
    return {**settings, "optimizer": optimizer, "optimizer_params": params}


def variant_design(graph, name: str, epochs: int | None = None):
    """A copy of `graph` that trains with the optimizer `name` (a VARIANTS key) and, given,
    `epochs`: one run of a comparison as a design of its own (the designer runs it in its
    training worker and keeps it, labelled, with the project's runs)."""
    from netdesigner.graph import fileformat
    copy = fileformat.loads(fileformat.dumps(graph), "<comparison>")
    settings = variant_settings(dict(copy.training), name)
    copy.set_training("optimizer", settings["optimizer"])
    copy.set_training("optimizer_params", settings["optimizer_params"])
    if epochs is not None:
        copy.set_training("epochs", int(epochs))
    return copy


def compare_optimizers(graph, base_dir: str, names=DEFAULT, backend: str | None = None,
                       epochs: int | None = None, on_event=None) -> dict[str, ComparedRun]:
    """Train `graph` once per optimizer name; {name: ComparedRun}. `on_event(name, event)`
    sees every protocol event of every run."""
    settings = dict(graph.training)
    if epochs is not None:
        settings["epochs"] = int(epochs)
    backend = backend or settings.get("backend", "numpy")
    prepared = jobs.prepare(graph, base_dir)
    runs = {}
    for name in names:
        run_settings = variant_settings(settings, name)
        emit = (lambda e, _n=name: on_event(_n, e)) if on_event else (lambda e: None)
        started = time.perf_counter()
        outcome = jobs.train(prepared, backend, emit, settings=run_settings, stats_every=0)
        result, event = outcome.result, outcome.evaluation
        test = {}
        if event is not None and len(prepared.split.x_test):
            test = {"loss": event["loss"], **event["metrics"]}
        runs[name] = ComparedRun(name, run_settings["optimizer"],
                                 run_settings["optimizer_params"], result.history,
                                 result.reason, time.perf_counter() - started, test)
    return runs
