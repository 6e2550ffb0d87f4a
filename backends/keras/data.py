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
#: chunks' indices the generator gives at a time (one yield is ~1 ms of interpreter time)
BLOCK_CHUNKS = 16


def _numpy_dtypes(arrays: list, want: list | None = None) -> list:
    """The dtype each streamed array is fed as: the model input's (`want`), else int64 for
    class ids and float32 for everything else (as `targets`)."""
    if want is not None:
        return [np.dtype(w) for w in want]
    return [np.dtype(np.int64) if a.dtype.kind in "iu" else np.dtype(np.float32) for a in arrays]


def sample_steps():
    """How this backend applies each of `data.SAMPLE_STEPS` to a tensor of samples (leading
    axes: the batch, or the chunk's batches): the same float32 operations as NumPy's, so a
    batch has the same values either way."""
    import tensorflow as tf
    from netdesigner.backends.data import AsFloat32, Scale

    def as_float32(step, values, lead):
        shape = tf.concat([tf.shape(values)[:lead], tf.constant(step.shape, tf.int32)], 0)
        return tf.reshape(tf.cast(values, tf.float32), shape)

    def scale(step, values, lead):
        return (values - tf.constant(step.subtract)) / tf.constant(step.divide)
    return {AsFloat32: as_float32, Scale: scale}


def _source(array):
    """(what is read, the steps this backend applies to it): a streamed array's raw rows and
    sample steps (`Rows.deferred`), else the array itself."""
    deferred = getattr(array, "deferred", None)
    return deferred if deferred is not None else (array, ())


def rows_dataset(model, xs: list, ys: list | None, batches, batch_size: int | None = None):
    """A tf.data pipeline over streamed rows: `batches` (a tf.data.Dataset of index vectors)
    read in parallel (`num_parallel_calls`, order kept) by the rows' own readers, prefetched.
    Gives (x, y) batches, or x alone when `ys` is None. Rows that are raw samples put through
    sample steps (`Rows.deferred`: uint8 images, scaled) are read raw, and the steps run here,
    in TensorFlow: less to hand over from the interpreter, and the arithmetic off it. With
    `batch_size`, each index vector is a chunk of k batches of the same size (k x batch_size
    indices, or a short batch alone), read at once and given as its k batches: the reader
    shapes it (k, batch, ...) and tf.data splits it along the first axis (cutting it element
    by element cost more than the read)."""
    import tensorflow as tf
    ys = ys or []
    arrays = list(xs) + list(ys)
    wanted = (_numpy_dtypes(xs, [t.dtype for t in model.inputs]) + _numpy_dtypes(ys))
    sources = [_source(a) for a in arrays]
    # what the reader hands over: the raw dtype when there are steps to run, else the wanted
    read_dtypes = [raw.dtype if steps else want
                   for (raw, steps), want in zip(sources, wanted)]
    apply = sample_steps()
    lead = 1 if batch_size is None else 2

    def read(idx):
        values = [np.asarray(raw[idx], dt) for (raw, _), dt in zip(sources, read_dtypes)]
        if batch_size is None:
            return tuple(values)
        rows = min(batch_size, len(idx))
        return tuple(v.reshape((len(idx) // rows, rows) + v.shape[1:]) for v in values)

    def fetch(idx):
        values = tf.numpy_function(read, [idx], [tf.as_dtype(d) for d in read_dtypes],
                                   stateful=False)
        out = []
        for v, (raw, steps), want in zip(values, sources, wanted):
            v.set_shape((None,) * lead + tuple(raw.shape[1:]))
            for step in steps:
                v = apply[type(step)](step, v, lead)
            if v.dtype != tf.as_dtype(want):
                v = tf.cast(v, want)
            out.append(v)
        x, y = pack(out[:len(xs)]), out[len(xs):]
        return (x, pack(y)) if y else x

    read_ds = batches.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if batch_size is not None:
        read_ds = read_ds.unbatch()
    return read_ds.prefetch(tf.data.AUTOTUNE)


def chunk_blocks(orders, batch_size: int):
    """Every epoch's order (`orders`) as 2-D blocks of chunk indices: up to BLOCK_CHUNKS rows
    of CHUNK_BATCHES full batches each, then the epoch's remaining full batches as one row,
    then its short last batch as one row (so every row is k whole batches of one size, and
    no row crosses an epoch's end)."""
    chunk = batch_size * CHUNK_BATCHES
    for order in orders:
        n = len(order)
        full = n // chunk * chunk
        for start in range(0, full, chunk * BLOCK_CHUNKS):
            stop = min(full, start + chunk * BLOCK_CHUNKS)
            yield order[start:stop].reshape(-1, chunk)
        batches_end = n // batch_size * batch_size
        if batches_end > full:
            yield order[full:batches_end].reshape(1, -1)
        if n > batches_end:
            yield order[batches_end:].reshape(1, -1)


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
    same batches. A generator gives the indices of BLOCK_CHUNKS chunks of CHUNK_BATCHES
    batches at a time (`chunk_blocks`); each chunk is read at once and given as its batches.
    A yield, and a read, per batch cost more interpreter time than a small network's step,
    and the step's thread waited for it. Other ways measured worse: the epoch's order as a
    tensor (8-16 MB more for a million rows), and the readers looking the indices up in the
    epoch's order (8 MB more of the reading threads' memory)."""
    import tensorflow as tf
    blocks = tf.data.Dataset.from_generator(
        lambda: chunk_blocks(orders, batch_size),
        output_signature=tf.TensorSpec((None, None), tf.int64))
    return rows_dataset(model, xs, ys, blocks.unbatch(), batch_size)


def streamed_dataset(model, xs: list, ys: list | None, batch_size: int):
    """The rows in order, in batches (validation, evaluation, prediction)."""
    import tensorflow as tf
    n = len(xs[0])
    batches = tf.data.Dataset.range(n).batch(batch_size)
    return rows_dataset(model, xs, ys, batches)
