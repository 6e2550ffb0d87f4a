"""What both Keras training loops (model.fit and the custom loop) share: the stream of
protocol events, the history, early stopping, the end reason, the layer statistics' timing.

`StreamState` takes each batch's and epoch's figures (`after_batch`, `after_epoch`) and decides
whether training goes on; `make_callback` feeds it from `model.fit`, `loop.CustomLoop` directly.
"""
from __future__ import annotations

import math
import time

import numpy as np

from netdesigner.backends import protocol

WEIGHT_CHECK_EVERY = 8          # batches between checks that every weight is still finite


def is_finite(v) -> bool:
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
                    seconds: float, input_seconds: float | None = None,
                    train_seconds: float | None = None) -> bool:
        """Emit the epoch event, track the best epoch; True when training must stop."""
        self.flush_stats()
        if self.stopped:
            return True
        if not self.weights_finite():
            self.reason, self.message = "nan", protocol.NAN_ADVICE
            return True
        self.epochs_run = epoch + 1
        self.emit(protocol.epoch(epoch, loss, metrics, val_loss, val_metrics, seconds,
                                 input_seconds, train_seconds))
        self.history["loss"].append(float(loss))
        for k, v in metrics.items():
            self.history.setdefault(k, []).append(float(v))
        if self.has_val:
            self.history["val_loss"].append(None if val_loss is None else float(val_loss))
            for k, v in val_metrics.items():
                self.history.setdefault(f"val_{k}", []).append(float(v))
        monitored = val_loss if self.has_val else loss
        if is_finite(monitored) and (self.best is None or monitored < self.best):
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


def make_callback(state: StreamState):
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
            # the time between one step's end and the next one's start is the wait for the
            # batch (the tf.data iterator); the first includes starting the iterator
            self.input_seconds = 0.0
            self.last_end = self.t0
            self.train_end = None

        def on_train_batch_begin(self, batch, logs=None):
            self.input_seconds += time.perf_counter() - self.last_end

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
            self.last_end = self.train_end = time.perf_counter()   # our own work not counted

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            val_loss = logs.get("val_loss") if state.has_val else None
            metrics = {k: float(logs[k]) for k in state.names if k in logs}
            val_metrics = {k: float(logs[f"val_{k}"]) for k in state.names
                           if f"val_{k}" in logs} if state.has_val else {}
            train = (self.train_end or time.perf_counter()) - self.t0
            if state.after_epoch(epoch, float(logs.get("loss", float("nan"))), metrics,
                                 val_loss, val_metrics, time.perf_counter() - self.t0,
                                 self.input_seconds, train):
                self.model.stop_training = True

    return StreamCallback()
