"""The Keras side of PositionEmbedding (learned or sinusoidal positions), a custom layer.

The class below is self-contained (it needs only `keras`): the standalone-script exporter
copies its source into the scripts it writes, so that they need nothing of this project.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="netdesigner")
class PositionEmbedding(keras.layers.Layer):
    """Adds a (steps, dim) table of positions to a sequence (batch, steps, dim).

    kind="learned": the table is a weight, `embeddings` (steps, dim), glorot-uniform at first.
    kind="sinusoidal": the fixed table of "Attention is all you need", interleaved as in
    keras_hub's SinePositionEncoding: entry (p, i) is sin(p * r) for even i and cos(p * r) for
    odd i, with r = max_wavelength ** (-2 * (i // 2) / dim).
    """

    def __init__(self, kind="learned", max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.kind = str(kind)
        self.max_wavelength = float(max_wavelength)

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None or (
                self.kind == "learned" and input_shape[1] is None):
            raise ValueError(f"PositionEmbedding expects inputs of shape (batch, steps, dim) "
                             f"with a known dim (and known steps when learned), not "
                             f"{tuple(input_shape)}")
        if self.kind == "learned":
            self.embeddings = self.add_weight(
                shape=(int(input_shape[1]), int(input_shape[2])), initializer="glorot_uniform",
                name="embeddings")

    def call(self, x):
        ops = keras.ops
        if self.kind == "learned":
            return x + ops.cast(self.embeddings, x.dtype)
        steps, dim = ops.shape(x)[1], x.shape[-1]
        positions = ops.cast(ops.arange(steps), "float32")[:, None]
        index = ops.arange(dim)
        rates = ops.power(self.max_wavelength,
                          -2.0 * ops.cast(index // 2, "float32") / float(dim))
        angles = positions * rates[None, :]
        table = ops.where(index % 2 == 0, ops.sin(angles), ops.cos(angles))
        return x + ops.cast(table, x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind,
                "max_wavelength": self.max_wavelength}
