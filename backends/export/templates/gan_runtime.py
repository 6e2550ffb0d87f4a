"""Training and command line of an exported GAN script (training mode "gan").

The exporter (`backends.export.gan_script`) copies this module's imports and its functions, as
they are, into every GAN script, after the part it writes for the design. `make_step` is also
the Keras backend's step (`backends.keras.gan`): the designer trains with this very code.
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
GENERATED = ("WEIGHTS", "DATA", "BATCH_SIZE", "EPOCHS", "SEED", "NOISE_SHAPE", "LOGITS",
             "build_models", "make_optimizer")
WEIGHTS = None              # the .weights.h5 file beside the script (both networks)
DATA = None                 # the .npz data file beside the script (x_train: real samples)
BATCH_SIZE = 32
EPOCHS = 10
SEED = 0
NOISE_SHAPE = (1,)          # the generator's input shape
LOGITS = False              # the discriminator gives logits (linear output), not probabilities
build_models = None         # () -> (generator, discriminator, both)
make_optimizer = None       # () -> a new optimizer with the design's settings


# -- copied into the script ----------------------------------------------------------------------

def make_step(generator, discriminator, g_opt, d_opt, logits):
    """One alternating step, (real, noise_d, noise_g) -> (g_loss, d_loss, d_accuracy): the
    discriminator on real (1) and generated (0) samples, then the generator through the frozen
    discriminator towards 1 (non-saturating loss). Each network has its own optimizer."""
    g_opt.build(generator.trainable_variables)
    d_opt.build(discriminator.trainable_variables)
    bce = keras.losses.BinaryCrossentropy(from_logits=logits)
    threshold = 0.0 if logits else 0.5

    @tf.function
    def step(real, noise_d, noise_g):
        fake = generator(noise_d, training=True)
        x = tf.concat([real, tf.cast(fake, real.dtype)], axis=0)
        labels = tf.concat([tf.ones((tf.shape(real)[0], 1)), tf.zeros((tf.shape(fake)[0], 1))],
                           axis=0)
        with tf.GradientTape() as tape:
            pred = discriminator(x, training=True)
            d_loss = bce(labels, pred)
            if discriminator.losses:
                d_loss += tf.add_n(discriminator.losses)
        d_vars = discriminator.trainable_variables
        d_opt.apply(tape.gradient(d_loss, d_vars), d_vars)
        right = tf.cast(tf.cast(pred > threshold, tf.float32) == labels, tf.float32)
        with tf.GradientTape() as tape:
            pred_fake = discriminator(generator(noise_g, training=True), training=True)
            g_loss = bce(tf.ones_like(pred_fake), pred_fake)
            if generator.losses:
                g_loss += tf.add_n(generator.losses)
        g_vars = generator.trainable_variables
        g_opt.apply(tape.gradient(g_loss, g_vars), g_vars)
        return g_loss, d_loss, tf.reduce_mean(right)

    return step


def train(x=None, epochs=EPOCHS, batch_size=BATCH_SIZE, weights=WEIGHTS):
    """(generator, discriminator, both), with the weights when the file exists, trained on the
    real samples x if given: shuffled batches, fresh noise for each half of every step."""
    generator, discriminator, both = build_models()
    if weights and os.path.exists(weights):
        both.load_weights(weights)
    if x is None:
        return generator, discriminator, both
    x = np.asarray(x, dtype="float32")
    step = make_step(generator, discriminator, make_optimizer(), make_optimizer(), LOGITS)
    rng = np.random.default_rng(SEED)
    batch_size = max(1, min(batch_size, len(x)))
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        sums, seen = np.zeros(3), 0
        for start in range(0, len(x), batch_size):
            real = x[order[start:start + batch_size]]
            k = len(real)
            noise_d, noise_g = (rng.standard_normal((k, *NOISE_SHAPE)).astype("float32")
                                for _ in range(2))
            sums += np.array([float(v) for v in step(real, noise_d, noise_g)]) * k
            seen += k
        g_loss, d_loss, d_acc = sums / seen
        print(f"epoch {epoch + 1}/{epochs}: loss {g_loss:.4f} (generator), d_loss "
              f"{d_loss:.4f}, d_accuracy {d_acc:.3f}")
    return generator, discriminator, both


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.path.join(here, WEIGHTS) if WEIGHTS else None,
                        help="start from these weights (a .weights.h5 file)")
    parser.add_argument("--data", default=os.path.join(here, DATA) if DATA else None,
                        help="an .npz with x_train (the real samples)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--samples", type=int, default=0, help="print this many generated "
                        "samples at the end")
    parser.add_argument("--save", help="write the trained weights here (.weights.h5)")
    parser.add_argument("--summary", action="store_true", help="only build and summarise")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(SEED)
    if args.summary or not args.data or not os.path.exists(args.data):
        generator, discriminator, _ = train(weights=args.weights)
        generator.summary()
        discriminator.summary()
        return
    with np.load(args.data) as d:
        x = d["x_train"]
    generator, _, both = train(x, args.epochs, args.batch_size, args.weights)
    if args.samples:
        noise = np.random.default_rng(SEED + 1).standard_normal((args.samples, *NOISE_SHAPE))
        print(np.asarray(generator(noise.astype("float32"), training=False)))
    if args.save:
        both.save_weights(args.save)
