"""Training and command line of an exported script (supervised, autoencoder and VAE modes).

The exporter (`backends.export.script`) copies this module's imports and its functions, as they
are, into every such script, after the part it writes for the design.
"""
import argparse
import os

import numpy as np
import tensorflow as tf
import keras

# -- written by the exporter for each design (not copied) ----------------------------------------
# The script defines these above the copied functions. Here they hold the values of a script
# exported without weights or data; the functions are None until a caller binds them (the tests
# bind small models), so that running this module's code unbound fails at once.
GENERATED = ("WEIGHTS", "DATA", "BATCH_SIZE", "EPOCHS", "SEED", "RAW", "DECODE", "build_model",
             "make_loss", "compile_model", "greedy_decode")
WEIGHTS = None              # the .weights.h5 file beside the script
DATA = None                 # the .npz data file beside the script
BATCH_SIZE = 32
EPOCHS = 10
SEED = 0
# raw samples: the scaling fitted on the training split and the class names (the exporter
# writes them as numbers and strings; None when the export had no data set)
RAW = None
# a design trained with teacher forcing: what greedy decoding needs (the Inputs in the model's
# order, the one the decoder reads, the other one, the steps and the start token); else None
DECODE = None
build_model = None          # () -> keras.Model: the design
make_loss = None            # (reduction) -> keras.losses.Loss: the design's loss
compile_model = None        # (model) -> model, compiled with loss, optimizer and metrics
greedy_decode = None        # copied into the script from templates/decoding_runtime.py


# -- copied into the script ----------------------------------------------------------------------

def make_strategy(name):
    """none: one device; mirrored: every GPU of this machine; multi-worker: TF_CONFIG's cluster."""
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def custom_train(strategy, model, x, y, epochs, batch_size):
    """The training loop for the multi-worker strategy, where Keras 3's model.fit fails
    (keras-team/keras#20585): strategy.run of a GradientTape step with the Keras optimizer."""
    n_out = len(model.outputs)
    losses = [make_loss(reduction=None) for _ in range(n_out)]   # per-sample values
    optimizer = model.optimizer
    with strategy.scope():
        optimizer.build(model.trainable_variables)

    def replica_step(xb, yb):
        with tf.GradientTape() as tape:
            preds = model(xb, training=True)
            preds = list(preds) if n_out > 1 else [preds]
            ys = list(yb) if n_out > 1 else [yb]
            per_sample = tf.add_n([tf.reduce_sum(tf.cast(fn(t, p), tf.float32))
                                   for fn, t, p in zip(losses, ys, preds)])
            count = tf.cast(tf.shape(preds[0])[0], tf.float32)
            total = tf.distribute.get_replica_context().all_reduce("sum", count)
            loss = per_sample / tf.maximum(total, 1.0)
            if model.losses:
                loss += tf.add_n(model.losses) / strategy.num_replicas_in_sync
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    @tf.function
    def step(batch):
        per_replica = strategy.run(replica_step, args=batch)
        return strategy.reduce("sum", per_replica, axis=None)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    for epoch in range(epochs):
        data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=SEED + epoch)
        data = strategy.experimental_distribute_dataset(
            data.batch(batch_size).with_options(options))
        total, steps = 0.0, 0
        for batch in data:
            total += float(step(batch))
            steps += 1
        print(f"epoch {epoch + 1}/{epochs}: loss {total / max(steps, 1):.4f}")


def train(strategy_name="none", x=None, y=None, validation=None, epochs=EPOCHS,
          batch_size=BATCH_SIZE, weights=WEIGHTS):
    """The compiled model, with the weights when the file exists, trained on (x, y) if given:
    model.fit, or custom_train under the multi-worker strategy."""
    strategy = make_strategy(strategy_name)
    with strategy.scope():
        model = compile_model(build_model())
    if weights and os.path.exists(weights):
        model.load_weights(weights)
    elif x is not None:
        adapt_normalizations(model, x)
    if x is not None:
        if strategy_name == "multi-worker":
            custom_train(strategy, model, x, y, epochs, batch_size)
        else:
            model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation)
    return model


def load_data(path, n_inputs, n_outputs):
    """(x, y, validation) from an .npz: x_train, y_train, x_val, y_val (x_train_0, x_train_1,
    ... for several inputs); validation is None without x_val."""
    with np.load(path) as d:
        def get(prefix, n):
            if n == 1:
                return d[prefix] if prefix in d else None
            found = [d[f"{prefix}_{i}"] for i in range(n) if f"{prefix}_{i}" in d]
            return tuple(found) if found else None
        x, y = get("x_train", n_inputs), get("y_train", n_outputs)
        xv, yv = get("x_val", n_inputs), get("y_val", n_outputs)
    return x, y, ((xv, yv) if xv is not None else None)


def adapt_normalizations(model, x):
    """Fit every Normalization layer's mean and variance on the training inputs (what it
    receives there), before training from scratch: the designer does the same."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            upstream = keras.Model(model.inputs, layer.input)
            layer.adapt(upstream.predict(x, verbose=0))


def prepare_raw(x):
    """Raw samples, as in the data set, -> the network's input: the scaling fitted on the
    training split (min-max over all values, or each value's mean and standard deviation),
    then the Input's shape."""
    if RAW is None:
        raise SystemExit("this script was exported without a data set: it knows no scaling; "
                         "give it samples prepared as the network expects them")
    x = np.asarray(x)
    x = x.reshape((-1,) + tuple(RAW["raw_sample_shape"]))
    scaling = RAW["scaling"]
    if scaling.get("mode") == "minmax":
        lo, hi = scaling["min"], scaling["max"]
        x = (x - lo) / (hi - lo if hi > lo else 1.0)
    elif scaling.get("mode") == "standard":
        x = (x - np.asarray(scaling["mean"], np.float32)) / np.asarray(scaling["std"], np.float32)
    return x.astype(np.float32).reshape((-1,) + tuple(RAW["network_input_shape"]))


def predict_raw(model, x):
    """(the network's outputs, the class names or None) for raw samples."""
    y = model.predict(prepare_raw(x), verbose=0)
    classes = RAW["classes"]
    if not classes or np.ndim(y) != 2:
        return y, None
    if y.shape[1] == 1:
        ids = (y[:, 0] > RAW["binary_threshold"]).astype(int)
    else:
        ids = np.argmax(y, axis=-1)
    return y, [classes[i] for i in ids]


def decode_sequences(model, sources):
    """The tokens a teacher-forced model writes for source sequences (token ids, one row each)
    when its decoder reads its own previous prediction (greedy decoding, after DECODE's start
    token), as the designer decodes them."""
    def predict(feed):
        return model.predict([feed[name] for name in DECODE["inputs"]], verbose=0)
    sources = np.atleast_2d(np.asarray(sources)).astype(np.int32)     # one sequence: one row
    return greedy_decode(predict, {DECODE["source_input"]: sources}, DECODE["steps"],
                         DECODE["start"], DECODE["decoder_input"])


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.path.join(here, WEIGHTS) if WEIGHTS else None,
                        help="start from these weights (a .weights.h5 file)")
    parser.add_argument("--data", default=os.path.join(here, DATA) if DATA else None,
                        help="an .npz with x_train, y_train[, x_val, y_val]")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--strategy", choices=("none", "mirrored", "multi-worker"),
                        default="none")
    parser.add_argument("--save", help="write the trained weights here (.weights.h5)")
    parser.add_argument("--summary", action="store_true", help="only build and summarise")
    parser.add_argument("--predict", metavar="RAW.npy",
                        help="print the prediction (class name, or outputs) of each raw sample "
                             "in this .npy file (values as in the data set, before scaling); "
                             "a design trained with teacher forcing: the greedily decoded "
                             "tokens of each source sequence (token ids, one row each)")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(SEED)
    if args.predict:
        model = train(weights=args.weights)
        if DECODE is not None:
            for row in decode_sequences(model, np.load(args.predict, allow_pickle=False)):
                print(" ".join(str(int(token)) for token in row))
            return
        outputs, names = predict_raw(model, np.load(args.predict, allow_pickle=False))
        for i, row in enumerate(outputs):
            print(names[i] if names is not None else " ".join(repr(float(v))
                                                                for v in np.ravel(row)))
        return
    if args.summary or not args.data or not os.path.exists(args.data):
        model = train(weights=args.weights)
        model.summary()
        return
    layout = build_model()          # only for its numbers of inputs and outputs
    x, y, validation = load_data(args.data, len(layout.inputs), len(layout.outputs))
    model = train(args.strategy, x, y, validation, args.epochs, args.batch_size, args.weights)
    if args.save:
        model.save_weights(args.save)
