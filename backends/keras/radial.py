"""The Keras side of the RBF layer (Gaussian radial-basis units), a custom layer.

The class below is self-contained (it needs only `keras`): the standalone-script exporter
copies its source into the scripts it writes, so that they need nothing of this project.
"""
from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="netdesigner")
class RBF(keras.layers.Layer):
    """Gaussian radial-basis units: y_j = exp(-gamma_j * |x - c_j|^2) for centres c_j.

    Weights, in this order: `centers` (units, features) and, with learn_gamma, `gamma` (units,).
    """

    def __init__(self, units, gamma=1.0, learn_gamma=False, centers_initializer="uniform",
                 **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.gamma = float(gamma)
        self.learn_gamma = bool(learn_gamma)
        self.centers_initializer = centers_initializer

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"RBF expects inputs of shape (batch, features) with a known "
                             f"number of features, not {tuple(input_shape)}")
        init = (keras.initializers.RandomNormal(stddev=1.0)
                if self.centers_initializer == "normal"
                else keras.initializers.RandomUniform(-1.0, 1.0))
        self.centers = self.add_weight(shape=(self.units, int(input_shape[-1])),
                                       initializer=init, name="centers")
        if self.learn_gamma:
            self.gamma_weight = self.add_weight(
                shape=(self.units,), initializer=keras.initializers.Constant(self.gamma),
                name="gamma")

    def call(self, x):
        ops = keras.ops
        c = ops.cast(self.centers, x.dtype)
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, clipped at 0 against rounding
        d = (ops.sum(x * x, axis=-1, keepdims=True) - 2.0 * ops.matmul(x, ops.transpose(c))
             + ops.sum(c * c, axis=-1))
        d = ops.maximum(d, 0.0)
        gamma = ops.cast(self.gamma_weight, x.dtype) if self.learn_gamma else self.gamma
        return ops.exp(-gamma * d)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gamma": self.gamma,
                "learn_gamma": self.learn_gamma,
                "centers_initializer": self.centers_initializer}
