"""Train one design several times, changing only the optimizer, to compare their loss curves.

    runs = compare_optimizers(graph, base_dir, ["sgd", "momentum", "rmsprop", "adam"])
    runs["adam"].history["loss"]          # one value per epoch

Every run starts from the same initial weights and sees the same batches in the same order (the
design's seed fixes both), so the curves differ by the update rule alone. Each optimizer keeps
its own declared defaults (learning rate included): that is how a student would first meet it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from netdesigner.graph.training import OPTIMIZERS

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


def compare_optimizers(graph, base_dir: str, names=DEFAULT, backend: str | None = None,
                       epochs: int | None = None, on_event=None) -> dict[str, ComparedRun]:
    """Train `graph` once per optimizer name; {name: ComparedRun}. `on_event(name, event)`
    sees every protocol event of every run."""
    from .runner import backend_fit, evaluate_test_split, prepare_job

    settings = dict(graph.training)
    if epochs is not None:
        settings["epochs"] = int(epochs)
    backend = backend or settings.get("backend", "numpy")
    if settings.get("mode") == "gan":
        raise ValueError("the optimizer comparison trains one network on a data set; a GAN "
                         "trains two against each other: compare its optimizers by hand")
    flat, split = prepare_job(graph, base_dir)
    fit = backend_fit(backend)
    runs = {}
    for name in names:
        run_settings = variant_settings(settings, name)
        emit = (lambda e, _n=name: on_event(_n, e)) if on_event else None
        started = time.perf_counter()
        result = fit(flat, split, run_settings, on_event=emit, stats_every=0)
        test = {}
        if result.reason in ("completed", "early_stopping") and len(split.x_test):
            event = evaluate_test_split(backend, result, split, run_settings)
            test = {"loss": event["loss"], **event["metrics"]}
        runs[name] = ComparedRun(name, run_settings["optimizer"],
                                 run_settings["optimizer_params"], result.history,
                                 result.reason, time.perf_counter() - started, test)
    return runs
