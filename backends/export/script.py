"""A readable, standalone Python script that rebuilds a design with the Keras functional API.

The script imports only Keras, TensorFlow and NumPy (never this project). It is written in two
parts:

* generated here for the design: the constants (weights and data files beside the script,
  batch size, epochs, seed), `build_model()` — one line per layer, in the order data flows,
  each layer named after its node, with the arguments of the compiled layer that differ from
  Keras's defaults (checked: `keras_code.LayerLines`) — and `make_loss` / `compile_model`, the
  loss, optimizer (with its parameters and clipping) and metrics of its training settings;
* copied from `templates/supervised_runtime.py`, as written there: `make_strategy(name)` (none |
  mirrored | multi-worker), `custom_train` (the loop for the multi-worker strategy, where Keras
  3's fit fails: keras-team/keras#20585), `train`, `load_data` and `main`, the command line:
  `python net.py [--weights W.weights.h5] [--data D.npz] [--epochs N] [--strategy ...]
  [--save OUT.weights.h5]`. Without --data it builds the model, loads the weights beside it
  when there are any, and prints its summary.

GAN designs get their own script (`gan_script`).
"""
from __future__ import annotations

from netdesigner.backends.keras.compiler import (build_model, flatten_design, make_loss,
                                                 make_metrics, model_name, output_refs)

from .codegen import (MAIN_GUARD, Names, constants, quiet_start_source, render_value,
                      script_header, template_functions, template_imports)
from .gan_script import gan_script_source
from .keras_code import SIGN_ACCURACY_SOURCE, LayerLines, optimizer_source
from .templates import decoding_runtime, supervised_runtime


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
                  check: bool = True, script_name: str = "", raw: dict | None = None,
                  decode: dict | None = None) -> str:
    """The script's text for a design (blocks allowed). `weights_file` / `data_file`: names of
    files beside the script that it loads by default. `model`: the compiled model, when the
    caller has it already (else it is compiled here, without weights). `raw`: the fitted
    preprocessing (`serving.Preprocessing.describe()`), written into the script as numbers and
    strings, so that `--predict` takes raw samples. `decode`: a design trained with teacher
    forcing (`backends.decoding.decoding_plan`): `--predict` decodes greedily, with the same
    loop as the designer (`templates/decoding_runtime.py`, copied in)."""
    settings = dict(graph.training if settings is None else settings)
    if settings.get("mode") == "gan":          # two networks and their loop
        return gan_script_source(graph, settings, weights_file=weights_file,
                                 data_file=data_file, source_name=source_name, model=model,
                                 check=check, script_name=script_name)
    flat = flatten_design(graph)
    if model is None:
        model = build_model(flat, name=model_name(graph))
    names = Names()
    layers = LayerLines(flat, model, names, check=check)
    ins = [names.get(i, 0) for i in flat.inputs()]
    outs = [names.get(node, port) for node, port in output_refs(flat)]
    in_text = ins[0] if len(ins) == 1 else "[" + ", ".join(ins) + "]"
    out_text = outs[0] if len(outs) == 1 else "[" + ", ".join(outs) + "]"

    shapes = [tuple(o.shape[1:]) for o in model.outputs]
    metric_lists = [[_metric_source(m) for m in make_metrics(settings, s)] for s in shapes]
    uses_sign = any("sign_accuracy" in m for ms in metric_lists for m in ms)
    if len(shapes) == 1:
        loss_text = "make_loss()"
        metrics_text = "[" + ", ".join(metric_lists[0]) + "]"
    else:
        loss_text = "[" + ", ".join(["make_loss()"] * len(shapes)) + "]"
        metrics_text = "[" + ", ".join("[" + ", ".join(ms) + "]" for ms in metric_lists) + "]"

    batch_size, epochs = int(settings.get("batch_size", 32)), int(settings.get("epochs", 10))
    usage = _USAGE.format(batch_size=batch_size, epochs=epochs,
                          script=script_name or "model.py")
    if decode is not None:
        usage += _DECODE_USAGE.format(script=script_name or "model.py", **decode)
    custom = layers.custom + ([SIGN_ACCURACY_SOURCE] if uses_sign else [])
    generated = _GENERATED.format(
        constants=constants({"WEIGHTS": weights_file, "DATA": data_file,
                             "BATCH_SIZE": batch_size, "EPOCHS": epochs,
                             "SEED": int(settings.get("seed", 0)), "RAW": raw,
                             "DECODE": None if decode is None else {
                                 k: decode[k] for k in ("inputs", "decoder_input",
                                                        "source_input", "steps", "start")}}),
        body=layers.body(), inputs=in_text, outputs=out_text, name=render_value(model.name),
        optimizer=optimizer_source(settings), loss=_loss_source(settings), losses=loss_text,
        metrics=metrics_text)
    text = "\n\n".join([
        script_header(str(graph.metadata.get("title") or model.name), source_name,
                      str(graph.metadata.get("description") or "").strip(), usage)
        + "\n" + quiet_start_source() + "\n\n" + template_imports(supervised_runtime),
        *custom, generated, template_functions(decoding_runtime),
        template_functions(supervised_runtime)]) + MAIN_GUARD
    compile(text, source_name or "<script>", "exec")      # a syntax error is a bug here
    return text


_USAGE = '''
Rebuilds the network with the Keras functional API, with its training set-up (loss, optimizer,
metrics), and trains it on any tf.distribute strategy. Needs only TensorFlow and Keras 3.

    python {script} --summary        # build it (with the weights beside it), print it
    python {script} --data data.npz --epochs {epochs} --strategy mirrored --save out.weights.h5
    python {script} --predict raw_samples.npy    # class names (or outputs) of raw samples

The data file holds x_train and y_train (and optionally x_val, y_val) arrays, prepared as the
network expects them; the default batch size is {batch_size}. --strategy: none (one device),
mirrored (every GPU of this machine) or multi-worker (the cluster in TF_CONFIG; every worker
runs this script). --predict takes samples as they are in the data set: RAW below holds the
scaling fitted on the training split and the class names.
'''

_DECODE_USAGE = '''
Trained with teacher forcing, its decoder ({decoder_input}) read the right previous token; to
use it, --predict decodes greedily: {decoder_input} starts with the start token {start} and
then reads the network's own previous prediction, {steps} steps.

    python {script} --predict sources.npy    # one source sequence ({source_input}) a row
'''

# the part of the script written for the design; the rest comes from supervised_runtime
_GENERATED = '''\
# files beside this script: the trained weights (.weights.h5) and the prepared data (.npz)
{constants}


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
'''
