"""Examples per second of a streamed image folder against the same data preloaded in memory,
and against a hand-written tf.data pipeline, in one run (Keras backend; the NumPy backend's
streamed and preloaded figures too).

    .venv/bin/python bench/data_pipeline.py [--images 6000] [--size 32] [--epochs 5] [--rounds 3]

It generates a folder of PNGs (RGB, one sub-folder per class) in a temporary folder, then
trains the same design (Flatten -> Dense 64 relu -> Dense 10 softmax, batch 64, min-max
scaling; then a two-convolution CNN, Keras only) on it: through netdesigner with `streaming: on`
and `streaming: off`, and as plain Keras on `tf.data.Dataset.list_files`-style input (read,
decode_png, scale, one-hot, parallel map, prefetch) over the same training files, once without
and once with `.cache()` after the decoding (the tf.data guide's pipeline; netdesigner's
streamed sets keep their decoded samples on disk after the first epoch,
`backends/decoded_cache.py`). The rate is the training examples of an epoch divided by its
time; the first epoch (tracing, warm-up, and the one that decodes) is left out. The Keras runs
go in rounds (every peer once a round, in turn); a ratio is taken within each round and the
median round's is printed, with every round's. Targets (issue 16): streamed >= 0.8x
preloaded, >= 0.9x the hand-written pipeline, on the Keras backend.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netdesigner.backends import datasources, jobs  # noqa: E402
from tests.backends.streaming_data import cnn, image_folder, mlp  # noqa: E402

CLASSES = 10


def settings(streaming: str, epochs: int) -> dict:
    return {"dataset": "images", "streaming": streaming, "epochs": epochs, "batch_size": 64,
            "normalize": "minmax", "seed": 0, "optimizer": "adam"}


def design(kind: str, shape: tuple, streaming: str, epochs: int):
    if kind == "mlp":
        return mlp(shape, CLASSES, settings(streaming, epochs), hidden=64)
    return cnn(shape, CLASSES, settings(streaming, epochs))


def netdesigner_rate(root: Path, shape: tuple, backend: str, streaming: str,
                     epochs: int, kind: str = "mlp") -> tuple[float, object]:
    """Training examples/s of the warm epochs, and what was prepared (the first epoch's rate
    printed for the streamed runs: it decodes every image)."""
    datasources.FIRST_PASSES.clear()          # each run reads and decodes the folder afresh
    prepared = jobs.prepare(design(kind, shape, streaming, epochs), root)
    times = []

    def on_event(e):
        if e.get("event") == "epoch":
            times.append(e["seconds"])
    jobs.train(prepared, backend, on_event, stats_every=0)
    n = len(prepared.split.x_train)
    if streaming == "on":
        print(f"  ({backend} {kind} streamed, first epoch: {n / times[0]:,.0f} examples/s)")
    warm = times[1:] or times
    return n * len(warm) / sum(warm), prepared


def handwritten_rate(root: Path, prepared, shape: tuple, epochs: int, cache: bool) -> float:
    """Plain Keras on a tf.data pipeline written by hand over the same training files; with
    `cache`, as the tf.data guide writes it: decoded once, `.cache()`d, then shuffled."""
    import keras
    import numpy as np
    import tensorflow as tf
    split = prepared.split
    files = split.dataset.origin.files
    train_rows = np.sort(_train_indices(prepared))          # the same training files
    paths = [str(files[i]) for i in train_rows]
    labels = split.dataset.y[train_rows]
    lo, hi = split.scaling["min"], split.scaling["max"]

    def load(path, label):
        image = tf.io.decode_png(tf.io.read_file(path), channels=shape[-1])
        image = (tf.cast(image, tf.float32) - lo) / (hi - lo)
        return image, tf.one_hot(label, CLASSES)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if cache:
        ds = (ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).cache()
              .shuffle(len(paths), seed=0))
    else:
        ds = ds.shuffle(len(paths), seed=0).map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(64).prefetch(tf.data.AUTOTUNE)
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)
    model.fit(ds, epochs=epochs, verbose=0, callbacks=[Timer()])
    warm = times[1:] or times
    return len(paths) * len(warm) / sum(warm)


def _train_indices(prepared):
    from netdesigner.backends import data
    s = prepared.settings
    return data.split_indices(len(prepared.split.dataset.y), s.get("validation_split", 0.15),
                              s.get("test_split", 0.15), s.get("seed", 0))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the Keras runs, each measuring every peer once in turn")
    args = parser.parse_args()
    shape = (args.size, args.size, 3)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        image_folder(root / "images", args.images, CLASSES, args.size, colour=True)
        print(f"{args.images} PNGs of {args.size}x{args.size} RGB generated in "
              f"{time.perf_counter() - t0:.1f} s; rates are training examples/s of the warm "
              f"epochs ({args.epochs - 1} of {args.epochs})")
        rates = {}
        for streaming in ("off", "on"):
            rates["numpy", streaming], _ = netdesigner_rate(root, shape, "numpy", streaming,
                                                            args.epochs)
            print(f"  numpy {'streamed' if streaming == 'on' else 'preloaded':9}"
                  f" {rates['numpy', streaming]:10,.0f} examples/s")
        # the Keras figures in rounds, every peer once a round, one after the other: this
        # machine's speed drifts by up to 2x over a minute, so a ratio compares runs of the
        # same round, and the median round is reported
        keras_runs: dict = {}
        for r in range(args.rounds):
            print(f"round {r + 1} of {args.rounds}")
            for kind in ("mlp", "cnn"):
                for streaming in ("off", "on"):
                    rate, prepared = netdesigner_rate(root, shape, "keras", streaming,
                                                      args.epochs, kind)
                    keras_runs.setdefault((kind, streaming), []).append(rate)
                    print(f"  keras {kind.upper()} {'streamed' if streaming == 'on' else 'preloaded':9}"
                          f" {rate:10,.0f} examples/s")
                if kind == "mlp":
                    for cache, name in ((False, "hand"), (True, "hand_cached")):
                        rate = handwritten_rate(root, prepared, shape, args.epochs, cache)
                        keras_runs.setdefault((name, ""), []).append(rate)
                        print(f"  keras hand-written tf.data{', .cache()' if cache else ''}"
                              f" {rate:10,.0f} examples/s")

        def ratios(a, b):
            values = [x / y for x, y in zip(keras_runs[a], keras_runs[b])]
            return statistics.median(values), values

        def said(name, ratio_values, target=""):
            median, values = ratio_values
            return (f"{name} {median:.2f} (rounds: {', '.join(f'{v:.2f}' for v in values)})"
                    + (f" (target >= {target})" if target else ""))
        print("median of the rounds' ratios:")
        print("  " + said("MLP, Keras: streamed / preloaded",
                          ratios(("mlp", "on"), ("mlp", "off")), "0.8"))
        print("  " + said("MLP, Keras: streamed / hand-written tf.data",
                          ratios(("mlp", "on"), ("hand", "")), "0.9"))
        print("  " + said("MLP, Keras: streamed / hand-written tf.data with .cache()",
                          ratios(("mlp", "on"), ("hand_cached", ""))))
        print("  " + said("MLP, Keras: preloaded / hand-written tf.data with .cache()",
                          ratios(("mlp", "off"), ("hand_cached", ""))))
        print("  " + said("CNN, Keras: streamed / preloaded",
                          ratios(("cnn", "on"), ("cnn", "off")), "0.8"))
        print(f"  MLP, NumPy: streamed / preloaded "
              f"{rates['numpy', 'on'] / rates['numpy', 'off']:.2f}")


if __name__ == "__main__":
    main()
