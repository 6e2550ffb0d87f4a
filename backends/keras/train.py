"""Training with the Keras backend: `fit`, `evaluate`, `predict`.

    result = fit(graph, split, graph.training, on_event=print)        # backends.runner calls this
    result.model                                                        # the trained keras.Model
    evaluate(result.model, split.x_test, split.y_test, graph.training)  # {"loss":, "accuracy":}

`fit` speaks the protocol of `backends.protocol` exactly as the NumPy backend does:

    train_begin -> (batch, every stats_every batches layer_stats)* -> epoch ... -> train_end

* It compiles the graph (`backends.keras.compiler`) on the chosen device or under the chosen
  tf.distribute strategy (`backends.keras.devices`: device auto|cpu|gpu|gpu:N, strategy
  none|mirrored|multi-worker, mixed precision), and trains with `model.fit` and a streaming
  callback (`StreamCallback`). Under the multi-worker strategy Keras 3's `model.fit` fails
  (keras-team/keras#20585), so training runs a custom loop there instead (`loop="custom"`):
  `strategy.run` over a `tf.function` step with a GradientTape and the Keras optimizer, over
  `strategy.experimental_distribute_dataset`; its events are the same.
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

import math
import time
import weakref

import numpy as np

from netdesigner.backends import protocol
from netdesigner.backends.data import as_list, split_arrays

from . import devices as devices_module
from .compiler import compile_graph, compile_model, make_loss, metric_names
from .compiler import flatten_design
from .weights import load_any, save_npz

BACKEND = "keras"
EVAL_BATCH = 1024
WEIGHT_CHECK_EVERY = 8          # batches between checks that every weight is still finite

#: models trained by the custom loop -> that loop: Keras's evaluate and predict fail under the
#: multi-worker strategy too, so `evaluate` goes through the loop's own distributed step
_CUSTOM_LOOPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# -- data -------------------------------------------------------------------------------------


def _inputs_for(model, xs: list) -> list:
    """Arrays in the dtypes of the model's inputs (float32 features, int32 token ids)."""
    out = []
    for t, x in zip(model.inputs, xs):
        x = np.asarray(x)
        want = np.dtype(t.dtype)
        if x.dtype != want:
            x = x.astype(want)
        out.append(x)
    return out


def _targets(ys: list) -> list:
    return [np.asarray(y) if np.asarray(y).dtype.kind in "iu" else
            np.asarray(y, dtype=np.float32) for y in ys]


def _pack(values: list):
    return values[0] if len(values) == 1 else tuple(values)


def permutations(n: int, epochs: int, seed: int) -> np.ndarray:
    """The shuffled order of every epoch: the NumPy backend's generator, so both backends see
    the same batches."""
    rng = np.random.default_rng([int(seed), 2])
    return np.stack([rng.permutation(n) for _ in range(epochs)]) if epochs else \
        np.zeros((0, n), np.int64)


def train_dataset(xs: list, ys: list, perms: np.ndarray, batch_size: int):
    """A tf.data pipeline: for each epoch in turn, its permutation cut into batches."""
    import tensorflow as tf
    xs_t = [tf.constant(x) for x in xs]
    ys_t = [tf.constant(y) for y in ys]
    order = tf.data.Dataset.from_tensor_slices(perms.astype(np.int64))
    batches = order.flat_map(lambda p: tf.data.Dataset.from_tensor_slices(p).batch(batch_size))

    def gather(idx):
        x = [tf.gather(t, idx) for t in xs_t]
        y = [tf.gather(t, idx) for t in ys_t]
        return _pack(x), _pack(y)

    return batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)


# -- the streaming callback -------------------------------------------------------------------

def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


class StreamState:
    """What both training loops share: events, history, early stopping, the end reason."""

    def __init__(self, model, emit, should_stop, stats_every, probe, names, settings,
                 n_train, batch_size, has_val):
        self.model = model
        self.emit = emit
        self.should_stop = should_stop
        self.stats_every = int(stats_every or 0)
        self.probe = probe
        self.names = names
        self.n = n_train
        self.batch_size = batch_size
        self.has_val = has_val
        self.patience = int(settings.get("early_stopping_patience", 0) or 0)
        self.restore = bool(settings.get("restore_best_weights", True)) and self.patience > 0
        self.history: dict = {"loss": [], **{k: [] for k in names}}
        if has_val:
            self.history["val_loss"] = []
            for k in names:
                self.history[f"val_{k}"] = []
        self.reason = "completed"
        self.message = ""
        self.step = 0
        self.epochs_run = 0
        self.best = None
        self.best_epoch = None
        self.best_val = None
        self.best_weights = None
        self.wait = 0
        self.stats_seconds = 0.0
        self.stats_times: list[float] = []       # seconds of each report (the first traces)
        self._finite = None
        self._pool = None                         # the thread that summarises reports
        self._pending = None                      # the report it is summarising
        self._pending_seconds = 0.0

    def weights_finite(self) -> bool:
        """Are all trainable weights finite? A NaN that reaches a ReLU can come out as 0 on
        TensorFlow's CPU kernels, so the loss stays finite while the weights are already
        NaN: the loss alone does not tell (checked on device, one bool comes back)."""
        if self._finite is None:
            import tensorflow as tf
            variables = list(self.model.trainable_variables)

            @tf.function
            def finite():
                return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v))
                                               for v in variables]))
            self._finite = finite if variables else (lambda: True)
        return bool(self._finite())

    @property
    def stopped(self) -> bool:
        return self.reason != "completed"

    def batch_size_of(self, b: int) -> int:
        return min(self.batch_size, self.n - b * self.batch_size)

    # -- layer statistics: TensorFlow now, NumPy in a thread during the next step ----------
    def _start_report(self) -> None:
        t0 = time.perf_counter()
        fetched = self.probe.fetch()
        arrays = self.probe.feature_arrays()
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="layer-stats")
        self._pending = self._pool.submit(self._summarise, self.step, fetched, arrays)
        self._pending_seconds = time.perf_counter() - t0

    def _summarise(self, step: int, fetched: tuple, arrays: dict) -> list:
        events = [protocol.layer_stats(step, *self.probe.summarise(*fetched))]
        maps = self.probe.feature_images(arrays)
        if maps:
            events.append(protocol.feature_maps(step, maps))
        return events

    def flush_stats(self) -> None:
        """Emit the report being summarised (waiting for it if need be): a report's events
        always come before the next batch's."""
        if self._pending is None:
            return
        t0 = time.perf_counter()
        events = self._pending.result()
        self._pending = None
        self.stats_times.append(self._pending_seconds + time.perf_counter() - t0)
        self.stats_seconds += self.stats_times[-1]
        for event in events:
            self.emit(event)

    def close(self) -> None:
        self.flush_stats()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def after_batch(self, epoch: int, b: int, loss: float, metrics: dict) -> bool:
        """Emit the batch (and stats) events; True when training must stop now."""
        self.flush_stats()
        self.step += 1
        self.emit(protocol.batch(epoch, b, self.step, loss, metrics))
        if protocol.is_bad_loss(loss) or (self.step % WEIGHT_CHECK_EVERY == 0
                                          and not self.weights_finite()):
            self.reason, self.message = "nan", protocol.NAN_ADVICE
            return True
        if self.probe is not None and self.stats_every and (
                self.step == 1 or self.step % self.stats_every == 0):
            self._start_report()
        if self.should_stop is not None and self.should_stop():
            self.reason = "stopped"
            return True
        return False

    def after_epoch(self, epoch: int, loss: float, metrics: dict, val_loss, val_metrics: dict,
                    seconds: float) -> bool:
        """Emit the epoch event, track the best epoch; True when training must stop."""
        self.flush_stats()
        if self.stopped:
            return True
        if not self.weights_finite():
            self.reason, self.message = "nan", protocol.NAN_ADVICE
            return True
        self.epochs_run = epoch + 1
        self.emit(protocol.epoch(epoch, loss, metrics, val_loss, val_metrics, seconds))
        self.history["loss"].append(float(loss))
        for k, v in metrics.items():
            self.history.setdefault(k, []).append(float(v))
        if self.has_val:
            self.history["val_loss"].append(None if val_loss is None else float(val_loss))
            for k, v in val_metrics.items():
                self.history.setdefault(f"val_{k}", []).append(float(v))
        monitored = val_loss if self.has_val else loss
        if _finite(monitored) and (self.best is None or monitored < self.best):
            self.best, self.best_epoch, self.wait = monitored, epoch, 0
            if self.has_val:
                self.best_val = float(val_loss)
            if self.restore:
                self.best_weights = [np.array(w) for w in self.model.get_weights()]
        else:
            self.wait += 1
            if self.patience > 0 and self.wait >= self.patience and epoch > 0:
                self.reason = "early_stopping"
                return True
        if self.should_stop is not None and self.should_stop():
            self.reason = "stopped"
            return True
        return False


def _make_callback(state: StreamState):
    import keras

    class StreamCallback(keras.callbacks.Callback):
        """Streams model.fit's progress as protocol events (see StreamState)."""

        def __init__(self):
            super().__init__()
            self.epoch = 0
            self.t0 = 0.0
            self.totals: dict = {}
            self.seen = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            self.t0 = time.perf_counter()
            self.totals = {}
            self.seen = 0

        def on_train_batch_end(self, batch, logs=None):
            # Keras's logs hold running means over the epoch (weighted by samples): take this
            # batch's own values back out of them
            k = state.batch_size_of(batch)
            seen = self.seen + k
            values = {}
            for name in ["loss", *state.names]:
                mean = float(logs[name]) if logs and name in logs else float("nan")
                total = mean * seen
                values[name] = (total - self.totals.get(name, 0.0)) / k
                self.totals[name] = total
            self.seen = seen
            loss = values.pop("loss")
            if state.after_batch(self.epoch, batch, loss, values):
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            val_loss = logs.get("val_loss") if state.has_val else None
            metrics = {k: float(logs[k]) for k in state.names if k in logs}
            val_metrics = {k: float(logs[f"val_{k}"]) for k in state.names
                           if f"val_{k}" in logs} if state.has_val else {}
            if state.after_epoch(epoch, float(logs.get("loss", float("nan"))), metrics,
                                 val_loss, val_metrics, time.perf_counter() - self.t0):
                self.model.stop_training = True

    return StreamCallback()


# -- fit --------------------------------------------------------------------------------------

def _probe_loss(settings: dict):
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
        validation_batch_size: int | None = None, jit_compile="auto",
        **options) -> protocol.FitResult:
    """Train `graph` (blocks allowed) on `split` (a `backends.data.Split`, or a dict / tuple of
    x_train, y_train[, x_val, y_val]; lists of arrays for several inputs or outputs).

    `device`: auto | cpu | gpu | gpu:N; `strategy`: none | mirrored | multi-worker (TF_CONFIG);
    `mixed_precision`: True or a Keras policy name; `loop`: auto | fit | custom (auto: model.fit,
    but the custom loop under multi-worker). Unknown `options` (meant for other backends) are
    ignored."""
    settings = dict(graph.training if settings is None else settings)
    emit = on_event if on_event is not None else (lambda e: None)
    # the strategy first: the multi-worker one must exist before TensorFlow runs anything
    ctx = devices_module.setup(device, strategy, mixed_precision, devices)
    if loop == "auto":
        loop = "custom" if ctx.strategy_name == "multi-worker" else "fit"
    if loop not in ("fit", "custom"):
        raise ValueError(f"unknown training loop {loop!r}: use auto, fit or custom")
    flat = flatten_design(graph)
    with ctx.scope():
        model = compile_graph(flat, settings, compile=(loop == "fit"),
                              dtype_policy=ctx.policy, jit_compile=jit_compile)
    load_any(model, weights_in)
    load_any(model, initial_weights)

    x_train, y_train, x_val, y_val = split_arrays(split)
    x_train, y_train = _inputs_for(model, x_train), _targets(y_train)
    if not x_train or len(x_train[0]) == 0:
        raise ValueError("there is no training data")
    has_val = bool(x_val) and len(x_val[0]) > 0
    if has_val:
        x_val, y_val = _inputs_for(model, x_val), _targets(y_val)
    n = len(x_train[0])
    epochs = int(settings.get("epochs", 10))
    batch_size = max(1, min(int(settings.get("batch_size", 32)), n))
    steps_per_epoch = -(-n // batch_size)
    names = metric_names(model, settings)

    probe = None
    if stats_every:
        from .stats import PROBE_SIZE, LayerProbe
        k = min(batch_size, probe_size or PROBE_SIZE, n)
        with ctx.scope():
            probe = LayerProbe(model, _probe_loss(settings), [x[:k] for x in x_train],
                               [y[:k] for y in y_train])
    state = StreamState(model, emit, should_stop, stats_every, probe, names, settings, n,
                        batch_size, has_val)
    description = ctx.description + (f", {ctx.policy}" if ctx.policy else "")
    emit(protocol.train_begin(BACKEND, description, epochs, steps_per_epoch, n,
                              flat.topological_order()))
    perms = permutations(n, epochs, settings.get("seed", 0))
    started = time.perf_counter()
    try:
        if loop == "fit":
            with ctx.scope():
                data = train_dataset(x_train, y_train, perms, batch_size)
            validation = (_pack(x_val), _pack(y_val)) if has_val else None
            if epochs > 0:
                with ctx.scope():
                    model.fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch,
                              validation_data=validation,
                              validation_batch_size=validation_batch_size or batch_size,
                              callbacks=[_make_callback(state)], shuffle=False, verbose=0)
        else:
            from .loop import CustomLoop
            runner = CustomLoop(model, ctx, settings, batch_size)
            runner.run(state, x_train, y_train, perms, (x_val, y_val) if has_val else None)
            _CUSTOM_LOOPS[model] = runner
    finally:
        state.close()                  # the last report's events, before train_end

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
                              state.best_epoch, state.best_val, end, state.message,
                              time.perf_counter() - started, state.step, description,
                              ctx.strategy_name,
                              {"stats_seconds": state.stats_seconds,
                               "stats_times": state.stats_times, "loop": loop})


# -- evaluation -------------------------------------------------------------------------------

def evaluate(model, x, y, settings: dict | None = None, batch_size: int = EVAL_BATCH) -> dict:
    """{"loss": ..., metric: ...} of `model` on (x, y), in inference mode. A model that is not
    compiled yet (trained by the custom loop, or built with compile=False) is compiled with
    `settings` first; the metrics reported are those of `settings` (all the model's, without
    settings)."""
    runner = _CUSTOM_LOOPS.get(model)
    if runner is not None:
        xs, ys = _inputs_for(model, as_list(x)), _targets(as_list(y))
        if not len(xs[0]):
            return {}
        loss, metrics = runner.evaluate(xs, ys, batch_size)
        return {"loss": loss, **metrics}
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        if settings is None:
            raise ValueError("the model is not compiled: give the training settings")
        compile_model(model, dict(settings))
    xs, ys = _inputs_for(model, as_list(x)), _targets(as_list(y))
    if not len(xs[0]):
        return {}
    out = model.evaluate(_pack(xs), _pack(ys), batch_size=batch_size, verbose=0,
                         return_dict=True)
    if settings is not None:
        names = metric_names(model, settings)
    else:
        names = [k for k in out if k != "loss" and not k.endswith("_loss")]
    result = {"loss": float(out["loss"])}
    result.update({k: float(out[k]) for k in names if k in out})
    return result


def predict(model, x, batch_size: int = EVAL_BATCH):
    """The model's outputs on x (inference mode): one array, or a list for several outputs."""
    xs = _inputs_for(model, as_list(x))
    if model in _CUSTOM_LOOPS:         # no model.predict under the multi-worker strategy
        parts = []
        for start in range(0, len(xs[0]), batch_size):
            out = model(_pack([v[start:start + batch_size] for v in xs]), training=False)
            parts.append([np.asarray(o) for o in (out if isinstance(out, (list, tuple))
                                                   else [out])])
        outs = [np.concatenate(p) for p in zip(*parts)]
        return outs[0] if len(outs) == 1 else outs
    return model.predict(_pack(xs), batch_size=batch_size, verbose=0)
