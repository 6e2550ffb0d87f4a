"""Training speed of the NumPy backend against plain Keras, on the same networks and data.

Three networks, batch 32, CPU, the same number of samples on both sides:

  mlp      the digits MLP 64-32-10 (samples/mlp_digits.graph), digits data
  cnn8     the LeNet-style CNN on 8x8x1 digits (samples/cnn_digits.graph), digits data
  cnn28    a larger CNN on 28x28x1 random data: Conv2D(32, 3x3) - MaxPool - Conv2D(64, 3x3) -
           MaxPool - Flatten - Dense(128) - Dense(10), relu, softmax

NumPy side: `backends.numpy.train.fit` on the graph (compiling included, `layer_stats` off and,
in a second column, on at the default interval), with the backend's default BLAS threads (all
cores but one: 1 on a 2-core machine; see `backends.numpy.train.default_threads`).

Keras side (the peer): the same network written by hand as a `keras.Sequential`, compiled
with the same loss, optimizer and metrics, trained by `model.fit(batch_size=32, verbose=0)`
after one warm-up epoch (so its graph tracing is not counted), with TensorFlow's default
threading. Keras runs in a worker process of its own (started by this script, TensorFlow
imported only there), so that neither side's thread pools spin on the cores while the other
side is measured; the NumPy side and the FLOP/s figures run in this process, which never
imports TensorFlow. Each side runs `--rounds` times, interleaved, with a short pause between
them; the best round of each is reported (this machine is shared, so the best round is the
one least disturbed).

Then: the float32 matmul FLOP/s of NumPy on this machine (square matrices, best of a few, all
cores), and the FLOP/s that the 28x28 CNN's convolution layers reach during NumPy training
(their forward and backward FLOPs divided by the time spent in the Conv2D kernels, im2col,
bias and activation included), as a fraction of the matmul figure: with the backend's default
threads, and with all cores.

Run: .venv/bin/python bench/numpy_vs_keras.py [--rounds 3] [--quick]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from netdesigner.backends import data  # noqa: E402
from netdesigner.backends.numpy import registry  # noqa: E402
from netdesigner.backends.numpy.model import compile_graph  # noqa: E402
from netdesigner.backends.numpy.train import blas_threads, default_threads, fit  # noqa: E402
from netdesigner.graph import Analysis, Graph, fileformat  # noqa: E402

TARGETS = {"mlp": 10.0, "cnn8": 2.0, "cnn28": 0.5}
CONV_TARGET = 0.25


# -- the networks -----------------------------------------------------------------------------

def cnn28_graph() -> Graph:
    g = Graph()
    specs = [("Input", {"shape": (28, 28, 1)}),
             ("Conv2D", {"filters": 32, "kernel_size": (3, 3), "activation": "relu"}),
             ("MaxPooling2D", {"pool_size": (2, 2)}),
             ("Conv2D", {"filters": 64, "kernel_size": (3, 3), "activation": "relu"}),
             ("MaxPooling2D", {"pool_size": (2, 2)}),
             ("Flatten", {}),
             ("Dense", {"units": 128, "activation": "relu"}),
             ("Dense", {"units": 10, "activation": "softmax"})]
    prev = None
    for type_id, params in specs:
        node = g.add_node(type_id, params)
        if prev is not None:
            g.connect(prev, 0, node, 0)
        prev = node
    g.training.update(loss="categorical_crossentropy", optimizer="adam",
                      optimizer_params={"learning_rate": 0.001, "beta_1": 0.9,
                                        "beta_2": 0.999, "epsilon": 1e-7},
                      batch_size=32, metrics=["accuracy"])
    return g


def keras_models():
    import keras
    L = keras.layers
    return {
        "mlp": lambda: keras.Sequential([
            keras.Input((64,)), L.Dense(32, activation="relu"),
            L.Dense(10, activation="softmax")]),
        "cnn8": lambda: keras.Sequential([
            keras.Input((8, 8, 1)),
            L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(),
            L.Conv2D(32, 3, padding="same", activation="relu"), L.MaxPooling2D(),
            L.Flatten(), L.Dense(64, activation="relu"), L.Dropout(0.25),
            L.Dense(10, activation="softmax")]),
        "cnn28": lambda: keras.Sequential([
            keras.Input((28, 28, 1)),
            L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
            L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(),
            L.Flatten(), L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")]),
    }


def datasets(quick: bool):
    """name -> (graph, x, y, epochs)."""
    out = {}
    digits = data.load("digits")
    for name, sample in (("mlp", "mlp_digits"), ("cnn8", "cnn_digits")):
        g = fileformat.load(ROOT / "samples" / f"{sample}.graph")
        a = Analysis(g, live=False)
        (i,), (o,) = g.inputs(), g.outputs()
        settings = dict(g.training, validation_split=0.0, test_split=0.0)
        split = data.prepare(digits, settings, a.output_shapes(i)[0], a.output_shapes(o)[0])
        epochs = {"mlp": 20, "cnn8": 5}[name] // (4 if quick else 1) or 1
        out[name] = (g, split.x_train, split.y_train, epochs)
    rng = np.random.default_rng(0)
    n = 512 if quick else 1024
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]
    out["cnn28"] = (cnn28_graph(), x, y, 1 if quick else 2)
    return out


# -- timing -----------------------------------------------------------------------------------

def time_numpy(graph, x, y, epochs, stats_every=0) -> float:
    settings = dict(graph.training, epochs=epochs, batch_size=32, early_stopping_patience=0)
    t = time.perf_counter()
    fit(graph, (x, y), settings, stats_every=stats_every)
    return len(x) * epochs / (time.perf_counter() - t)


PAUSE = 0.5          # seconds between the two sides: thread pools go back to sleep


def _keras_worker(conn) -> None:
    """The Keras side, in its own process: ("prepare", name, x, y, training) builds, compiles
    and warms up a network; ("run", name, epochs) trains it and answers samples/s."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    conn.send((tf.__version__, keras.__version__))
    builders, models = keras_models(), {}
    while True:
        message = conn.recv()
        if message[0] == "quit":
            break
        if message[0] == "prepare":
            _, name, x, y, training = message
            model = builders[name]()
            model.compile(loss=training["loss"],
                          optimizer=keras.optimizers.Adam(**training["optimizer_params"]),
                          metrics=list(training.get("metrics") or []))
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)      # warm-up: tracing
            models[name] = (model, x, y)
            conn.send("ready")
        elif message[0] == "run":
            _, name, epochs = message
            model, x, y = models[name]
            t = time.perf_counter()
            model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
            conn.send(len(x) * epochs / (time.perf_counter() - t))


class KerasWorker:
    def __init__(self):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_keras_worker, args=(child,), daemon=True)
        self.process.start()
        self.versions = self.conn.recv()

    def prepare(self, name, x, y, training) -> None:
        self.conn.send(("prepare", name, x, y, training))
        assert self.conn.recv() == "ready"

    def samples_per_second(self, name, epochs) -> float:
        self.conn.send(("run", name, epochs))
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send(("quit",))
        self.process.join(30)


def matmul_flops(threads=None, repeats=10) -> tuple[float, int]:
    """Best float32 matmul FLOP/s over a few sizes (threads None: NumPy's default, all
    cores)."""
    best, best_n = 0.0, 0
    rng = np.random.default_rng(0)
    context = blas_threads(threads) if threads else _nothing()
    with context:
        for n in (512, 1024, 2048):
            a = rng.random((n, n), dtype=np.float32)
            b = rng.random((n, n), dtype=np.float32)
            a @ b
            for _ in range(repeats):
                t = time.perf_counter()
                a @ b
                rate = 2 * n ** 3 / (time.perf_counter() - t)
                if rate > best:
                    best, best_n = rate, n
    return best, best_n


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def conv_flops(graph, x, y, batches=10, threads=None, rounds=8) -> tuple[float, float, float]:
    """(conv FLOP/s, share of the training step spent in convolutions, conv FLOPs per step)
    for NumPy training of `graph`, timing the Conv2D kernels inside the compiled model."""
    from netdesigner.backends.numpy.train import Trainer
    model = compile_graph(graph)
    trainer = Trainer(model)
    spent = [0.0]
    flops = [0.0]
    for s in model.steps:
        if s.type != "Conv2D":
            continue
        (h, w, c), (oh, ow, f) = s.input_shapes[0], s.output_shapes[0]
        kh, kw = s.params["kernel_size"]
        per_sample = 2 * oh * ow * f * kh * kw * c
        kernel = s.kernel

        def timed_forward(xx, weights, params, training, _k=kernel, _f=per_sample):
            t = time.perf_counter()
            out = _k.forward(xx, weights, params, training)
            spent[0] += time.perf_counter() - t
            flops[0] += _f * len(xx)
            return out

        def timed_backward(dy, cache, _k=kernel, _f=per_sample, _first=s.first):
            t = time.perf_counter()
            out = _k.backward(dy, cache)
            spent[0] += time.perf_counter() - t
            flops[0] += _f * len(dy) * (1 if _first else 2)     # dkernel (+ dx)
            return out

        s.kernel = registry.Kernel(kernel.type_id, timed_forward, timed_backward,
                                   kernel.weights, kernel.many_inputs, kernel.random,
                                   kernel.state)
    best_rate, share, per_step = 0.0, 0.0, 0.0
    with blas_threads(threads):
        trainer.train_batch([x[:32]], [y[:32]])
        for _ in range(rounds):                 # short rounds: the best is undisturbed
            spent[0] = flops[0] = 0.0
            t = time.perf_counter()
            for i in range(batches):
                j = (i * 32) % (len(x) - 32)
                trainer.train_batch([x[j:j + 32]], [y[j:j + 32]])
            total = time.perf_counter() - t
            rate = flops[0] / spent[0]
            if rate > best_rate:
                best_rate, share, per_step = rate, spent[0] / total, flops[0] / batches
    return best_rate, share, per_step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke test)")
    args = parser.parse_args()

    sets = datasets(args.quick)
    worker = KerasWorker()
    tf_version, keras_version = worker.versions
    print(f"NumPy {np.__version__}, TensorFlow {tf_version}, Keras {keras_version}, "
          f"{os.cpu_count()} CPU cores; batch 32; best of {args.rounds} interleaved rounds")
    print()
    header = (f"{'network':<8} {'samples':>8} {'NumPy/s':>10} {'NumPy+stats/s':>14} "
              f"{'Keras/s':>9} {'ratio':>7} {'target':>7}  reached")
    print(header)
    print("-" * len(header))
    ok = True
    for name, (graph, x, y, epochs) in sets.items():
        worker.prepare(name, x, y, graph.training)
        ours, ours_stats, theirs = 0.0, 0.0, 0.0
        for _ in range(args.rounds):
            time.sleep(PAUSE)
            ours = max(ours, time_numpy(graph, x, y, epochs))
            time.sleep(PAUSE)
            theirs = max(theirs, worker.samples_per_second(name, epochs))
            time.sleep(PAUSE)
            ours_stats = max(ours_stats, time_numpy(graph, x, y, epochs, stats_every=20))
        ratio = ours / theirs
        reached = ratio >= TARGETS[name]
        ok &= reached
        print(f"{name:<8} {len(x) * epochs:>8,} {ours:>10,.0f} {ours_stats:>14,.0f} "
              f"{theirs:>9,.0f} {ratio:>6.2f}x {TARGETS[name]:>6.1f}x  "
              f"{'yes' if reached else 'NO'}", flush=True)
    worker.close()
    print()
    peak, n = matmul_flops()
    peak1, n1 = matmul_flops(threads=1)
    graph, x, y, _ = sets["cnn28"]
    batches = 5 if args.quick else 10
    cores = os.cpu_count()
    print(f"float32 matmul, NumPy, all {cores} cores ({n}x{n}):  {peak / 1e9:8.1f} GFLOP/s")
    print(f"float32 matmul, NumPy, 1 thread ({n1}x{n1}):     {peak1 / 1e9:8.1f} GFLOP/s")
    for label, threads in ((f"{default_threads()} thread(s), the default", None),
                           (f"all {cores} cores", cores)):
        rate, share, per_step = conv_flops(graph, x, y, batches=batches, threads=threads)
        fraction = rate / peak
        if threads is None:
            ok &= fraction >= CONV_TARGET
        print(f"cnn28 convolutions, {label}: {rate / 1e9:6.1f} GFLOP/s = {fraction:.1%} of "
              f"the all-core matmul figure (target >= {CONV_TARGET:.0%}: "
              f"{'yes' if fraction >= CONV_TARGET else 'NO'}); {per_step / 1e6:.0f} MFLOP "
              f"per batch, {share:.0%} of the step time")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
