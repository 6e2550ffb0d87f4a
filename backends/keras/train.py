"""Training with the Keras backend: `fit`, `evaluate`, `predict`.

    result = fit(graph, split, graph.training, on_event=print)        # backends.runner calls this
    result.model                                                        # the trained keras.Model
    evaluate(result.model, split.x_test, split.y_test, graph.training,
             loop=result.loop)                                          # {"loss":, "accuracy":}

`fit` speaks the protocol of `backends.protocol` exactly as the NumPy backend does:

    train_begin -> (batch, every stats_every batches layer_stats)* -> epoch ... -> train_end

* It compiles the graph (`backends.keras.compiler`) on the chosen device or under the chosen
  tf.distribute strategy (`backends.keras.devices`: device auto|cpu|gpu|gpu:N, strategy
  none|mirrored|multi-worker, mixed precision), and trains with `model.fit` and a streaming
  callback (`StreamCallback`). Under the multi-worker strategy Keras 3's `model.fit` fails
  (keras-team/keras#20585), so training runs a custom loop there instead (`loop="custom"`):
  `strategy.run` over a `tf.function` step with a GradientTape and the Keras optimizer, over
  `strategy.experimental_distribute_dataset`; its events are the same.
* `fit` is four steps: `set_up` (devices, strategy, compiled model, starting weights),
  `training_data` (`backends.keras.data`), the loop (`model.fit` with the callback of
  `backends.keras.stream`, or `backends.keras.loop.CustomLoop`), `finish` (best weights back,
  weights saved, the end event, the FitResult). The custom loop comes back in the FitResult
  (`result.loop`): `evaluate` and `predict` need it for a model it trained.
* The data are shuffled every epoch with the NumPy backend's generator (seeded by the settings'
  seed), so both backends see the same batches in the same order. Batch events carry that
  batch's own loss and metrics; epoch events the averages over the epoch's samples and the
  validation loss and metrics after the epoch.
* `layer_stats` (at step 1 and then every `stats_every` steps; 0 turns them off) come from a
  fixed probe batch (`backends.keras.stats`).
* Early stopping (`early_stopping_patience` > 0) and `restore_best_weights` follow the NumPy
  backend (and Keras's EarlyStopping): stop after `patience` epochs without a lower validation
  loss (training loss without validation data); the best weights are put back however the run
  ends. `should_stop()` is polled after every batch (reason 'stopped'; the unfinished epoch gets
  no epoch event). A NaN or infinite loss ends the run (reason 'nan', with the protocol's
  NAN_ADVICE in the end event's `message`).
* `initial_weights` ({"node/name": array}) or `weights_in` (an `.npz`, or a Keras
  `.weights.h5`) start from given weights; `weights_out` saves the trained ones as `.npz` (the
  format both backends read).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from netdesigner.backends import protocol
from netdesigner.backends.data import as_list, read_batch, split_arrays, streamed
from netdesigner.backends.statistics import (chunks, fit_statistics, given_statistics,
                                             normalization_nodes)

from . import devices as devices_module
from .compiler import compile_graph, compile_model, flatten_design, make_loss, metric_names
from .data import (EpochOrders, inputs_for, pack, permutations, streamed_dataset,
                   streamed_train_dataset, targets, train_dataset)
from .loop import CustomLoop
from .stream import StreamState, make_callback
from .weights import load_any, save_npz, set_weights

BACKEND = "keras"
EVAL_BATCH = 1024
LOOPS = ("auto", "fit", "custom")


# -- set-up -------------------------------------------------------------------------------------

@dataclass
class SetUp:
    """Where and how a run trains: the device / strategy context, the compiled model (its
    weights loaded), the loop that trains it."""
    ctx: object
    model: object
    loop: str
    flat: object


def set_up(graph, settings: dict, *, device, strategy, mixed_precision, devices, loop,
           jit_compile, weights_in, initial_weights) -> SetUp:
    # the strategy first: the multi-worker one must exist before TensorFlow runs anything
    ctx = devices_module.setup(device, strategy, mixed_precision, devices)
    if loop not in LOOPS:
        raise ValueError(f"unknown training loop {loop!r}: use {', '.join(LOOPS)}")
    if loop == "auto":
        loop = "custom" if ctx.strategy_name == "multi-worker" else "fit"
    flat = flatten_design(graph)
    with ctx.scope():
        model = compile_graph(flat, settings, compile=(loop == "fit"),
                              dtype_policy=ctx.policy, jit_compile=jit_compile)
    load_any(model, weights_in)
    load_any(model, initial_weights)
    return SetUp(ctx, model, loop, flat)


# -- data ---------------------------------------------------------------------------------------

@dataclass
class TrainingData:
    x_train: list
    y_train: list
    validation: tuple | None         # (x_val, y_val) lists, None without validation data
    batch_size: int
    steps_per_epoch: int
    perms: object                    # every epoch's order of the training samples (an array,
                                     # or EpochOrders for streamed data)

    @property
    def n(self) -> int:
        return len(self.x_train[0])


def training_data(model, split, settings: dict) -> TrainingData:
    x_train, y_train, x_val, y_val = split_arrays(split)
    if not streamed(x_train + y_train):       # streamed rows stay on disk (rows_dataset)
        x_train, y_train = inputs_for(model, x_train), targets(y_train)
    if not x_train or len(x_train[0]) == 0:
        raise ValueError("there is no training data")
    validation = None
    if x_val and len(x_val[0]) > 0:
        validation = ((x_val, y_val) if streamed(x_val + y_val)
                      else (inputs_for(model, x_val), targets(y_val)))
    n = len(x_train[0])
    epochs = int(settings.get("epochs", 10))
    batch_size = max(1, min(int(settings.get("batch_size", 32)), n))
    orders = (EpochOrders(n, epochs, settings.get("seed", 0)) if streamed(x_train)
              else permutations(n, epochs, settings.get("seed", 0)))
    return TrainingData(x_train, y_train, validation, batch_size, -(-n // batch_size), orders)


# -- fit ----------------------------------------------------------------------------------------

def fit_normalizations(model, flat, x_train: list, initial_weights=None,
                       weights_in=None) -> dict:
    """Fit the statistics of the model's Normalization layers on the training split (those the
    starting weights do not bring) as the NumPy backend does (`backends.statistics`), load
    them, and return them."""
    if not normalization_nodes(flat):
        return {}
    import keras

    def features(node, fitted):
        set_weights(model, fitted, strict=False)
        upstream = keras.Model(model.inputs, model.get_layer(node).input)
        for xb in zip(*[chunks(x) for x in x_train]):
            xb = [np.asarray(x) for x in xb]
            yield np.asarray(upstream(xb, training=False))      # model.inputs is a list

    fitted = fit_statistics(flat, x_train, features,
                            given_statistics(flat, initial_weights, weights_in))
    set_weights(model, fitted, strict=False)
    return fitted


def probe_loss(settings: dict):
    """The training loss summed over the outputs, for the layer statistics' gradients."""
    loss = make_loss(settings)

    def fn(ys, preds):
        total = 0.0
        for y, p in zip(ys, preds):
            total = total + loss(y, p)
        return total
    return fn


def fit(graph, split, settings: dict | None = None, on_event=None, should_stop=None,
        stats_every: int = protocol.STATS_EVERY, initial_weights=None, *,
        weights_in=None, weights_out=None, device: str | None = "auto",
        strategy: str | None = "none", mixed_precision=False, loop: str = "auto",
        devices: list | None = None, probe_size: int | None = None,
        validation_batch_size: int | None = None, jit_compile="auto") -> protocol.FitResult:
    """Train `graph` (blocks allowed) on `split` (a `backends.data.Split`, or a dict / tuple of
    x_train, y_train[, x_val, y_val]; lists of arrays for several inputs or outputs).

    `device`: auto | cpu | gpu | gpu:N; `strategy`: none | mirrored | multi-worker (TF_CONFIG);
    `mixed_precision`: True or a Keras policy name; `loop`: auto | fit | custom (auto: model.fit,
    but the custom loop under multi-worker)."""
    settings = dict(graph.training if settings is None else settings)
    emit = on_event if on_event is not None else (lambda e: None)
    run = set_up(graph, settings, device=device, strategy=strategy,
                 mixed_precision=mixed_precision, devices=devices, loop=loop,
                 jit_compile=jit_compile, weights_in=weights_in,
                 initial_weights=initial_weights)
    ctx, model = run.ctx, run.model
    data = training_data(model, split, settings)
    fit_normalizations(model, run.flat, data.x_train, initial_weights, weights_in)
    names = metric_names(model, settings)
    probe = None
    if stats_every:
        from .stats import PROBE_SIZE, LayerProbe
        k = min(data.batch_size, probe_size or PROBE_SIZE, data.n)
        with ctx.scope():
            probe = LayerProbe(model, probe_loss(settings),
                               inputs_for(model, [x[:k] for x in data.x_train]),
                               targets([y[:k] for y in data.y_train]))
    state = StreamState(model, emit, should_stop, stats_every, probe, names, settings, data.n,
                        data.batch_size, data.validation is not None)
    description = ctx.description + (f", {ctx.policy}" if ctx.policy else "")
    emit(protocol.train_begin(BACKEND, description, len(data.perms), data.steps_per_epoch,
                              data.n, run.flat.topological_order()))
    started = time.perf_counter()
    custom = None
    try:
        if run.loop == "fit":
            fit_loop(ctx, model, data, state, validation_batch_size)
        else:
            custom = CustomLoop(model, ctx, settings, data.batch_size)
            custom.run(state, data.x_train, data.y_train, data.perms, data.validation)
    finally:
        state.close()                  # the last report's events, before train_end
    return finish(model, state, weights_out, emit, time.perf_counter() - started,
                  description, ctx.strategy_name, run.loop, custom)


def fit_loop(ctx, model, data: TrainingData, state: StreamState,
             validation_batch_size: int | None) -> None:
    """Keras's own `model.fit`, streaming through `state`."""
    with ctx.scope():
        if streamed(data.x_train):
            dataset = streamed_train_dataset(model, data.x_train, data.y_train, data.perms,
                                             data.batch_size)
        else:
            dataset = train_dataset(data.x_train, data.y_train, data.perms, data.batch_size)
    validation = None
    if data.validation is not None and streamed(data.validation[0]):
        validation = streamed_dataset(model, *data.validation,
                                      validation_batch_size or data.batch_size)
    elif data.validation is not None:
        validation = (pack(data.validation[0]), pack(data.validation[1]))
    if len(data.perms) > 0:
        with ctx.scope():
            model.fit(dataset, epochs=len(data.perms), steps_per_epoch=data.steps_per_epoch,
                      validation_data=validation,
                      validation_batch_size=validation_batch_size or data.batch_size,
                      callbacks=[make_callback(state)], shuffle=False, verbose=0)


def finish(model, state: StreamState, weights_out, emit, seconds: float, description: str,
           strategy_name: str, loop: str, custom) -> protocol.FitResult:
    """Best weights back, the weights saved (unless they went non-finite), the end event."""
    if state.restore and state.best_weights is not None:
        model.set_weights(state.best_weights)
    if weights_out and (state.reason != "nan" or all(
            np.isfinite(w).all() for w in model.get_weights())):
        save_npz(model, weights_out)
    end = protocol.train_end(state.reason, state.epochs_run, state.best_epoch, state.best_val,
                             state.history)
    if state.message:
        end["message"] = state.message
    emit(end)
    return protocol.FitResult(model, state.history, state.reason, state.epochs_run,
                              state.best_epoch, state.best_val, end, state.message, seconds,
                              state.step, description, strategy_name,
                              {"stats_seconds": state.stats_seconds,
                               "stats_times": state.stats_times, "loop": loop},
                              loop=custom)


# -- evaluation -------------------------------------------------------------------------------

def evaluate(model, x, y, settings: dict | None = None, batch_size: int = EVAL_BATCH, *,
             loop: CustomLoop | None = None) -> dict:
    """{"loss": ..., metric: ...} of `model` on (x, y), in inference mode. A model trained by
    the custom loop is evaluated by that `loop` (`result.loop`: Keras's evaluate fails under
    the multi-worker strategy). A model that is not compiled yet (built with compile=False) is
    compiled with `settings` first; the metrics reported are those of `settings` (all the
    model's, without settings)."""
    rows = streamed(x)
    xs, ys = (as_list(x), as_list(y)) if rows else (inputs_for(model, as_list(x)),
                                                    targets(as_list(y)))
    if not len(xs[0]):
        return {}
    if loop is not None:
        loss, metrics = loop.evaluate(xs, ys, read_batch(xs, batch_size))
        return {"loss": loss, **metrics}
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        if settings is None:
            raise ValueError("the model is not compiled: give the training settings")
        compile_model(model, dict(settings))
    if rows:
        out = model.evaluate(streamed_dataset(model, xs, ys, read_batch(xs, batch_size)),
                             verbose=0,
                             return_dict=True)
    else:
        out = model.evaluate(pack(xs), pack(ys), batch_size=batch_size, verbose=0,
                             return_dict=True)
    if settings is not None:
        names = metric_names(model, settings)
    else:
        names = [k for k in out if k != "loss" and not k.endswith("_loss")]
    result = {"loss": float(out["loss"])}
    result.update({k: float(out[k]) for k in names if k in out})
    return result


def predict(model, x, batch_size: int = EVAL_BATCH, *, loop: CustomLoop | None = None):
    """The model's outputs on x (inference mode): one array, or a list for several outputs.
    With the custom `loop` that trained it, batches go through the model's call (no
    `model.predict` under the multi-worker strategy)."""
    if streamed(x) and loop is None:
        return model.predict(streamed_dataset(model, as_list(x), None,
                                              read_batch(x, batch_size)), verbose=0)
    if loop is not None:
        xs, parts = as_list(x), []
        batch_size = read_batch(xs, batch_size)        # streamed rows: read batch by batch
        for start in range(0, len(xs[0]), batch_size):
            out = model(pack(inputs_for(model, [v[start:start + batch_size] for v in xs])),
                        training=False)
            parts.append([np.asarray(o) for o in (out if isinstance(out, (list, tuple))
                                                   else [out])])
        outs = [np.concatenate(p) for p in zip(*parts)]
        return outs[0] if len(outs) == 1 else outs
    xs = inputs_for(model, as_list(x))
    return model.predict(pack(xs), batch_size=batch_size, verbose=0)
