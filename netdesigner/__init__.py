"""netdesigner from Python: the same core the designer and the CLI use.

    import netdesigner as nd

    net = nd.load("samples/mlp_digits.graph")
    nd.validate(net)                          # [] when the design is sound, else its problems
    model = nd.build_keras(net)               # a compiled keras.Model, layers named after nodes
    numpy_model = nd.build_numpy(net)         # the NumPy reference backend's model
    run = nd.train(net, backend="numpy", epochs=1, base_dir="samples")
    run.evaluation["metrics"]                 # test-split scores; run.result.model is trained
    nd.export(net, "py", "mlp.py", weights=run.weights)    # also "savedmodel", "keras", "onnx"
    net2 = nd.import_keras("model.keras", "model.graph")
    nd.save(net2, "copy.graph")

The packages underneath are `netdesigner.graph` (the pure model: catalog, graph, shapes,
validation, files), `netdesigner.backends` (NumPy and Keras backends, training, data, export,
import) and `netdesigner.designer` (the GUI and the CLI). Nothing here imports TensorFlow or Qt
until a function that needs it is called.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from netdesigner.graph import Graph, fileformat, validation
from netdesigner.graph.diff import GraphDiff
from netdesigner.graph.diff import diff as graph_diff
from netdesigner.graph.validation import Problem

__all__ = ["Graph", "Problem", "Run", "load", "loads", "save", "dumps", "validate",
           "build_keras", "build_numpy", "train", "export", "import_keras", "diff", "GraphDiff"]

__version__ = "0.1.0"


def load(path) -> Graph:
    """Read a `.graph` file (a `GraphFileError` says what is wrong with a bad one)."""
    return fileformat.load(path)


def loads(text: str) -> Graph:
    return fileformat.loads(text, "<text>")


def save(graph: Graph, path) -> None:
    """Write a `.graph` file (atomically)."""
    fileformat.save(graph, path)


def dumps(graph: Graph) -> str:
    return fileformat.dumps(graph)


def validate(graph: Graph) -> list[Problem]:
    """Every problem of the design (errors and warnings); [] when there is none."""
    return validation.validate(graph).problems()


def diff(old: Graph, new: Graph) -> GraphDiff:
    """What changed from `old` to `new`: `.equal`, `.summary()`, `.lines()`, `.to_dict()`."""
    return graph_diff(old, new)


def build_keras(graph: Graph, settings: dict | None = None, *, seed: int | None = None):
    """The design as a compiled `keras.Model` (blocks expanded; loss, optimizer and metrics
    from the training settings)."""
    from netdesigner.backends.keras.compiler import compile_graph
    return compile_graph(graph, settings, seed=seed)


def build_numpy(graph: Graph, settings: dict | None = None, *, seed: int | None = None):
    """The design as a model of the NumPy reference backend (`forward`, `backward`, weights)."""
    from netdesigner.backends.numpy.model import compile_graph
    return compile_graph(graph, settings, seed=seed)


@dataclass
class Run:
    """A finished training run: `result` is the backend's FitResult (`result.model` the trained
    model, `result.history` the curves), `evaluation` the test-split event, `weights` the
    saved `.npz` (None when not saved), `events` everything the run reported."""
    result: object
    evaluation: dict | None
    weights: Path | None
    events: list


def train(graph: Graph | str | Path, *, backend: str = "numpy", base_dir=None,
          epochs: int | None = None, batch_size: int | None = None, weights_out=None,
          weights_in=None, on_event=None, should_stop=None) -> Run:
    """Train a design (a Graph or a `.graph` path) in this process, in its training mode.

    Data set paths are relative to `base_dir` (default: the file's folder, else the current
    one). `epochs` / `batch_size` override the project's settings for this run. `on_event`
    gets every progress event (dicts, see `netdesigner.backends.protocol`)."""
    from netdesigner.backends import protocol
    from netdesigner.backends.jobs import Job, execute
    if not isinstance(graph, Graph):
        path = Path(graph)
        graph = load(path)
        base_dir = path.resolve().parent if base_dir is None else base_dir
    graph = fileformat.loads(fileformat.dumps(graph), "<project>")     # the caller's stays
    if epochs is not None:
        graph.training["epochs"] = int(epochs)
    if batch_size is not None:
        graph.training["batch_size"] = int(batch_size)
    job = Job(fileformat.dumps(graph), str(Path(base_dir or ".").resolve()), backend,
              weights_out=None if weights_out is None else str(weights_out),
              weights_in=None if weights_in is None else str(weights_in))
    recorder = protocol.Recorder(on_event)
    outcome = execute(job, recorder, should_stop)
    saved = Path(weights_out) if weights_out is not None and Path(weights_out).exists() else None
    return Run(outcome.result, outcome.evaluation, saved, recorder.events)


def export(graph: Graph, to: str, out, *, weights=None, settings: dict | None = None) -> list:
    """Write the design as `to` ("py", "savedmodel", "keras" or "onnx") at `out`, with
    `weights` (an `.npz` of either backend, a Keras `.weights.h5` or a dict) or freshly
    initialised ones. Returns the paths written."""
    from netdesigner.backends.export import export as export_design
    return export_design(graph, to, out, weights=weights, settings=settings)


def import_keras(source, out, *, weights: bool = True) -> Graph:
    """Import a `.keras` file (or "keras.applications.NAME") as the design `out` (.graph);
    its weights go beside it as `<stem>.weights.npz`."""
    from netdesigner.backends.keras.importer import import_file
    graph, _ = import_file(source, out, weights=weights)
    return graph
