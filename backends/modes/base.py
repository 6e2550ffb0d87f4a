"""What every training mode provides, and the supervised behaviour the others build on.

A mode turns a validated design and its data set into something a backend trains
(`prepare`), trains it (`fit`), and says how well it did (`evaluate` for the test split's
`evaluation` event, `scores` for the table of the command line). `backends.jobs` picks the mode
from the training settings and calls these; no front end calls a backend's `fit` itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from netdesigner.graph.expand import expand_blocks
from netdesigner.graph.validation import Analysis

from .. import data, datasources, protocol
from ..evaluation import evaluation_event

BACKENDS = ("numpy", "keras")


@dataclass
class Prepared:
    """A design made ready to train: `network` is what the backend trains (a flat Graph, with
    the global penalties applied; GAN mode: the `GanParts`), `split` the prepared data."""
    mode: "Mode"
    network: object
    split: data.Split
    settings: dict


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose {' or '.join(BACKENDS)}")


def training_module(backend: str):
    """The backend's supervised training module (`fit`, `evaluate`, `predict`), imported only
    when needed (the Keras one imports TensorFlow)."""
    check_backend(backend)
    if backend == "numpy":
        from ..numpy import train
    else:
        from ..keras import train
    return train


def evaluate_result(backend: str, result, x, y, settings: dict) -> dict:
    """{"loss":, metric:} of a run's model on (x, y); a model the Keras custom loop trained
    is evaluated by that loop."""
    extra = {"loop": result.loop} if result.loop is not None else {}
    return training_module(backend).evaluate(result.model, x, y, settings, **extra)


def predict_result(backend: str, result, x):
    extra = {"loop": result.loop} if result.loop is not None else {}
    return training_module(backend).predict(result.model, x, **extra)


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


def refuse_problems(graph) -> Analysis:
    """The design's analysis; a ValueError listing its errors when it has any."""
    analysis = Analysis(graph, live=False)
    errors = analysis.errors()
    if errors:
        raise ValueError("the network has problems; fix them first:\n"
                         + "\n".join(f"  {p}" for p in errors[:10]))
    return analysis


class Mode:
    """Supervised training: targets from the data set (several Inputs or outputs: the data
    set's arrays named after their ids, `data.prepare_network`). The other modes
    override what differs."""
    name = "supervised"
    #: per epoch, the history key the optimizer comparison plots
    compared_loss = "loss"
    # why a run of this mode streams no per-layer statistics (gradients, activations, weights)
    # to the designer; "" when it streams them
    no_layer_stats = ""
    #: the exported model's input is a data sample, so a SavedModel can take raw samples and
    #: apply the fitted scaling itself (`backends.export.serving`)
    serves_raw_samples = True

    # -- preparing ---------------------------------------------------------------------------
    def problem(self, graph, settings: dict) -> str:
        """Why this mode cannot train the design ('' when it can)."""
        return ""

    def prepare(self, graph, base_dir) -> Prepared:
        analysis = refuse_problems(graph)
        settings = dict(graph.training)
        problem = self.problem(graph, settings)
        if problem:
            raise ValueError(problem)
        ported = [o for o in graph.outputs() if graph.output_count(o) != 1]
        if ported:
            raise ValueError(f"the output layer {ported[0]} gives {graph.output_count(ported[0])} "
                             f"values (ports), and training gives each output one target: "
                             f"end the network at layers with one output each.")
        dataset = datasources.load(settings.get("dataset", ""), base_dir,
                                   settings.get("seed", 0), settings.get("streaming", "auto"))
        # several Inputs / outputs: each takes the data set's array named after its id
        split = data.prepare_network(dataset, settings, self.shapes(analysis, graph.inputs()),
                                     self.shapes(analysis, graph.outputs()))
        return Prepared(self, with_global_penalties(expand_blocks(graph), settings), split,
                        settings)

    @staticmethod
    def shapes(analysis: Analysis, nodes: list) -> dict:
        """{node id: its (first) output's shape}, in the network's order."""
        return {n: analysis.output_shapes(n)[0] for n in nodes}

    # -- training ----------------------------------------------------------------------------
    def fit(self, backend: str, prepared: Prepared, settings: dict, **run) -> protocol.FitResult:
        """Train on either backend; `run`: on_event, should_stop, stats_every, weights_in,
        weights_out and the backend's own options (device, strategy, ...)."""
        return training_module(backend).fit(prepared.network, prepared.split, settings, **run)

    def after_fit(self, backend: str, result, prepared: Prepared) -> list[dict]:
        """Events to send after a finished run, before the evaluation."""
        return []

    # -- evaluating --------------------------------------------------------------------------
    def evaluate(self, backend: str, result, prepared: Prepared, settings: dict) -> dict:
        """The `evaluation` event: loss, metrics and a report on the test split."""
        split = prepared.split
        scores = evaluate_result(backend, result, split.x_test, split.y_test, settings)
        y_pred = predict_result(backend, result, split.x_test)
        loss = scores.pop("loss", None)
        return evaluation_event(split, y_pred, loss, scores)

    def scores(self, backend: str, result, prepared: Prepared, settings: dict,
               evaluation: dict | None = None) -> dict:
        """{split name: {"loss": .., metric: ..}} for train, val and test (those with data);
        the test row comes from the run's `evaluation` event when given (not computed twice)."""
        split = prepared.split
        rows = {}
        for name, x, y in (("train", split.x_train, split.y_train),
                           ("val", split.x_val, split.y_val),
                           ("test", split.x_test, split.y_test)):
            if x is None or not len(x):
                continue
            if name == "test" and evaluation is not None and evaluation["loss"] is not None:
                rows[name] = self.test_row(evaluation)
            else:
                rows[name] = evaluate_result(backend, result, x, y, settings)
        return rows

    def test_row(self, evaluation: dict) -> dict:
        """The scores row of the test split, read from the `evaluation` event."""
        return {"loss": evaluation["loss"], **evaluation["metrics"]}
