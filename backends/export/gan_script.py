"""The standalone script of a GAN design (training mode "gan"): both networks and the loop.

`backends.export.script.script_source` hands GAN designs here. The script, like every exported
script, imports only Keras, TensorFlow and NumPy. It holds:

* `build_models()` — one line per layer (checked as `script.py` checks them), returning the
  generator, the discriminator and the two as one model (`both`, the layout of the weights
  file written beside the script);
* `train(x, ...)` — the alternating loop of `backends.keras.gan`: per batch the discriminator on
  real (label 1) and generated (label 0) samples, then the generator through the frozen
  discriminator towards label 1 (non-saturating loss), each net with its own optimizer;
* a command line: `python gan.py [--data D.npz] [--epochs N] [--save OUT.weights.h5]
  [--samples N]` (the data file holds x_train: the real samples, prepared).
"""
from __future__ import annotations

from netdesigner.backends.keras.compiler import build_model, flatten_design, model_name, output_refs
from netdesigner.graph.gan import split_gan

from . import ExportError
from .script import (_IMPORTS, Names, _call_args, _check_layer, _optimizer_source, _paragraph,
                     _statement, layer_parts, render_value)


def gan_script_source(graph, settings: dict | None = None, *, weights_file: str | None = None,
                      data_file: str | None = None, source_name: str = "", model=None,
                      check: bool = True, script_name: str = "") -> str:
    """The script's text (arguments as `script.script_source`)."""
    settings = dict(graph.training if settings is None else settings)
    parts = split_gan(graph)
    flat = flatten_design(graph)
    if model is None:
        model = build_model(flat, name=model_name(graph))
    names = Names()
    lines = []
    for n in flat.topological_order():
        node = flat.node(n)
        if node.type == "Input":
            p = node.params
            lines.append(_statement(names.get(n, 0), "keras.Input", [
                f"shape={render_value(tuple(p['shape']))}", f"dtype={render_value(p['dtype'])}",
                f"name={render_value(n)}"], ""))
            continue
        layer = model.get_layer(n)
        path, args = layer_parts(layer)
        if check:
            _check_layer(layer, f"{path}({', '.join(args)})")
        if flat.output_count(n) != 1:
            raise ExportError(f"{n}: a layer with several outputs cannot be written in a GAN "
                              f"script")
        ins = [names.get(e.source, e.source_port) for e in flat.in_edges(n)]
        lines.append(_statement(names.get(n, 0), path, args, _call_args(node.type, ins)))
    both_in = "[" + ", ".join(names.get(i, 0) for i in flat.inputs()) + "]"
    both_out = "[" + ", ".join(names.get(n, p) for n, p in output_refs(flat)) + "]"

    title = str(graph.metadata.get("title") or model.name)
    header = f'"""{title}' + (f" - exported by netdesigner from {source_name}"
                              if source_name else "") + ".\n"
    description = str(graph.metadata.get("description") or "").strip()
    if description:
        header += "\n" + _paragraph(description) + "\n"
    header += _USAGE.format(script=script_name or "gan.py",
                            epochs=int(settings.get("epochs", 10)))
    header += '"""\n'
    text = header + _IMPORTS + _TEMPLATE.format(
        body="\n".join(lines), noise=names.get(parts.noise_input, 0),
        fake=names.get(parts.generator_output, 0), sample=names.get(parts.sample_input, 0),
        verdict=names.get(parts.discriminator_output, 0), both_in=both_in, both_out=both_out,
        optimizer=_optimizer_source(settings), logits=parts.logits,
        noise_shape=render_value(tuple(parts.noise_shape)),
        batch_size=int(settings.get("batch_size", 32)), epochs=int(settings.get("epochs", 10)),
        seed=int(settings.get("seed", 0)),
        weights=render_value(weights_file) if weights_file else "None",
        data=render_value(data_file) if data_file else "None")
    compile(text, source_name or "<script>", "exec")      # a syntax error is a bug here
    return text


_USAGE = '''
A generative adversarial network: a generator makes samples from noise, a discriminator tells
them from real ones; they train in turns. Needs only TensorFlow and Keras 3.

    python {script} --summary                 # build both (with the weights beside it)
    python {script} --data data.npz --epochs {epochs} --samples 5 --save out.weights.h5

The data file holds x_train: the real samples, prepared as the discriminator expects them.
'''

_TEMPLATE = '''

# files beside this script: the trained weights (.weights.h5) and the prepared data (.npz)
WEIGHTS = {weights}
DATA = {data}
BATCH_SIZE = {batch_size}
EPOCHS = {epochs}
SEED = {seed}
NOISE_SHAPE = {noise_shape}
LOGITS = {logits}      # the discriminator gives logits (linear output), not probabilities


def build_models():
    """(generator, discriminator, both): `both` holds every layer, as the weights file does."""
{body}
    generator = keras.Model(inputs={noise}, outputs={fake}, name="generator")
    discriminator = keras.Model(inputs={sample}, outputs={verdict}, name="discriminator")
    both = keras.Model(inputs={both_in}, outputs={both_out}, name="gan")
    return generator, discriminator, both


def make_optimizer():
    return {optimizer}


def make_step(generator, discriminator):
    """One alternating step: the discriminator on real (1) and generated (0) samples, then the
    generator through the frozen discriminator towards 1 (non-saturating loss)."""
    g_opt, d_opt = make_optimizer(), make_optimizer()
    g_opt.build(generator.trainable_variables)
    d_opt.build(discriminator.trainable_variables)
    bce = keras.losses.BinaryCrossentropy(from_logits=LOGITS)
    threshold = 0.0 if LOGITS else 0.5

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
    generator, discriminator, both = build_models()
    if weights and os.path.exists(weights):
        both.load_weights(weights)
    if x is None:
        return generator, discriminator, both
    x = np.asarray(x, dtype="float32")
    step = make_step(generator, discriminator)
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
        print(f"epoch {{epoch + 1}}/{{epochs}}: loss {{g_loss:.4f}} (generator), d_loss "
              f"{{d_loss:.4f}}, d_accuracy {{d_acc:.3f}}")
    return generator, discriminator, both


def main():
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
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
'''
