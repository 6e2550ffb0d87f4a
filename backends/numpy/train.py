"""Training with the NumPy backend: `fit`, `evaluate`, `predict`.

    result = fit(graph, split, graph.training, on_event=print)
    evaluate(result.model, split.x_test, split.y_test)      # {"loss": ..., "accuracy": ...}

`fit` compiles the graph (`backends.numpy.model`), then for each epoch shuffles the training
data (seeded), runs mini-batches (batch_size 1 is stochastic gradient descent, the whole set
is batch gradient descent), evaluates the validation data, and streams the events of
`backends.protocol`:

    train_begin -> (batch, every stats_every batches layer_stats)* -> epoch ... -> train_end

* One training step is Keras's: the loss of every output (summed) plus the L1/L2 penalty;
  gradients; each weight's gradient clipped to `clip_norm`; the optimizer's update. Batch
  events carry that batch's own loss and metrics; epoch events the averages over the epoch's
  samples, and the validation loss and metrics after the epoch.
* `layer_stats` (at step 1 and then every `stats_every` steps; 0 turns them off) summarises
  every node's output on the current batch, every trainable weight's gradient (after the
  penalty, before clipping) and every weight. Outputs larger than `STATS_MAX_VALUES` values are
  summarised from an evenly strided sample of that many values.
* Early stopping (`early_stopping_patience` > 0) watches the validation loss (the training loss
  when there is no validation data) like Keras's EarlyStopping: it stops after `patience`
  epochs without a lower value, and with `restore_best_weights` the weights of the best epoch
  are put back when training ends, however it ends.
* `should_stop()` is polled after every batch; True ends the run at once (reason 'stopped';
  the unfinished epoch gets no epoch event).
* A NaN or infinite loss ends the run before the update (reason 'nan'). There is no `error`
  event (a NaN is an outcome of training, not a failure of the program): the train_end event
  carries the protocol's NAN_ADVICE in an extra `message` field, and `FitResult.message`.
* BLAS (the matmuls) runs on every core but one while training (`default_threads`;
  `threads=` overrides), which keeps a core for the designer and keeps multi-threaded BLAS
  from stalling when another process wants a core.
"""
from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from netdesigner.backends import protocol
from netdesigner.backends.data import (as_list, prefetched, read_batch, split_arrays,
                                       streamed)
from netdesigner.backends.statistics import (chunks, fit_statistics, given_statistics,
                                             normalization_nodes)

from . import losses as losses_module
from . import optimizers as optimizers_module
from .model import Model, compile_graph
from .weights import load_npz, save_npz

BACKEND = "numpy"
DEVICE = "CPU (NumPy)"
EVAL_BATCH = 1024
STATS_MAX_VALUES = 65_536


def default_threads() -> int:
    """BLAS threads for training: every core but one (at least one), so that the designer (or
    anything else) keeps a core. Multi-threaded BLAS stalls badly when another process takes
    one of its cores: on a 2-core machine a busy GUI can make a step 10-50x slower."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def blas_threads(threads: int | None = None):
    """A context that limits the BLAS library NumPy uses to `threads` threads (default:
    `default_threads()`); does nothing when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                      # pragma: no cover - comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(default_threads() if threads is None else int(threads),
                             user_api="blas")


def _sample(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.size <= STATS_MAX_VALUES:
        return values
    flat = values.reshape(-1)
    return flat[::-(-flat.size // STATS_MAX_VALUES)]


class Trainer:
    """The loss, optimizer and metrics of a compiled model: one step at a time."""

    def __init__(self, model: Model, settings: dict | None = None):
        settings = dict(model.settings if settings is None else settings)
        self.model = model
        self.settings = settings
        self.loss = losses_module.from_settings(settings)
        self.optimizer = optimizers_module.from_settings(settings, model.dtype)
        self.metrics = list(settings.get("metrics") or [])
        self.clip_norm = float(settings.get("clip_norm", 0.0) or 0.0)
        heads = model.heads()
        self.fused = [h is not None and self.loss.fuses(h) for h in heads]
        self._grad_views = [model.grads[n][k] for n in model.grads for k in model.grads[n]]
        self.adds_loss = model.adds_loss

    def metric_names(self) -> list:
        if len(self.model.outputs) == 1:
            return list(self.metrics)
        return [f"{n}_{m}" for n, _ in self.model.outputs for m in self.metrics]

    def _losses(self, outs, ys):
        total, douts, metrics = 0.0, [], {}
        many = len(outs) > 1
        model = self.model
        for (node, _), out, y, fused in zip(model.outputs, outs, ys, self.fused):
            if fused:
                value, grad = self.loss.value_and_grad(model.logits[node], y, from_logits=True,
                                                       probs=out,
                                                       lse=model.logsumexp.get(node))
            else:
                value, grad = self.loss.value_and_grad(out, y)
            total += value
            douts.append(grad)
            for name, v in losses_module.metric_values(self.metrics, self.loss, out, y).items():
                metrics[f"{node}_{name}" if many else name] = v
        return total, douts, metrics

    def train_batch(self, xs, ys, stats: bool = False):
        """One update. Returns (loss, metrics, layer_stats or None); the weights are left alone
        when the loss is not finite."""
        model = self.model
        outs = model.forward(xs, training=True, input_grads=False)
        loss, douts, metrics = self._losses(outs, as_list(ys))
        if self.adds_loss:
            loss += model.added_loss()
        if protocol.is_bad_loss(loss):
            return loss, metrics, None
        model.backward(douts, self.fused)
        if model.regularized:
            loss += model.penalty()
            model.add_penalty_grads()
            if protocol.is_bad_loss(loss):
                return loss, metrics, None
        report = self.layer_stats() if stats else None
        if self.clip_norm > 0:
            for g in self._grad_views:
                optimizers_module.clip_by_norm(g, self.clip_norm)
        self.optimizer.step(model.flat, model.flat_grad)
        return loss, metrics, report

    def layer_stats(self) -> tuple:
        """(activations, gradients, weights) summaries, as protocol.layer_stats takes them."""
        m = self.model
        acts = {s.id: protocol.activation_stats(_sample(m.activations[s.id][0]))
                for s in m.steps if s.id in m.activations}
        grads = {n: {k: protocol.gradient_stats(g) for k, g in gs.items()}
                 for n, gs in m.grads.items()}
        weights = {n: {k: protocol.weight_stats(w) for k, w in ws.items()}
                   for n, ws in m.weights.items()}
        return acts, grads, weights

    def feature_maps(self, probe: list) -> dict:
        """Channel images of the probe sample for layers with (height, width, channels)
        outputs. Runs in inference mode after the step: it changes no weight or statistic."""
        m = self.model
        if not any(np.ndim(m.activations[s.id][0]) == 4 for s in m.steps
                   if s.id in m.activations):
            return {}
        m.forward(probe, training=False, update_state=False, input_grads=False)
        return {s.id: protocol.feature_map_images(m.activations[s.id][0][0])
                for s in m.steps if s.kernel is not None and s.id in m.activations
                and np.ndim(m.activations[s.id][0]) == 4}

    def evaluate(self, xs, ys, batch_size: int = EVAL_BATCH) -> dict:
        """Inference-mode loss (with the penalty) and metrics over a whole data set."""
        xs, ys = as_list(xs), as_list(ys)
        n = len(xs[0])
        if n == 0:
            return {}
        batch_size = read_batch(xs, batch_size)
        total, sums = 0.0, {}
        for start in range(0, n, batch_size):
            xb = [x[start:start + batch_size] for x in xs]
            yb = [y[start:start + batch_size] for y in ys]
            outs = self.model.forward(xb, training=False)
            loss, _, metrics = self._losses(outs, yb)
            if self.adds_loss:
                loss += self.model.added_loss()
            k = len(xb[0])
            total += loss * k
            for name, v in metrics.items():
                sums[name] = sums.get(name, 0.0) + v * k
        out = {"loss": total / n + (self.model.penalty() if self.model.regularized else 0.0)}
        out.update({name: v / n for name, v in sums.items()})
        return out


# -- the data -------------------------------------------------------------------------------------


# -- fit ------------------------------------------------------------------------------------------

def fit(graph, split, settings: dict | None = None, on_event=None, should_stop=None,
        stats_every: int = protocol.STATS_EVERY, initial_weights=None, *,
        weights_in=None, weights_out=None, dtype=np.float32, model: Model | None = None,
        threads: int | None = None, device: str = "auto") -> protocol.FitResult:
    """Train `graph` on `split` (a `backends.data.Split`, or a dict / tuple of x_train,
    y_train[, x_val, y_val]; lists of arrays for several inputs or outputs).

    `settings` default to `graph.training`. `initial_weights` ({"node/name": array}) or
    `weights_in` (an `.npz` path) start from given weights; `weights_out` saves the final ones.
    `model` reuses an already compiled model. `threads`: BLAS threads while training (default:
    all cores but one, see `default_threads`). `device`: auto or cpu (this backend runs on the
    CPU only)."""
    check_device(device)
    settings = dict(graph.training if settings is None else settings)
    if model is None:
        model = compile_graph(graph, settings, dtype=dtype)
    if weights_in:
        load_npz(model, weights_in)
    if initial_weights is not None:
        model.set_weights(initial_weights)
    fit_normalizations(model, split, initial_weights, weights_in)
    run = _Run(model, Trainer(model, settings), split, settings,
               on_event if on_event is not None else (lambda e: None), should_stop,
               int(stats_every or 0))
    with np.errstate(all="ignore"), blas_threads(threads):   # NaN ends a run, quietly
        result = run.run()
    if weights_out and (result.reason != "nan" or np.isfinite(model.flat).all()):
        save_npz(model, weights_out)
    run.emit(result.end)
    return result


def fit_normalizations(model: Model, split, initial_weights=None, weights_in=None) -> dict:
    """Fit the statistics of the model's Normalization layers on the training split (those the
    starting weights do not bring), load them, and return them (`backends.statistics`)."""
    flat = model.graph
    if not normalization_nodes(flat):
        return {}
    x_train = model._as_inputs(split_arrays(split)[0])

    def features(node, fitted):
        model.set_weights(fitted, strict=False)
        edge = flat.input_ports(node)[0]
        for xb in zip(*[chunks(x) for x in x_train]):
            model.forward(list(xb), training=False, update_state=False, input_grads=False)
            yield model.activations[edge.source][edge.source_port]

    fitted = fit_statistics(flat, x_train, features,
                            given_statistics(flat, initial_weights, weights_in), model.inputs)
    model.set_weights(fitted, strict=False)
    return fitted


def check_device(device: str | None) -> None:
    if device not in (None, "auto", "cpu"):
        raise ValueError(f"the NumPy backend runs on the CPU only, not on {device!r}: choose "
                         f"the keras backend for a GPU")


class _Run:
    """The state of one `fit`: data, schedule, history, early stopping."""

    def __init__(self, model, trainer, split, settings, emit, should_stop, stats_every):
        self.model, self.trainer, self.emit = model, trainer, emit
        self.should_stop, self.stats_every = should_stop, stats_every
        x_train, self.y_train, self.x_val, self.y_val = split_arrays(split)
        self.x_train = model._as_inputs(x_train)
        self.y_train = [y if streamed(y) else np.asarray(y) for y in self.y_train]
        self.n = len(self.x_train[0])
        if self.n == 0:
            raise ValueError("there is no training data")
        self.has_val = bool(self.x_val) and len(self.x_val[0]) > 0
        self.epochs = int(settings.get("epochs", 10))
        self.batch_size = max(1, min(int(settings.get("batch_size", 32)), self.n))
        self.steps_per_epoch = -(-self.n // self.batch_size)
        self.patience = int(settings.get("early_stopping_patience", 0) or 0)
        self.restore = bool(settings.get("restore_best_weights", True)) and self.patience > 0
        self.shuffle = np.random.default_rng([int(settings.get("seed", 0)), 2])
        self.names = trainer.metric_names()
        self.history = {"loss": [], **{k: [] for k in self.names}}
        if self.has_val:
            self.history.update({"val_loss": [], **{f"val_{k}": [] for k in self.names}})
        self.step = 0
        # one fixed sample whose feature maps are shown while training (the first validation one)
        self.probe = [x[:1] for x in (model._as_inputs(self.x_val) if self.has_val
                                      else self.x_train)]

    def run(self) -> protocol.FitResult:
        started = time.perf_counter()
        self.emit(protocol.train_begin(BACKEND, DEVICE, self.epochs, self.steps_per_epoch,
                                       self.n, [s.id for s in self.model.steps]))
        reason, epochs_run, message = "completed", 0, ""
        best = best_epoch = best_val = snapshot = None
        wait = 0
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            reason, train_loss, train_metrics = self._epoch(epoch)
            if reason != "completed":
                message = protocol.NAN_ADVICE if reason == "nan" else ""
                break
            epochs_run = epoch + 1
            val_loss, val_metrics = None, {}
            if self.has_val:
                val_metrics = self.trainer.evaluate(self.x_val, self.y_val)
                val_loss = val_metrics.pop("loss")
            self.emit(protocol.epoch(epoch, train_loss, train_metrics, val_loss, val_metrics,
                                     time.perf_counter() - t0, self.input_seconds,
                                     self.train_seconds))
            self._record(train_loss, train_metrics, val_loss, val_metrics)
            # early stopping, as keras.callbacks.EarlyStopping (min_delta 0)
            monitored = val_loss if self.has_val else train_loss
            if np.isfinite(monitored) and (best is None or monitored < best):
                best, best_epoch, wait = monitored, epoch, 0
                best_val = float(val_loss) if self.has_val else None
                if self.restore:
                    snapshot = self.model.snapshot()
            else:
                wait += 1
                if self.patience > 0 and wait >= self.patience and epoch > 0:
                    reason = "early_stopping"
                    break
        if self.restore and snapshot is not None:
            self.model.restore(snapshot)
        end = protocol.train_end(reason, epochs_run, best_epoch, best_val, self.history)
        if message:
            end["message"] = message
        return protocol.FitResult(self.model, self.history, reason, epochs_run, best_epoch,
                                  best_val, end, message, time.perf_counter() - started,
                                  self.step, DEVICE, extra={"trainer": self.trainer})

    def _epoch(self, epoch: int):
        """(reason, mean loss, mean metrics) of one pass over the training data."""
        order = self.shuffle.permutation(self.n)
        loss_sum, sums, seen = 0.0, dict.fromkeys(self.names, 0.0), 0
        size = self.batch_size

        def read(idx):
            return [x[idx] for x in self.x_train], [y[idx] for y in self.y_train]
        indices = (order[b * size:(b + 1) * size] for b in range(self.steps_per_epoch))
        # streamed data: a thread reads the next batches from disk during each step
        feed = (prefetched(read, indices) if streamed(self.x_train + self.y_train)
                else map(read, indices))
        # how long the steps wait for their batches: the input pipeline's share
        self.input_seconds, started = 0.0, time.perf_counter()
        asked = started
        for b, (xb, yb) in enumerate(feed):
            self.input_seconds += time.perf_counter() - asked
            self.step += 1
            step = self.step
            stats = self.stats_every > 0 and (step == 1 or step % self.stats_every == 0)
            loss, metrics, report = self.trainer.train_batch(xb, yb, stats=stats)
            self.emit(protocol.batch(epoch, b, step, loss, metrics))
            if protocol.is_bad_loss(loss):
                return "nan", None, None
            if report is not None:
                self.emit(protocol.layer_stats(step, *report))
                maps = self.trainer.feature_maps(self.probe)
                if maps:
                    self.emit(protocol.feature_maps(step, maps))
            k = len(xb[0])
            loss_sum += loss * k
            for name, v in metrics.items():
                sums[name] = sums.get(name, 0.0) + v * k
            seen += k
            if self.should_stop is not None and self.should_stop():
                return "stopped", None, None
            asked = time.perf_counter()
        self.train_seconds = time.perf_counter() - started
        return "completed", loss_sum / seen, {k: v / seen for k, v in sums.items()}

    def _record(self, loss, metrics, val_loss, val_metrics):
        h = self.history
        h["loss"].append(loss)
        for k, v in metrics.items():
            h.setdefault(k, []).append(v)
        if self.has_val:
            h["val_loss"].append(val_loss)
            for k, v in val_metrics.items():
                h.setdefault(f"val_{k}", []).append(v)


def evaluate(model: Model, x, y, settings: dict | None = None,
             batch_size: int = EVAL_BATCH) -> dict:
    """{"loss": ..., metric: ...} of `model` on (x, y), in inference mode; the loss and metrics
    come from `settings` (default: the model's training settings)."""
    return Trainer(model, settings).evaluate(x, y, batch_size)


def predict(model: Model, x, batch_size: int = EVAL_BATCH):
    """The model's outputs on x (inference mode): one array, or a list for several outputs."""
    outs = model.predict(x, read_batch(x, batch_size))
    return outs[0] if len(outs) == 1 else outs
