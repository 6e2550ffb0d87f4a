"""The Keras backend on a GPU, checked once for real (issue 16): samples/s against hand-written
Keras on the same device in the same run, with and without mixed precision, and the device
each layer's weights live on.

    .venv/bin/python bench/gpu_check.py [--device gpu|gpu:N|cpu] [--epochs 3] [--images 6000]

Two designs:
  cnn28     Conv2D(32) - MaxPool - Conv2D(64) - MaxPool - Flatten - Dense(128) - Dense(10) on
            28x28x1 random data (as bench/numpy_vs_keras.py), batch 32, in memory
  streamed  a two-convolution CNN trained from a generated folder of 32x32 RGB PNGs with
            `streaming: on` (decoded per batch; the peer reads the same files through a
            hand-written tf.data pipeline), batch 64

Ours: the project's Keras backend (`backends.keras.train.fit` / `backends.jobs.train`) with
`device` and `mixed_precision` as the designer and `netdesigner train --device` pass them.
Peer: the same network written by hand as a keras.Sequential, compiled alike, under
`tf.device`, with the same mixed-precision policy. The rate is the training samples of the
warm epochs (the first, with tracing, left out) over their time. Target: ours >= 0.95x.

On a machine where TensorFlow sees no GPU it says so and stops (exit 0): `--device cpu` runs
the same comparison on the CPU, to check the script itself. Under 5 minutes on one GPU.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET = 0.95


def rate_of(times: list, samples: int) -> float:
    warm = times[1:] or times
    return samples * len(warm) / sum(warm)


def keras_device(device: str) -> str:
    """A tf.device string: gpu -> /GPU:0, gpu:N -> /GPU:N, cpu -> /CPU:0."""
    if device == "cpu":
        return "/CPU:0"
    index = device.split(":", 1)[1] if ":" in device else "0"
    return f"/GPU:{index}"


def epoch_timer(keras, times: list):
    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)
    return Timer()


def with_policy(keras, mixed: bool, device: str):
    """The mixed-precision policy the backend picks (float16 on a GPU, bfloat16 on a CPU)."""
    name = ("mixed_float16" if device != "cpu" else "mixed_bfloat16") if mixed else "float32"
    keras.mixed_precision.set_global_policy(name)
    return name


# -- cnn28, in memory ----------------------------------------------------------------------------
def cnn28_ours(x, y, epochs: int, device: str, mixed: bool) -> tuple[float, dict]:
    from netdesigner.backends.keras.train import fit
    from numpy_vs_keras import cnn28_graph
    graph = cnn28_graph()
    graph.training.update(epochs=epochs, validation_split=0.0, test_split=0.0)
    times: list = []
    result = fit(graph, (x, y), dict(graph.training), stats_every=0, device=device,
                 mixed_precision=mixed,
                 on_event=lambda e: e.get("event") == "epoch" and times.append(e["seconds"]))
    return rate_of(times, len(x)), layer_devices(result.model)


def cnn28_peer(keras, tf, x, y, epochs: int, device: str, mixed: bool) -> float:
    """By hand, under the global policy; the output layer in float32 (as the backend builds
    it, and as mixed precision asks of a softmax)."""
    layers = keras.layers
    with tf.device(keras_device(device)):
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Flatten(), layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax", dtype="float32" if mixed else None)])
        model.compile(keras.optimizers.Adam(0.001), "categorical_crossentropy",
                      metrics=["accuracy"])
        times: list = []
        model.fit(x, y, batch_size=32, epochs=epochs, verbose=0,
                  callbacks=[epoch_timer(keras, times)])
    return rate_of(times, len(x))


# -- streamed image folder -----------------------------------------------------------------------
def streamed_ours(root: Path, epochs: int, device: str, mixed: bool):
    from netdesigner.backends import jobs
    from tests.backends.streaming_data import cnn
    settings = {"dataset": "images", "streaming": "on", "epochs": epochs, "batch_size": 64,
                "normalize": "minmax", "seed": 0, "optimizer": "adam"}
    prepared = jobs.prepare(cnn((32, 32, 3), 10, settings), root)
    times: list = []
    jobs.train(prepared, "keras",
               lambda e: e.get("event") == "epoch" and times.append(e["seconds"]),
               stats_every=0, options={"device": device, "mixed_precision": mixed})
    return rate_of(times, len(prepared.split.x_train)), prepared


def streamed_peer(keras, tf, prepared, epochs: int, device: str) -> float:
    import numpy as np

    from netdesigner.backends import data
    split, s = prepared.split, prepared.settings
    train_rows = np.sort(data.split_indices(len(split.dataset.y), s.get("validation_split", 0.15),
                                            s.get("test_split", 0.15), s.get("seed", 0))[0])
    files = split.dataset.origin.files
    paths = [str(files[i]) for i in train_rows]
    labels = split.dataset.y[train_rows]
    lo, hi = split.scaling["min"], split.scaling["max"]

    def load(path, label):
        image = tf.io.decode_png(tf.io.read_file(path), channels=3)
        return (tf.cast(image, tf.float32) - lo) / (hi - lo), tf.one_hot(label, 10)
    dataset = (tf.data.Dataset.from_tensor_slices((paths, labels)).shuffle(len(paths), seed=0)
               .map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(64)
               .prefetch(tf.data.AUTOTUNE))
    layers = keras.layers
    with tf.device(keras_device(device)):
        model = keras.Sequential([
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
            layers.Flatten(), layers.Dense(10, activation="softmax")])
        model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
        times: list = []
        model.fit(dataset, epochs=epochs, verbose=0, callbacks=[epoch_timer(keras, times)])
    return rate_of(times, len(paths))


def layer_devices(model) -> dict:
    """{layer name: the device(s) its weights are on}."""
    out = {}
    for layer in model.layers:
        # a Keras 3 variable holds the backend's variable (a tf.Variable, with its device)
        devices = sorted({getattr(getattr(v, "value", v), "device", "") or "?"
                          for v in layer.weights})
        if devices:
            out[layer.name] = ", ".join(devices)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="gpu", help="gpu, gpu:N or cpu (default gpu)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20_000, help="cnn28 samples")
    parser.add_argument("--images", type=int, default=6000, help="streamed PNGs")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from netdesigner.backends.quiet_tf import quiet
    quiet()
    import keras
    import numpy as np
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}; GPUs: "
          f"{', '.join(g.name for g in gpus) or 'none'}")
    if args.device != "cpu" and not gpus:
        print("no GPU: TensorFlow sees none on this machine, so there is nothing to check "
              "here (--device cpu runs the same comparison on the CPU).")
        return 0
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.samples)]
    rows = []
    devices = {}
    for mixed in (False, True):
        policy = with_policy(keras, mixed, args.device)
        peer = cnn28_peer(keras, tf, x, y, args.epochs, args.device, mixed)
        keras.mixed_precision.set_global_policy("float32")    # ours sets its own
        ours, devices = cnn28_ours(x, y, args.epochs, args.device, mixed)
        rows.append((f"cnn28, {policy}", ours, peer))
    from tests.backends.streaming_data import image_folder
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        image_folder(root / "images", args.images, 10, 32, colour=True)
        keras.mixed_precision.set_global_policy("float32")
        ours, prepared = streamed_ours(root, args.epochs, args.device, False)
        peer = streamed_peer(keras, tf, prepared, args.epochs, args.device)
        rows.append(("streamed image folder, float32", ours, peer))
    print(f"\ndevice {args.device}; samples/s of the warm epochs (ours = netdesigner's Keras "
          f"backend, peer = hand-written Keras on the same device):")
    worst = min(o / p for _, o, p in rows)
    for name, ours, peer in rows:
        print(f"  {name:34s} ours {ours:10,.0f}  peer {peer:10,.0f}  ratio {ours / peer:5.2f}")
    print(f"worst ratio {worst:.2f} (target >= {TARGET})")
    print("where cnn28's weights live (ours, mixed precision):")
    for layer, where in devices.items():
        print(f"  {layer:16s} {where}")
    print(f"in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
