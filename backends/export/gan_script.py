"""The standalone script of a GAN design (training mode "gan"): both networks and the loop.

`backends.export.script.script_source` hands GAN designs here. The script, like every exported
script, imports only Keras, TensorFlow and NumPy. It is written in two parts:

* generated here for the design: the constants (files beside the script, batch size, epochs,
  seed, the noise shape, whether the discriminator gives logits), `build_models()` — one line
  per layer (checked as for every script), returning the generator, the discriminator and the
  two as one model (`both`, the layout of the weights file written beside the script) — and
  `make_optimizer()`;
* copied from `templates/gan_runtime.py`, as written there: `make_step` (the alternating step,
  the very one the Keras backend trains with), `train(x, ...)` (per batch the discriminator on
  real (label 1) and generated (label 0) samples, then the generator through the frozen
  discriminator towards label 1, each net with its own optimizer) and `main`, the command line:
  `python gan.py [--data D.npz] [--epochs N] [--save OUT.weights.h5] [--samples N]` (the data
  file holds x_train: the real samples, prepared).
"""
from __future__ import annotations

from netdesigner.backends.keras.compiler import build_model, flatten_design, model_name, output_refs
from netdesigner.graph.gan import split_gan

from .codegen import (MAIN_GUARD, Names, constants, quiet_start_source, script_header,
                      template_functions, template_imports)
from .keras_code import LayerLines, optimizer_source
from .templates import gan_runtime


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
    layers = LayerLines(flat, model, names, check=check, one_output_per_layer=True)
    both_in = "[" + ", ".join(names.get(i, 0) for i in flat.inputs()) + "]"
    both_out = "[" + ", ".join(names.get(n, p) for n, p in output_refs(flat)) + "]"

    epochs = int(settings.get("epochs", 10))
    usage = _USAGE.format(script=script_name or "gan.py", epochs=epochs)
    generated = _GENERATED.format(
        constants=constants({"WEIGHTS": weights_file, "DATA": data_file,
                             "BATCH_SIZE": int(settings.get("batch_size", 32)),
                             "EPOCHS": epochs, "SEED": int(settings.get("seed", 0)),
                             "NOISE_SHAPE": tuple(parts.noise_shape)}),
        logits=bool(parts.logits), body=layers.body(), noise=names.get(parts.noise_input, 0),
        fake=names.get(parts.generator_output, 0), sample=names.get(parts.sample_input, 0),
        verdict=names.get(parts.discriminator_output, 0), both_in=both_in, both_out=both_out,
        optimizer=optimizer_source(settings, indent=4))
    text = "\n\n".join([
        script_header(str(graph.metadata.get("title") or model.name), source_name,
                      str(graph.metadata.get("description") or "").strip(), usage)
        + "\n" + quiet_start_source() + "\n\n" + template_imports(gan_runtime),
        *layers.custom, generated, template_functions(gan_runtime)]) + MAIN_GUARD
    compile(text, source_name or "<script>", "exec")      # a syntax error is a bug here
    return text


_USAGE = '''
A generative adversarial network: a generator makes samples from noise, a discriminator tells
them from real ones; they train in turns. Needs only TensorFlow and Keras 3.

    python {script} --summary                 # build both (with the weights beside it)
    python {script} --data data.npz --epochs {epochs} --samples 5 --save out.weights.h5

The data file holds x_train: the real samples, prepared as the discriminator expects them.
'''

# the part of the script written for the design; the rest comes from gan_runtime
_GENERATED = '''\
# files beside this script: the trained weights (.weights.h5) and the prepared data (.npz)
{constants}
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
'''
