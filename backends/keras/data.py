"""The Keras backend's data: arrays in the model's dtypes and the shuffled tf.data pipeline.

The data are shuffled every epoch with the NumPy backend's generator (seeded by the settings'
seed), so both backends see the same batches in the same order.
"""
from __future__ import annotations

import numpy as np

def inputs_for(model, xs: list) -> list:
    """Arrays in the dtypes of the model's inputs (float32 features, int32 token ids)."""
    out = []
    for t, x in zip(model.inputs, xs):
        x = np.asarray(x)
        want = np.dtype(t.dtype)
        if x.dtype != want:
            x = x.astype(want)
        out.append(x)
    return out


def targets(ys: list) -> list:
    return [np.asarray(y) if np.asarray(y).dtype.kind in "iu" else
            np.asarray(y, dtype=np.float32) for y in ys]


def pack(values: list):
    """One array as itself, several as a tuple (how Keras takes inputs and targets)."""
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
        return pack(x), pack(y)

    return batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True).prefetch(tf.data.AUTOTUNE)


# -- streamed data (data.Rows read from disk) ---------------------------------------------------

#: batches of a streamed epoch read at once (the generator of its order gives their indices)
CHUNK_BATCHES = 8


def _numpy_dtypes(arrays: list, want: list | None = None) -> list:
    """The dtype each streamed array is fed as: the model input's (`want`), else int64 for
    class ids and float32 for everything else (as `targets`)."""
    if want is not None:
        return [np.dtype(w) for w in want]
    return [np.dtype(np.int64) if a.dtype.kind in "iu" else np.dtype(np.float32) for a in arrays]


def rows_dataset(model, xs: list, ys: list | None, batches, batch_size: int | None = None):
    """A tf.data pipeline over streamed rows: `batches` (a tf.data.Dataset of index vectors)
    read in parallel (`num_parallel_calls`, order kept) by the rows' own readers, prefetched.
    Gives (x, y) batches, or x alone when `ys` is None; with `batch_size`, each index vector
    is read at once and cut into batches of that size."""
    import tensorflow as tf
    ys = ys or []
    dtypes = (_numpy_dtypes(xs, [t.dtype for t in model.inputs]) + _numpy_dtypes(ys))
    arrays = list(xs) + list(ys)

    def read(idx):
        return tuple(np.asarray(a[idx], dt) for a, dt in zip(arrays, dtypes))

    def fetch(idx):
        values = tf.numpy_function(read, [idx], [tf.as_dtype(d) for d in dtypes],
                                   stateful=False)
        for v, a in zip(values, arrays):
            v.set_shape((None,) + tuple(a.shape[1:]))
        x, y = pack(list(values[:len(xs)])), list(values[len(xs):])
        return (x, pack(y)) if y else x

    read = batches.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if batch_size is not None:
        read = read.flat_map(
            lambda *values: tf.data.Dataset.from_tensor_slices(
                values if len(values) > 1 else values[0]).batch(batch_size))
    return read.prefetch(tf.data.AUTOTUNE)


class EpochOrders:
    """Every epoch's order of the training samples, as `permutations` draws them, but drawn
    one epoch at a time: for a million streamed rows, all epochs at once (and their copy in a
    tensor) would take more memory than the batches being read."""

    def __init__(self, n: int, epochs: int, seed: int):
        self.n, self.epochs, self.seed = n, epochs, int(seed)

    def __len__(self) -> int:
        return self.epochs

    def __iter__(self):
        rng = np.random.default_rng([self.seed, 2])
        for _ in range(self.epochs):
            yield rng.permutation(self.n)


def streamed_train_dataset(model, xs: list, ys: list, orders, batch_size: int):
    """`train_dataset` for streamed rows: the same permutations (`EpochOrders`) cut into the
    same batches. A generator gives the indices of CHUNK_BATCHES batches at a time, which are
    read at once and then cut into batches (a chunk never crosses an epoch's end): a yield,
    and a read, per batch cost more interpreter time than a small network's step, and the
    step's thread waited for it. Other ways measured worse: the epoch's order as a tensor
    (8-16 MB more for a million rows), and the readers looking the indices up in the epoch's
    order (8 MB more of the reading threads' memory)."""
    import tensorflow as tf
    chunk = batch_size * CHUNK_BATCHES

    def index_chunks():
        for order in orders:
            for start in range(0, len(order), chunk):
                yield order[start:start + chunk]
    chunks = tf.data.Dataset.from_generator(
        index_chunks, output_signature=tf.TensorSpec((None,), tf.int64))
    return rows_dataset(model, xs, ys, chunks, batch_size)


def streamed_dataset(model, xs: list, ys: list | None, batch_size: int):
    """The rows in order, in batches (validation, evaluation, prediction)."""
    import tensorflow as tf
    n = len(xs[0])
    batches = tf.data.Dataset.range(n).batch(batch_size)
    return rows_dataset(model, xs, ys, batches)
