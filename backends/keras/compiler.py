"""Compile a design into a `keras.Model` with the functional API.

    model = compile_graph(graph)                 # validated, blocks expanded, compiled for fit
    model.count_params() == Analysis(graph).total_params()

* Every node becomes one Keras layer named after the node id (block copies get the expanded ids,
  e.g. `block_1__2__conv_a`), built by `backends.keras.layers` (every catalog parameter maps to
  its Keras argument).
* Inputs are the graph's Input nodes in `graph.inputs()` order; outputs are every output port of
  `graph.outputs()`, in that order — the same convention as the NumPy backend. A network with one
  input (output) gets a plain tensor rather than a one-element list, so `model.predict(x)` takes
  an array.
* `compile_model` attaches the training set-up of the design (`graph/training.py`): the loss
  (summed over the outputs), the optimizer with its parameters and `clip_norm` (Keras's
  per-weight `clipnorm`), and the metrics, named as the NumPy backend names them (`accuracy`,
  `mse`, `mae`; `<output node>_<metric>` with several outputs).
"""
from __future__ import annotations

import contextlib
import re

import keras

from netdesigner.graph import Graph
from netdesigner.graph.expand import DesignError, validated_flat

from ..initial_weights import initial_weights
from .layers import build_layer, call_layer
from .weights import set_weights


class CompileError(ValueError):
    """The design cannot be compiled; the message names every problem."""


def output_refs(graph: Graph) -> list[tuple[str, int]]:
    """(node, port) of every model output: each output port of `graph.outputs()`, in order."""
    return [(o, port) for o in graph.outputs() for port in range(graph.output_count(o))]


def model_name(graph: Graph) -> str:
    """A Keras model name from the design's title ("MLP on digits" -> "mlp_on_digits")."""
    title = str(graph.metadata.get("title") or "").strip().lower()
    name = re.sub(r"[^a-z0-9_]+", "_", title).strip("_")
    return name or "netdesigner_model"


def flatten_design(graph: Graph) -> Graph:
    """Validate the design and expand its blocks; a CompileError names every problem."""
    try:
        return validated_flat(graph)[0]
    except DesignError as e:
        raise CompileError(str(e)) from None


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Build layers under a Keras dtype policy ("mixed_float16", "mixed_bfloat16", ...)."""
    if policy is None:
        yield
        return
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def build_model(graph: Graph, *, name: str | None = None, dtype_policy=None) -> keras.Model:
    """The functional Keras model of a flat, valid graph (no compile, no validation)."""
    order = graph.topological_order()
    outputs = output_refs(graph)
    output_nodes = {n for n, _ in outputs}
    tensors: dict = {}
    failures = []
    for n in order:
        node = graph.node(n)
        # with a mixed policy, the layers that produce the outputs compute in float32 (a
        # softmax or a loss in float16 loses too much precision)
        policy = ("float32" if dtype_policy is not None and n in output_nodes else dtype_policy)
        try:
            with dtype_policy_scope(policy):
                layer = build_layer(node.type, node.params, n)
        except KeyError as e:
            failures.append(f"  {n}: {e.args[0]}")
            continue
        if failures:
            continue
        inputs = [tensors[(e.source, e.source_port)] for e in graph.in_edges(n)]
        try:
            outs = call_layer(layer, node.type, inputs)
        except Exception as e:        # Keras refused what validation accepted: say where
            raise CompileError(f"{n} ({node.type}): Keras cannot build it: {e}") from e
        for port, t in enumerate(outs):
            tensors[(n, port)] = t
    if failures:
        raise CompileError("the Keras backend cannot build every layer:\n" + "\n".join(failures))
    ins = [tensors[(i, 0)] for i in graph.inputs()]
    outs = [tensors[r] for r in outputs]
    return keras.Model(inputs=ins[0] if len(ins) == 1 else ins,
                       outputs=outs[0] if len(outs) == 1 else outs,
                       name=name or model_name(graph))


def compile_graph(graph: Graph, settings: dict | None = None, *, name: str | None = None,
                  seed: int | None = None, compile: bool = True, dtype_policy=None,
                  jit_compile="auto") -> keras.Model:
    """Compile a design (blocks allowed) into a `keras.Model`.

    `settings` default to `graph.training`. The weights are those `backends.initial_weights`
    draws from the seed (`seed`, else the settings' seed): the NumPy backend's starting
    weights. Keras's global seed is set to it too, as `keras.utils.set_random_seed` does, for
    dropout, noise and sampling. `seed=False` leaves the weights to Keras's initialisers and
    the random state alone. `compile=False` skips `model.compile`.
    `dtype_policy` ("mixed_float16", "mixed_bfloat16") builds a mixed-precision model whose
    output layers stay in float32. Build it inside a `tf.distribute` strategy's scope to
    distribute it.
    """
    settings = dict(graph.training if settings is None else settings)
    flat = flatten_design(graph)
    if seed is None:
        seed = int(settings.get("seed", 0))
    if seed is not False:
        # Keras's generator still drives dropout, noise and Sampling during training
        keras.utils.set_random_seed(int(seed))
    model = build_model(flat, name=name or model_name(graph), dtype_policy=dtype_policy)
    if seed is not False:
        # the NumPy backend's draw, so that both backends start from the same weights
        set_weights(model, initial_weights(flat, int(seed)))
    if compile:
        compile_model(model, settings, jit_compile=jit_compile)
    return model


# -- training set-up --------------------------------------------------------------------------

CROSS_ENTROPIES = ("binary_crossentropy", "categorical_crossentropy",
                   "sparse_categorical_crossentropy")


def make_loss(settings: dict, reduction: str | None = "sum_over_batch_size"):
    """The Keras loss object of the training settings."""
    name = settings.get("loss", "categorical_crossentropy")
    params = dict(settings.get("loss_params") or {})
    logits = bool(settings.get("from_logits", False))
    L = keras.losses
    if name == "mse":
        return L.MeanSquaredError(reduction=reduction)
    if name == "mae":
        return L.MeanAbsoluteError(reduction=reduction)
    if name == "huber":
        return L.Huber(delta=float(params.get("delta", 1.0)), reduction=reduction)
    if name == "binary_crossentropy":
        return L.BinaryCrossentropy(from_logits=logits, reduction=reduction)
    if name == "categorical_crossentropy":
        return L.CategoricalCrossentropy(from_logits=logits, reduction=reduction)
    if name == "sparse_categorical_crossentropy":
        return L.SparseCategoricalCrossentropy(from_logits=logits, reduction=reduction)
    if name == "hinge":
        return L.Hinge(reduction=reduction)
    raise CompileError(f"unknown loss {name!r}")


def make_optimizer(settings: dict):
    """The Keras optimizer of the training settings (with `clip_norm` as `clipnorm`)."""
    from netdesigner.graph.training import OPTIMIZERS
    name = settings.get("optimizer", "adam")
    if name not in OPTIMIZERS:
        raise CompileError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
    params = {**OPTIMIZERS[name].params.defaults(), **(settings.get("optimizer_params") or {})}
    clip = float(settings.get("clip_norm", 0.0) or 0.0)
    extra = {"clipnorm": clip} if clip > 0 else {}
    O = keras.optimizers
    cls = {"sgd": O.SGD, "adagrad": O.Adagrad, "rmsprop": O.RMSprop, "adam": O.Adam,
           "adamw": O.AdamW}[name]
    return dense_gradients(cls(**{k: (float(v) if not isinstance(v, bool) else v)
                                  for k, v in params.items()}, **extra))


def dense_gradients(optimizer):
    """Make `optimizer` sum sparse gradients into dense ones before it uses them.

    An Embedding's gradient comes from TensorFlow as `tf.IndexedSlices` with one row per token
    of the batch, repeated tokens repeated. Keras 3's optimizers apply their element-wise ops
    to those rows one by one: Adam's and RMSprop's `square(gradient)` (and Adagrad's) add up
    the squares of the rows instead of squaring their sum, and `clipnorm` measures the rows'
    norm, not the gradient's. So on the TensorFlow backend an Embedding does not get the Adam
    step of its gradient: on samples/seq2seq_reverse.graph, from the same weights and batch,
    one Adam step (learning rate 0.01, so at most 0.01 per value) left embedding values up to
    0.033 away from the NumPy backend's, every other weight within 2e-7. Summed first, the
    gradient is the true one, the one `backends.numpy.optimizers` steps with; Keras 3's Adam
    updates every row of its slots (dense `m` and `v`) anyway (keras-team/keras#19992), so
    a dense gradient costs little.

    The optimizer stays a plain Keras optimizer (only this instance's `apply` is wrapped), so
    `.keras` files saved with it load without this project. `apply_gradients`, `model.fit`
    and a LossScaleOptimizer (mixed precision) all go through `apply`."""
    import tensorflow as tf

    apply = optimizer.apply

    def apply_dense(grads, trainable_variables=None):
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                 for g in grads]
        return apply(grads, trainable_variables)

    optimizer.apply = apply_dense
    return optimizer


@keras.saving.register_keras_serializable(package="netdesigner")
def sign_accuracy(y_true, y_pred):
    """Accuracy for the hinge loss (targets -1/1): do prediction and target have the same sign?"""
    y_true = keras.ops.cast(y_true, y_pred.dtype)
    return keras.ops.cast(keras.ops.equal(y_pred > 0, y_true > 0), "float32")


def accuracy_metric(settings: dict, output_shape: tuple, name: str = "accuracy"):
    """The accuracy the NumPy backend computes: sparse for integer targets, binary for one value
    per sample (threshold 0 on logits; sign agreement for the hinge loss), categorical
    otherwise."""
    loss = settings.get("loss", "")
    M = keras.metrics
    if loss == "sparse_categorical_crossentropy":
        return M.SparseCategoricalAccuracy(name=name)
    if tuple(output_shape)[-1:] == (1,) or loss == "binary_crossentropy":
        if loss == "hinge":
            return M.MeanMetricWrapper(sign_accuracy, name=name)
        threshold = 0.0 if settings.get("from_logits", False) else 0.5
        return M.BinaryAccuracy(name=name, threshold=threshold)
    return M.CategoricalAccuracy(name=name)


def make_metrics(settings: dict, output_shape: tuple) -> list:
    out = []
    for m in settings.get("metrics") or []:
        if m in ("accuracy", "acc"):
            out.append(accuracy_metric(settings, output_shape, m))
        elif m in ("mse", "mean_squared_error"):
            out.append(keras.metrics.MeanSquaredError(name=m))
        elif m in ("mae", "mean_absolute_error"):
            out.append(keras.metrics.MeanAbsoluteError(name=m))
        else:
            raise CompileError(f"unknown metric {m!r}: choose accuracy, mse or mae")
    return out


def metric_names(model: keras.Model, settings: dict) -> list[str]:
    """The metric names of the logs, as the NumPy backend names them."""
    names = [m for m in settings.get("metrics") or []]
    if len(model.outputs) == 1:
        return names
    return [f"{o}_{m}" for o in model.output_names for m in names]


def compile_model(model: keras.Model, settings: dict, *, jit_compile="auto",
                  steps_per_execution: int = 1) -> keras.Model:
    """`model.compile` with the loss, optimizer and metrics of the training settings."""
    shapes = [tuple(o.shape[1:]) for o in model.outputs]
    if len(shapes) == 1:
        loss, metrics = make_loss(settings), make_metrics(settings, shapes[0])
    else:
        loss = [make_loss(settings) for _ in shapes]
        metrics = [make_metrics(settings, s) for s in shapes]
    model.compile(optimizer=make_optimizer(settings), loss=loss, metrics=metrics,
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return model
