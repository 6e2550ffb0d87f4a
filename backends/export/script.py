"""A readable, standalone Python script that rebuilds a design with the Keras functional API.

The script imports only Keras, TensorFlow and NumPy (never this project). It holds:

* `build_model()` — one line per layer, in the order data flows, each layer named after its
  node; the arguments are those of the compiled layer that differ from Keras's defaults, so the
  model it builds has the same config (and parameter count) as `backends.keras.compile_graph`;
* `compile_model(model)` — the loss, optimizer (with its parameters and clipping) and metrics of
  the design's training settings;
* `make_strategy(name)` — none | mirrored | multi-worker (TF_CONFIG);
* `train(...)` — `model.fit`, or under the multi-worker strategy a custom loop (Keras 3's fit
  fails there: keras-team/keras#20585);
* a command line: `python net.py [--weights W.weights.h5] [--data D.npz] [--epochs N]
  [--strategy ...] [--save OUT.weights.h5]`. Without --data it builds the model, loads the
  weights beside it when there are any, and prints its summary.

Every layer line is checked while the script is written: the expression is evaluated and the
layer it makes must have the compiled layer's config, so a drift between the builders and the
writer fails here, not in a user's hands.
"""
from __future__ import annotations

import inspect
import keyword
import re

import keras

from netdesigner.backends.keras import layers as keras_layers
from netdesigner.backends.keras.radial import RBF
from netdesigner.backends.keras.compiler import (flatten_design, make_loss, make_metrics, make_optimizer,
                                     model_name, output_refs)
from netdesigner.graph.catalog import CATALOG

from . import ExportError

#: constructor arguments every layer takes besides its own
BASE_KWARGS = ("trainable", "dtype")

RESERVED = set(keyword.kwlist) | {"keras", "tf", "np", "model", "inputs", "outputs", "main",
                                  "build_model", "compile_model", "make_strategy", "train",
                                  "Sampling", "sign_accuracy", "argparse", "os", "sys", "Path",
                                  "json", "print", "input", "list", "dict", "type", "len", "RBF"}


# -- values -------------------------------------------------------------------------------------

def render_value(value) -> str:
    """Python source for a config value (serialized Keras objects become constructor calls)."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        module = value.get("module") or "keras"
        if not module.startswith("keras"):
            raise ExportError(f"cannot write {value['class_name']} ({module}) as code")
        module = re.sub(r"\.src(\.[a-z_]+)*$", "", module) if ".src" in module else module
        cls = value["class_name"]
        config = value["config"] or {}
        if isinstance(config, dict):
            args = ", ".join(f"{k}={render_value(v)}" for k, v in config.items())
        else:
            args = render_value(config)
        return f"{module}.{cls}({args})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_value(k)}: {render_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def _ser(value):
    return keras.saving.serialize_keras_object(value) if not isinstance(
        value, (str, int, float, bool, type(None), tuple, list, dict)) else value


def _init_params(cls) -> tuple[list[str], set[str]]:
    """(required argument names, all argument names) of a layer class's constructor."""
    sig = inspect.signature(cls.__init__)
    required, names = [], set()
    for p in list(sig.parameters.values())[1:]:
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        names.add(p.name)
        if p.default is p.empty:
            required.append(p.name)
    return required, names


def _class_path(layer) -> str:
    cls = type(layer)
    if isinstance(layer, keras_layers.Sampling):
        return "Sampling"
    if isinstance(layer, RBF):
        return "RBF"
    if getattr(keras.layers, cls.__name__, None) is cls:
        return f"keras.layers.{cls.__name__}"
    raise ExportError(f"{layer.name}: a {cls.__name__} layer cannot be written as code")


def layer_parts(layer, name: str | None = None) -> tuple[str, list[str]]:
    """(class path, ["arg=value", ...]) of the constructor call that makes a layer with
    `layer`'s config: its required arguments, those that differ from Keras's defaults, and its
    name."""
    cls = type(layer)
    path = _class_path(layer)
    config = layer.get_config()
    required, names = _init_params(cls)
    args: dict[str, str] = {}
    ref_kwargs = {}
    for r in required:
        if r == "layer":
            inner = layer.forward_layer if isinstance(layer, keras.layers.Bidirectional) \
                else layer.layer
            inner_name = inner.name
            if isinstance(layer, keras.layers.Bidirectional) and inner_name.startswith("forward_"):
                inner_name = inner_name[len("forward_"):]
            args[r] = layer_source(inner, inner_name)
            ref_kwargs[r] = eval(args[r], {"keras": keras})
        else:
            if r not in config:
                raise ExportError(f"{layer.name}: no {r!r} in its config")
            args[r] = render_value(config[r])
            ref_kwargs[r] = config[r]
    # arguments whose default depends on others (a pooling's strides follow its pool size):
    # add what still differs until the reference made from the arguments agrees
    for _ in range(4):
        reference = cls(**ref_kwargs).get_config()
        added = False
        for key, value in config.items():
            if key in args or key in ("name", "layer", "backward_layer"):
                continue
            if key not in names and key not in BASE_KWARGS:
                continue                     # built state (shapes), not an argument
            if _ser(value) == _ser(reference.get(key)):
                continue
            args[key] = render_value(value)
            ref_kwargs[key] = eval(args[key], {"keras": keras})
            added = True
        if not added:
            break
    args["name"] = render_value(name or layer.name)
    return path, [f"{k}={v}" for k, v in args.items()]


def layer_source(layer, name: str | None = None) -> str:
    """`keras.layers.X(arg=value, ..., name="...")` that makes a layer with `layer`'s config."""
    path, args = layer_parts(layer, name)
    return f"{path}({', '.join(args)})"


# -- names ----------------------------------------------------------------------------------------

class Names:
    """Python variable names for the tensors: the node id, `<node>_<port>` for extra ports."""

    def __init__(self):
        self.taken: set[str] = set(RESERVED)
        self.of: dict = {}

    def get(self, node: str, port: int) -> str:
        key = (node, port)
        if key not in self.of:
            base = node if port == 0 else f"{node}_{port}"
            if not base.isidentifier():
                base = re.sub(r"\W", "_", base)
            if base in self.taken:
                base += "_"
            while base in self.taken:
                base += "_"
            self.taken.add(base)
            self.of[key] = base
        return self.of[key]


# -- the script -----------------------------------------------------------------------------------

# the custom Sampling layer, copied as it is (its class needs only keras)
SAMPLING_SOURCE = "\n\n" + inspect.getsource(keras_layers.Sampling)

SIGN_ACCURACY_SOURCE = '''

@keras.saving.register_keras_serializable(package="netdesigner")
def sign_accuracy(y_true, y_pred):
    """Accuracy for the hinge loss (targets -1/1): same sign as the target?"""
    y_true = keras.ops.cast(y_true, y_pred.dtype)
    return keras.ops.cast(keras.ops.equal(y_pred > 0, y_true > 0), "float32")
'''


# the custom RBF layer, copied as it is (its module needs only keras)
RBF_SOURCE = "\n\n" + inspect.getsource(RBF)


def _call_args(type_id: str, ins: list[str]) -> str:
    """How the layer is applied to its inputs (as backends.keras.layers.call_layer does)."""
    type_id = CATALOG.resolve(type_id)
    if type_id in keras_layers.LIST_INPUT:
        return f"([{', '.join(ins)}])"
    if type_id == "MultiHeadAttention":
        key = ins[2] if len(ins) > 2 else "None"
        return f"(query={ins[0]}, value={ins[1]}, key={key})"
    return f"({ins[0]})"


def _statement(target: str, path: str, args: list[str], call: str, indent: int = 4,
               width: int = 99) -> str:
    """`target = path(args)call`, on one line when it fits, else with the arguments packed on
    indented lines:

        conv2d_1 = keras.layers.Conv2D(
            filters=16, kernel_size=(3, 3), padding="same", name="conv2d_1"
        )(input_1)
    """
    pad = " " * indent
    line = f"{pad}{target} = {path}({', '.join(args)}){call}"
    if len(line) <= width:
        return line
    inner = pad + "    "
    rows, current = [], ""
    for a in args:
        piece = a + ","
        if current and len(inner) + len(current) + 1 + len(piece) > width:
            rows.append(inner + current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        rows.append(inner + current)
    return f"{pad}{target} = {path}(\n" + "\n".join(rows) + f"\n{pad}){call}"


def _optimizer_source(settings: dict) -> str:
    opt = make_optimizer(settings)
    from netdesigner.graph.training import OPTIMIZERS
    name = settings.get("optimizer", "adam")
    params = {**OPTIMIZERS[name].params.defaults(), **(settings.get("optimizer_params") or {})}
    args = [f"{k}={render_value(v if isinstance(v, bool) else float(v))}"
            for k, v in params.items()]
    clip = float(settings.get("clip_norm", 0.0) or 0.0)
    if clip > 0:
        args.append(f"clipnorm={clip!r}")
    text = f"keras.optimizers.{type(opt).__name__}({', '.join(args)})"
    if len(text) > 80:
        text = (f"keras.optimizers.{type(opt).__name__}(\n            "
                + ",\n            ".join(args) + ",\n        )")
    return text


def _loss_source(settings: dict) -> str:
    loss = make_loss(settings)
    args = []
    name = settings.get("loss")
    if name in ("binary_crossentropy", "categorical_crossentropy",
                "sparse_categorical_crossentropy"):
        args.append(f"from_logits={bool(settings.get('from_logits', False))!r}")
    if name == "huber":
        args.append(f"delta={float((settings.get('loss_params') or {}).get('delta', 1.0))!r}")
    args.append("reduction=reduction")
    return f"keras.losses.{type(loss).__name__}({', '.join(args)})"


def _metric_source(metric) -> str:
    cls = type(metric).__name__
    if cls == "MeanMetricWrapper":
        return f"keras.metrics.MeanMetricWrapper(sign_accuracy, name={render_value(metric.name)})"
    args = [f"name={render_value(metric.name)}"]
    if cls == "BinaryAccuracy":
        args.append(f"threshold={float(metric._fn_kwargs.get('threshold', 0.5))!r}")
    return f"keras.metrics.{cls}({', '.join(args)})"


def script_source(graph, settings: dict | None = None, *, weights_file: str | None = None,
                  data_file: str | None = None, source_name: str = "", model=None,
                  check: bool = True, script_name: str = "") -> str:
    """The script's text for a design (blocks allowed). `weights_file` / `data_file`: names of
    files beside the script that it loads by default. `model`: the compiled model, when the
    caller has it already (else it is compiled here, without weights)."""
    from netdesigner.backends.keras.compiler import build_model
    settings = dict(graph.training if settings is None else settings)
    if settings.get("mode") == "gan":          # two networks and their loop: gan_script.py
        from .gan_script import gan_script_source
        return gan_script_source(graph, settings, weights_file=weights_file,
                                 data_file=data_file, source_name=source_name, model=model,
                                 check=check, script_name=script_name)
    flat = flatten_design(graph)
    if model is None:
        model = build_model(flat, name=model_name(graph))
    names = Names()
    lines = []
    uses_sampling = False
    uses_rbf = False
    for n in flat.topological_order():
        node = flat.node(n)
        layer = model.get_layer(n)
        if node.type == "Input":
            p = node.params
            lines.append(_statement(names.get(n, 0), "keras.Input", [
                f"shape={render_value(tuple(p['shape']))}", f"dtype={render_value(p['dtype'])}",
                f"name={render_value(n)}"], ""))
            continue
        path, args = layer_parts(layer)
        if check:
            _check_layer(layer, f"{path}({', '.join(args)})")
        uses_sampling |= isinstance(layer, keras_layers.Sampling)
        uses_rbf |= isinstance(layer, RBF)
        ins = [names.get(e.source, e.source_port) for e in flat.in_edges(n)]
        count = flat.output_count(n)
        outs = ", ".join(names.get(n, port) for port in range(count))
        lines.append(_statement(outs, path, args, _call_args(node.type, ins)))
    ins = [names.get(i, 0) for i in flat.inputs()]
    outs = [names.get(node, port) for node, port in output_refs(flat)]
    in_text = ins[0] if len(ins) == 1 else "[" + ", ".join(ins) + "]"
    out_text = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"

    shapes = [tuple(o.shape[1:]) for o in model.outputs]
    metric_lists = [[_metric_source(m) for m in make_metrics(settings, s)] for s in shapes]
    uses_sign = any("sign_accuracy" in m for ms in metric_lists for m in ms)
    loss = _loss_source(settings)
    if len(shapes) == 1:
        loss_text = "make_loss()"
        metrics_text = "[" + ", ".join(metric_lists[0]) + "]"
    else:
        loss_text = "[" + ", ".join(["make_loss()"] * len(shapes)) + "]"
        metrics_text = "[" + ", ".join("[" + ", ".join(ms) + "]" for ms in metric_lists) + "]"

    title = str(graph.metadata.get("title") or model.name)
    description = str(graph.metadata.get("description") or "").strip()
    header = f'"""{title}'
    if source_name:
        header += f" - exported by netdesigner from {source_name}"
    header += ".\n"
    if description:
        header += "\n" + _paragraph(description) + "\n"
    header += _USAGE.format(batch_size=int(settings.get("batch_size", 32)),
                            epochs=int(settings.get("epochs", 10)),
                            script=script_name or "model.py")
    header += '"""\n'

    body = "\n".join(lines)
    text = header + _IMPORTS
    if uses_sampling:
        text += SAMPLING_SOURCE
    if uses_rbf:
        text += RBF_SOURCE
    if uses_sign:
        text += SIGN_ACCURACY_SOURCE
    text += _TEMPLATE.format(
        body=body, inputs=in_text, outputs=out_text, name=render_value(model.name),
        optimizer=_optimizer_source(settings), loss=loss, losses=loss_text,
        metrics=metrics_text,
        batch_size=int(settings.get("batch_size", 32)), epochs=int(settings.get("epochs", 10)),
        seed=int(settings.get("seed", 0)),
        weights=render_value(weights_file) if weights_file else "None",
        data=render_value(data_file) if data_file else "None",
        outputs_count=len(outs))
    compile(text, source_name or "<script>", "exec")      # a syntax error is a bug here
    return text


def _paragraph(text: str, width: int = 95) -> str:
    words, lines, current = text.split(), [], ""
    for w in words:
        if current and len(current) + 1 + len(w) > width:
            lines.append(current)
            current = w
        else:
            current = f"{current} {w}" if current else w
    if current:
        lines.append(current)
    return "\n".join(lines)


def _unbuilt(config):
    """A config without the build state of nested layers (their `build_config`)."""
    if isinstance(config, dict):
        return {k: _unbuilt(v) for k, v in config.items() if k != "build_config"}
    if isinstance(config, list):
        return [_unbuilt(v) for v in config]
    return config


def _check_layer(layer, code: str) -> None:
    namespace = {"keras": keras, "Sampling": keras_layers.Sampling, "RBF": RBF}
    made = eval(code, namespace)
    want = _unbuilt(dict(layer.get_config()))
    got = _unbuilt(dict(made.get_config()))
    # state that only exists once a layer is built (MultiHeadAttention's shapes)
    for key in set(want) - set(got):
        want.pop(key)
    if _ser(want) != _ser(got):
        diff = sorted(k for k in set(want) | set(got) if _ser(want.get(k)) != _ser(got.get(k)))
        raise ExportError(f"{layer.name}: the written code makes a different layer "
                          f"({', '.join(diff)} differ): {code}")


_USAGE = '''
Rebuilds the network with the Keras functional API, with its training set-up (loss, optimizer,
metrics), and trains it on any tf.distribute strategy. Needs only TensorFlow and Keras 3.

    python {script} --summary        # build it (with the weights beside it), print it
    python {script} --data data.npz --epochs {epochs} --strategy mirrored --save out.weights.h5

The data file holds x_train and y_train (and optionally x_val, y_val) arrays, prepared as the
network expects them; the default batch size is {batch_size}. --strategy: none (one device),
mirrored (every GPU of this machine) or multi-worker (the cluster in TF_CONFIG; every worker
runs this script).
'''

_IMPORTS = '''
import argparse
import os

import numpy as np
import tensorflow as tf
import keras
'''

_TEMPLATE = '''

# files beside this script: the trained weights (.weights.h5) and the prepared data (.npz)
WEIGHTS = {weights}
DATA = {data}
BATCH_SIZE = {batch_size}
EPOCHS = {epochs}
SEED = {seed}


def build_model():
{body}
    return keras.Model(inputs={inputs}, outputs={outputs}, name={name})


def make_loss(reduction="sum_over_batch_size"):
    return {loss}


def compile_model(model):
    """The training set-up of the design: loss (summed over the outputs), optimizer, metrics."""
    model.compile(
        optimizer={optimizer},
        loss={losses},
        metrics={metrics},
    )
    return model


def make_strategy(name):
    """none: one device; mirrored: every GPU of this machine; multi-worker: TF_CONFIG's cluster."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def custom_train(strategy, model, x, y, epochs, batch_size):
    """The training loop for the multi-worker strategy, where Keras 3's model.fit fails
    (keras-team/keras#20585): strategy.run of a GradientTape step with the Keras optimizer."""
    n_out = {outputs_count}
    losses = [make_loss(reduction=None) for _ in range(n_out)]   # per-sample values
    optimizer = model.optimizer
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            preds = model(xb, training=True)
            preds = list(preds) if n_out > 1 else [preds]
            ys = list(yb) if n_out > 1 else [yb]
            per_sample = tf.add_n([tf.reduce_sum(tf.cast(fn(t, p), tf.float32))
                                   for fn, t, p in zip(losses, ys, preds)])
            count = tf.cast(tf.shape(preds[0])[0], tf.float32)
            total = tf.distribute.get_replica_context().all_reduce("sum", count)
            loss = per_sample / tf.maximum(total, 1.0)
            if model.losses:
                loss += tf.add_n(model.losses) / strategy.num_replicas_in_sync
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function
    def step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce("sum", per_replica, axis=None)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    for epoch in range(epochs):
        data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=SEED + epoch)
        data = strategy.experimental_distribute_dataset(
            data.batch(batch_size).with_options(options))
        total, steps = 0.0, 0
        for batch in data:
            total += float(step(batch))
            steps += 1
        print(f"epoch {{epoch + 1}}/{{epochs}}: loss {{total / max(steps, 1):.4f}}")


def train(strategy_name="none", x=None, y=None, validation=None, epochs=EPOCHS,
          batch_size=BATCH_SIZE, weights=WEIGHTS):
    strategy = make_strategy(strategy_name)
    with strategy.scope():
        model = compile_model(build_model())
    if weights and os.path.exists(weights):
        model.load_weights(weights)
    if x is not None:
        if strategy_name == "multi-worker":
            custom_train(strategy, model, x, y, epochs, batch_size)
        else:
            model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation)
    return model


def _load_data(path, n_inputs, n_outputs):
    with np.load(path) as d:
        def get(prefix, n):
            if n == 1:
                return d[prefix] if prefix in d else None
            found = [d[f"{{prefix}}_{{i}}"] for i in range(n) if f"{{prefix}}_{{i}}" in d]
            return tuple(found) if found else None
        x, y = get("x_train", n_inputs), get("y_train", n_outputs)
        xv, yv = get("x_val", n_inputs), get("y_val", n_outputs)
    return x, y, ((xv, yv) if xv is not None else None)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.path.join(here, WEIGHTS) if WEIGHTS else None,
                        help="start from these weights (a .weights.h5 file)")
    parser.add_argument("--data", default=os.path.join(here, DATA) if DATA else None,
                        help="an .npz with x_train, y_train[, x_val, y_val]")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--strategy", choices=("none", "mirrored", "multi-worker"),
                        default="none")
    parser.add_argument("--save", help="write the trained weights here (.weights.h5)")
    parser.add_argument("--summary", action="store_true", help="only build and summarise")
    args = parser.parse_args()
    keras.utils.set_random_seed(SEED)
    if args.summary or not args.data or not os.path.exists(args.data):
        model = train(weights=args.weights)
        model.summary()
        return
    n_in, n_out = len(build_model().inputs), {outputs_count}
    x, y, validation = _load_data(args.data, n_in, n_out)
    model = train(args.strategy, x, y, validation, args.epochs, args.batch_size, args.weights)
    if args.save:
        model.save_weights(args.save)


if __name__ == "__main__":
    main()
'''
