"""The hand-written part of every exported script, kept as ordinary modules.

An exported script is a generated part (the design's layers, loss, optimizer, constants) and a
fixed part (training loops, data loading, the command line). The fixed part lives here as real
Python, so that it is linted, imported and tested like the rest of the project; the exporter
copies its source into each script (`backends.export.codegen.template_source`).

* `supervised_runtime` — supervised, autoencoder and VAE scripts;
* `decoding_runtime` — greedy decoding (copied into supervised scripts; `backends.decoding`
  imports it, so that the designer and a script decode alike);
* `gan_runtime` — GAN scripts; its `make_step` is also the Keras backend's GAN step
  (`backends.keras.gan`), so the designer and the exported script train alike.

Rules for these modules, because their code is pasted into a script that must run alone: they
import only the standard library, NumPy, TensorFlow and Keras (never this project), and every
other name their functions use is either one of their own functions or one of the names the
generated part defines, listed in the module's `GENERATED` tuple and bound to a stand-in value
at module level (the stand-ins are not copied; tests bind real values).
"""
