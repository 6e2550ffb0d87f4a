"""What the designer's Keras backend costs over a hand-written Keras script.

Trains the same network twice in one process, in alternating rounds:

  hand-written  keras layers written out by hand, model.compile + model.fit on NumPy arrays
                (shuffle, validation data, verbose=0): what a user would write;
  designer      the .graph compiled by backends.keras, trained by backends.keras.train.fit with
                the streaming callback on: a batch event every batch, per-layer activation and
                gradient statistics every `stats_every` batches (the default, 20).

Both see the same data set, batch size, epochs and validation data. Throughput is training
samples per second in the steady state: the number of training samples over the median epoch
time of the epochs after the first (which traces the TensorFlow functions), each epoch's time
including its validation pass. The variants run one after the other within each round, so that
drift of the machine's load hits them alike; each figure is the median over the rounds. The
ratio designer / hand-written is the figure of merit (target >= 0.95); the designer is also run
with the statistics off, which isolates what gathering activations and gradients costs (target:
at most 5%).

    python bench/designer_overhead.py [--graph samples/cnn_digits.graph] [--epochs 8]
                                      [--rounds 3] [--stats-every 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))



def hand_written_cnn():
    """samples/cnn_digits.graph, written out by hand."""
    import keras
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Conv2D(16, (3, 3), padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x = keras.layers.Conv2D(32, (3, 3), padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    x = keras.layers.Dropout(0.25)(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def hand_written_mlp():
    """samples/mlp_digits.graph, written out by hand."""
    import keras
    inputs = keras.Input(shape=(64,))
    x = keras.layers.Dense(32, activation="relu")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


HAND_WRITTEN = {"cnn_digits": hand_written_cnn, "mlp_digits": hand_written_mlp}


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Epoch hooks only: keeps Keras's per-batch path as a plain script has it."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t0)

    return EpochTimer()


def run_hand_written(build, split, settings) -> tuple[float, float]:
    import keras
    keras.utils.set_random_seed(int(settings.get("seed", 0)))
    model = build()
    timer = _epoch_timer()
    t0 = time.perf_counter()
    model.fit(split.x_train, split.y_train, batch_size=int(settings["batch_size"]),
              epochs=int(settings["epochs"]), validation_data=(split.x_val, split.y_val),
              shuffle=True, verbose=0, callbacks=[timer])
    total = time.perf_counter() - t0
    n = len(split.x_train)
    return n / statistics.median(timer.seconds[1:]), n * len(timer.seconds) / total


def run_designer(flat, split, settings, stats_every: int) -> tuple[float, float, dict]:
    from netdesigner.backends import protocol
    from netdesigner.backends.keras.train import fit
    recorder = protocol.Recorder()
    result = fit(flat, split, settings, on_event=recorder, should_stop=lambda: False,
                 stats_every=stats_every)
    seconds = [e["seconds"] for e in recorder.of("epoch")]
    n = len(split.x_train)
    steady = n / statistics.median(seconds[1:])
    times = result.extra.get("stats_times", [])
    counts = {"batch": len(recorder.of("batch")), "layer_stats": len(recorder.of("layer_stats")),
              "stats_seconds": result.extra.get("stats_seconds", 0.0),
              "first": times[0] if times else 0.0,
              "steady": statistics.median(times[1:]) if len(times) > 1 else 0.0,
              # share of the steady epochs' time spent in the statistics, measured directly
              "share": (sum(times[1:]) / sum(seconds[1:])) if len(times) > 1 else 0.0}
    return steady, n * len(seconds) / result.seconds, counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="samples/cnn_digits.graph")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stats-every", type=int, default=20)
    args = parser.parse_args(argv)

    from netdesigner.backends.jobs import prepare
    from netdesigner.graph import fileformat
    graph = fileformat.load(args.graph)
    name = os.path.splitext(os.path.basename(args.graph))[0]
    if name not in HAND_WRITTEN:
        print(f"no hand-written twin for {name}: choose one of {', '.join(HAND_WRITTEN)}")
        return 2
    graph.training["epochs"] = args.epochs
    prepared = prepare(graph, os.path.dirname(os.path.abspath(args.graph)))
    flat, split = prepared.network, prepared.split
    settings = dict(graph.training)

    import tensorflow as tf
    print(f"TensorFlow {tf.__version__}, devices: "
          f"{', '.join(d.name for d in tf.config.list_logical_devices()) or 'CPU'}")
    print(f"{name}: {len(split.x_train)} training samples, batch {settings['batch_size']}, "
          f"{args.epochs} epochs, {args.rounds} rounds, layer stats every {args.stats_every} "
          f"batches")
    hand, designer, plain = [], [], []
    counts = {}
    shares, steady_ms, first_s = [], [], []
    for r in range(args.rounds):
        hand.append(run_hand_written(HAND_WRITTEN[name], split, settings)[0])
        steady, _, counts = run_designer(flat, split, settings, args.stats_every)
        designer.append(steady)
        shares.append(counts["share"])
        steady_ms.append(counts["steady"] * 1000)
        first_s.append(counts["first"])
        plain.append(run_designer(flat, split, settings, 0)[0])
        print(f"  round {r + 1}: hand-written {hand[-1]:,.0f}/s, designer {designer[-1]:,.0f}/s "
              f"(stats off: {plain[-1]:,.0f}/s)")
    h, d, p = (statistics.median(v) for v in (hand, designer, plain))
    print(f"events per run: {counts['batch']} batch, {counts['layer_stats']} layer_stats; "
          f"a report takes {statistics.median(steady_ms):.1f} ms (the first, which traces the "
          f"probe function, {statistics.median(first_s):.2f} s)")
    print(f"hand-written Keras:             {h:10,.0f} samples/s")
    print(f"designer (streaming, stats):    {d:10,.0f} samples/s")
    print(f"designer (streaming, no stats): {p:10,.0f} samples/s")
    print(f"throughput ratio designer / hand-written: {d / h:.3f} (target >= 0.95)")
    print(f"cost of the layer statistics (target <= 5%): {statistics.median(shares):.1%} of the "
          f"steady epochs' time, timed inside the runs; {1 - d / p:+.1%} from the throughputs "
          f"with and without them (noisier); designer without them / hand-written: {p / h:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
