"""A custom training loop over any tf.distribute strategy (the multi-worker one included).

Keras 3's `model.fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585: a
PerReplica conversion error). This loop does what fit does, the tf.distribute way:

* `strategy.experimental_distribute_dataset` splits each global batch between the replicas
  (of every worker: the data are sharded by DATA, every worker builds the same pipeline);
* one `tf.function` step runs `strategy.run` of a replica step: forward pass, the loss summed
  over the outputs and divided by the *global* number of loss values (so that the gradients,
  which the Keras optimizer sums over the replicas, are those of the global batch), the weight
  penalties scaled by 1 / replicas, `GradientTape`, `optimizer.apply`;
* the batch's loss and metric sums and counts are all-reduced, so every worker sees the same
  numbers and takes the same decisions (NaN, early stopping). The stop flag of `should_stop()`
  is all-reduced too (any worker stopping stops all, one batch later).

Events, history and early stopping are those of `stream.StreamState`, as with `model.fit`.
"""
from __future__ import annotations

import time

import numpy as np

from .compiler import make_loss, make_metrics, make_optimizer
from netdesigner.backends.data import streamed

from .data import pack, rows_dataset


def _metric_fns(settings: dict, output_shape) -> list:
    """(name, per-sample function) of each metric, as `compile_model` defines them."""
    out = []
    for m in make_metrics(settings, output_shape):
        fn, kwargs = m._fn, dict(getattr(m, "_fn_kwargs", {}) or {})
        out.append((m.name, fn, kwargs))
    return out


class CustomLoop:
    def __init__(self, model, ctx, settings: dict, batch_size: int):
        import tensorflow as tf

        self.model = model
        self.ctx = ctx
        self.strategy = ctx.strategy or tf.distribute.get_strategy()
        self.settings = settings
        self.batch_size = batch_size
        with ctx.scope():
            self.optimizer = make_optimizer(settings)
            self.optimizer.build(model.trainable_variables)
        self.loss = make_loss(settings, reduction=None)
        shapes = [tuple(o.shape[1:]) for o in model.outputs]
        self.metric_fns = [_metric_fns(settings, s) for s in shapes]
        many = len(shapes) > 1
        self.names = [(f"{o}_{name}" if many else name)
                      for o, fns in zip(model.output_names, self.metric_fns)
                      for name, _, _ in fns]
        self._train = self._make_train_step()
        self._eval = self._make_eval_step()

    # -- the steps --------------------------------------------------------------------------------
    def _sums(self, ys, preds):
        """Loss sum and count, then (sum, count) of every metric, over this replica's batch."""
        import tensorflow as tf
        loss_sum = tf.constant(0.0, tf.float32)
        loss_count = tf.constant(0.0, tf.float32)
        sums = []
        for y, p, fns in zip(ys, preds, self.metric_fns):
            p = tf.cast(p, tf.float32)
            values = tf.cast(self.loss(y, p), tf.float32)
            loss_sum += tf.reduce_sum(values)
            loss_count += tf.cast(tf.size(values), tf.float32)
            for _, fn, kwargs in fns:
                v = tf.cast(fn(y, p, **kwargs), tf.float32)
                sums += [tf.reduce_sum(v), tf.cast(tf.size(v), tf.float32)]
        return loss_sum, loss_count, sums

    def _make_train_step(self):
        import tensorflow as tf
        model, optimizer, strategy = self.model, self.optimizer, self.strategy
        n_out = len(model.outputs)

        def replica_step(x, y, stop):
            ctx = tf.distribute.get_replica_context()
            ys = list(y) if n_out > 1 else [y]
            with tf.GradientTape() as tape:
                out = model(x, training=True)
                preds = list(out) if n_out > 1 else [out]
                loss_sum, loss_count, sums = self._sums(ys, preds)
                global_count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, loss_count)
                loss = loss_sum / tf.maximum(global_count, 1.0)
                penalty = tf.constant(0.0, tf.float32)
                if model.losses:
                    penalty = tf.add_n([tf.cast(v, tf.float32) for v in model.losses])
                    loss += penalty / strategy.num_replicas_in_sync
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            reduced = ctx.all_reduce(tf.distribute.ReduceOp.SUM,
                                     [loss_sum, loss_count, *sums, tf.identity(stop)])
            return reduced, penalty

        @tf.function(reduce_retracing=True)
        def step(batch, stop):
            x, y = batch
            reduced, penalty = strategy.run(replica_step, args=(x, y, stop))
            first = strategy.experimental_local_results(reduced)[0]
            pen = strategy.experimental_local_results(penalty)[0]
            return first, pen

        return step

    def _make_eval_step(self):
        import tensorflow as tf
        model, strategy = self.model, self.strategy
        n_out = len(model.outputs)

        def replica_step(x, y):
            ctx = tf.distribute.get_replica_context()
            ys = list(y) if n_out > 1 else [y]
            out = model(x, training=False)
            preds = list(out) if n_out > 1 else [out]
            loss_sum, loss_count, sums = self._sums(ys, preds)
            return ctx.all_reduce(tf.distribute.ReduceOp.SUM, [loss_sum, loss_count, *sums])

        @tf.function(reduce_retracing=True)
        def step(batch):
            x, y = batch
            reduced = strategy.run(replica_step, args=(x, y))
            return strategy.experimental_local_results(reduced)[0]

        return step

    # -- data -------------------------------------------------------------------------------------
    def _distribute(self, dataset):
        import tensorflow as tf
        options = tf.data.Options()
        policy = tf.data.experimental.AutoShardPolicy.DATA
        options.experimental_distribute.auto_shard_policy = policy
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    def _streamed(self, xs: list, ys: list, global_batches):
        """A distributed dataset of streamed rows in which each input pipeline (one per worker)
        reads only its own replicas' part of each global batch (sharding by index: the rows
        of the other workers are never read). `global_batches()` gives the index vectors of
        the global batches, the same on every worker; each replica takes its contiguous
        share of each, possibly empty for a short last batch, so that every replica takes
        part in every step."""
        import tensorflow as tf
        replicas = self.strategy.num_replicas_in_sync

        def per_pipeline(context):
            local = max(1, replicas // context.num_input_pipelines)
            first = context.input_pipeline_id * local

            def parts():
                for idx in global_batches():
                    share = -(-len(idx) // replicas)
                    for r in range(first, first + local):
                        yield idx[r * share:(r + 1) * share]
            index = tf.data.Dataset.from_generator(
                parts, output_signature=tf.TensorSpec((None,), tf.int64))
            return rows_dataset(self.model, xs, ys, index)
        return self.strategy.distribute_datasets_from_function(per_pipeline)

    def _values(self, reduced) -> tuple[float, dict]:
        v = [float(t) for t in reduced]
        loss = v[0] / max(v[1], 1.0)
        metrics = {}
        for i, name in enumerate(self.names):
            s, c = v[2 + 2 * i], v[3 + 2 * i]
            metrics[name] = s / max(c, 1.0)
        return loss, metrics

    def evaluate(self, xs, ys, batch_size: int = 1024) -> tuple[float, dict]:
        import tensorflow as tf
        if streamed(xs + ys):
            n = len(xs[0])
            batches = self._streamed(xs, ys, lambda: (np.arange(k, min(k + batch_size, n))
                                                      for k in range(0, n, batch_size)))
        else:
            data = tf.data.Dataset.from_tensor_slices((pack(xs), pack(ys))).batch(batch_size)
            batches = self._distribute(data)
        totals = None
        for batch in batches:
            r = [float(t) for t in self._eval(batch)]
            totals = r if totals is None else [a + b for a, b in zip(totals, r)]
        penalty = float(sum(float(np.asarray(v)) for v in self.model.losses)) \
            if self.model.losses else 0.0
        loss, metrics = self._values(totals)
        return loss + penalty, metrics

    # -- the loop ---------------------------------------------------------------------------------
    def _make_sync(self):
        import tensorflow as tf
        strategy = self.strategy

        @tf.function
        def sync(flag):
            def replica(f):
                return tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, tf.identity(f))
            return strategy.experimental_local_results(strategy.run(replica, args=(flag,)))[0]
        return sync

    def run(self, state, x_train, y_train, perms, validation) -> None:
        """Train for the epochs of `perms`, streaming through `state` (a stream.StreamState)."""
        import tensorflow as tf
        should_stop, state.should_stop = state.should_stop, None   # polled here, in step
        together = self.ctx.workers > 1         # decisions must be taken by all workers
        sync = self._make_sync() if together else None
        rows = streamed(x_train + y_train)
        if not rows:
            xs_t = [tf.constant(x) for x in x_train]
            ys_t = [tf.constant(y) for y in y_train]
        bs = self.batch_size
        pending = 0.0                           # this worker wants to stop
        try:
            for epoch, perm in enumerate(perms):
                t0 = time.perf_counter()
                if rows:                # each worker reads its share of each batch
                    batches = self._streamed(x_train, y_train, lambda perm=perm: (
                        perm[k:k + bs] for k in range(0, len(perm), bs)))
                else:
                    order = tf.data.Dataset.from_tensor_slices(perm.astype(np.int64)).batch(bs)
                    data = order.map(lambda idx: (pack([tf.gather(t, idx) for t in xs_t]),
                                                  pack([tf.gather(t, idx) for t in ys_t])))
                    batches = self._distribute(data.prefetch(2))
                loss_total, count, sums = 0.0, 0, {}
                finished = False
                for b, batch in enumerate(batches):
                    reduced, penalty = self._train(batch, tf.constant(pending, tf.float32))
                    values = [float(t) for t in reduced]
                    if values[-1] > 0:          # some worker asked to stop at the last batch
                        state.reason, finished = "stopped", True
                        break
                    loss, metrics = self._values(values[:-1])
                    loss += float(penalty)
                    k = state.batch_size_of(b)
                    loss_total += loss * k
                    for name, v in metrics.items():
                        sums[name] = sums.get(name, 0.0) + v * k
                    count += k
                    if state.after_batch(epoch, b, loss, metrics):       # NaN
                        finished = True
                        break
                    if should_stop is not None and should_stop():
                        if together:
                            pending = 1.0       # all stop after the next step
                        else:
                            state.reason, finished = "stopped", True
                            break
                if not finished and together and float(sync(tf.constant(pending))) > 0:
                    state.reason, finished = "stopped", True
                if finished:
                    break
                val_loss, val_metrics = None, {}
                if validation is not None:
                    val_loss, val_metrics = self.evaluate(*validation)
                if state.after_epoch(epoch, loss_total / max(count, 1),
                                     {k: v / max(count, 1) for k, v in sums.items()},
                                     val_loss, val_metrics, time.perf_counter() - t0):
                    break
        finally:
            state.should_stop = should_stop
