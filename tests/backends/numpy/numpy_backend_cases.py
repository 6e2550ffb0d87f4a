"""Layer configurations shared by the gradient checks and the Keras parity tests.

Each case is one layer type with some params and small input shapes (batch axis included).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from netdesigner.backends.numpy import registry
from netdesigner.graph.params import ACTIVATIONS


@dataclass
class Case:
    type_id: str
    params: dict
    shapes: list                     # input shapes, batch axis first
    ids: dict = field(default_factory=dict)   # input index -> vocabulary size (integer inputs)
    training: bool = False
    name: str = ""
    slow_in_keras: bool = False      # the Keras parity check runs under make test-long

    def __str__(self):
        return self.name or f"{self.type_id}-{self.params}"

    def full_params(self):
        return registry.full_params(self.type_id, self.params)

    def inputs(self, rng, dtype):
        xs = []
        for i, shape in enumerate(self.shapes):
            if i in self.ids:
                xs.append(rng.integers(0, self.ids[i], size=shape).astype(np.int32))
            else:
                xs.append(rng.normal(0, 1, size=shape).astype(dtype))
        return xs

    def weights(self, rng, dtype):
        """Fresh weights, then moved off their initial values (zero biases, unit gammas) so
        that every weight takes part in the check."""
        weights = registry.make_weights(self.type_id, self.params,
                                        [s[1:] for s in self.shapes], rng=rng, dtype=dtype)
        out = {}
        for name, w in weights.items():
            if name == "moving_variance":
                out[name] = rng.uniform(0.5, 1.5, w.shape).astype(dtype)
            else:
                out[name] = np.asarray(w + rng.uniform(-0.5, 0.5, w.shape), dtype=dtype)
        return out


def C(type_id, shapes, name="", ids=None, training=False, slow_in_keras=False, **params):
    return Case(type_id, params, [tuple(s) for s in shapes], ids or {}, training,
                name or f"{type_id}-" + "-".join(f"{k}={v}" for k, v in params.items()),
                slow_in_keras)


IMG = (2, 5, 6, 3)        # a small image batch
SEQ = (2, 4, 3)           # a small sequence batch
VOL = (2, 4, 5, 4, 2)     # a small volume batch (depth, height, width, channels)
CLIP = (2, 3, 4, 5, 2)    # a small batch of clips (steps, height, width, channels)

CASES = [
    # -- dense and activations
    *[C("Dense", [(3, 5)], units=4, activation=a) for a in ACTIVATIONS],
    C("Dense", [(2, 4, 5)], units=3, use_bias=False),
    *[C("Activation", [(3, 4, 5)], activation=a)
      for a in ("linear", "relu", "prelu", "sigmoid", "tanh", "softmax", "swish", "gelu")],
    C("Activation", [(3, 4)], activation="leaky_relu", negative_slope=0.1),
    C("Activation", [(3, 4)], activation="elu", alpha=0.5),
    C("Activation", [(3, 4)], activation="elu"),
    # -- noise (inference: identity)
    C("Dropout", [(3, 4)], rate=0.3),
    C("GaussianNoise", [(3, 4)], stddev=0.5),
    C("SpatialDropout1D", [SEQ], rate=0.3),
    C("SpatialDropout2D", [IMG], rate=0.3),
    # -- reshaping
    C("Flatten", [(2, 3, 4, 2)]),
    C("Reshape", [(2, 3, 4)], target_shape=(4, -1)),
    C("Reshape", [(2, 3, 4)], target_shape=(2, 3, 2)),
    C("Permute", [(2, 3, 4, 5)], dims=(2, 3, 1)),
    C("Permute", [(2, 3, 4)], dims=(2, 1)),
    C("RepeatVector", [(2, 4)], n=3),
    C("TimeDistributed", [SEQ], units=3, activation="tanh"),
    C("Embedding", [(2, 5)], ids={0: 7}, input_dim=7, output_dim=3),
    C("Sampling", [(3, 4), (3, 4)]),
    C("RBF", [(3, 4)], units=5, gamma=0.3),
    C("RBF", [(4, 2)], units=3, gamma=0.8, learn_gamma=True, centers_initializer="normal"),
    C("ActivityRegularization", [(3, 4)], l1=0.1, l2=0.01),
    C("Rescaling", [(3, 4)], scale=-2.5, offset=0.75),
    C("Rescaling", [(2, 3, 4)], scale=1 / 255),
    # -- convolutions
    C("Conv2D", [IMG], filters=4, kernel_size=(3, 3), activation="relu"),
    C("Conv2D", [IMG], filters=3, kernel_size=(3, 3), strides=(2, 2), padding="same"),
    C("Conv2D", [(2, 6, 6, 2)], filters=2, kernel_size=(2, 2), strides=(2, 2)),
    C("Conv2D", [IMG], filters=2, kernel_size=(3, 2), dilation_rate=(2, 2), padding="same"),
    C("Conv2D", [IMG], filters=2, kernel_size=(2, 3), strides=(1, 2), padding="same",
      use_bias=False, activation="tanh"),
    C("Conv1D", [(2, 7, 3)], filters=4, kernel_size=3),
    C("Conv1D", [(2, 7, 3)], filters=2, kernel_size=4, strides=2, padding="same"),
    C("Conv1D", [(2, 7, 3)], filters=2, kernel_size=3, dilation_rate=2, padding="causal"),
    C("Conv1D", [(2, 8, 2)], filters=3, kernel_size=2, strides=3, padding="causal",
      activation="sigmoid"),
    C("Conv2DTranspose", [(2, 3, 4, 3)], filters=2, kernel_size=(3, 3), strides=(2, 2)),
    C("Conv2DTranspose", [(2, 3, 4, 3)], filters=2, kernel_size=(3, 3), strides=(2, 2),
      padding="valid"),
    C("Conv2DTranspose", [(2, 3, 3, 2)], filters=3, kernel_size=(4, 3), strides=(2, 1),
      activation="relu"),
    C("Conv2DTranspose", [(2, 3, 3, 2)], filters=2, kernel_size=(1, 2), strides=(3, 3),
      padding="valid", use_bias=False),
    C("Conv2DTranspose", [(2, 3, 3, 2)], filters=2, kernel_size=(2, 2), strides=(3, 2)),
    C("Conv1DTranspose", [(2, 4, 3)], filters=2, kernel_size=3, strides=2),
    C("Conv1DTranspose", [(2, 4, 3)], filters=3, kernel_size=3, strides=2, padding="valid",
      activation="relu"),
    C("Conv1DTranspose", [(2, 5, 2)], filters=2, kernel_size=2, strides=3, use_bias=False),
    C("Conv1DTranspose", [(2, 5, 2)], filters=2, kernel_size=4, strides=1, padding="valid"),
    C("DepthwiseConv2D", [IMG], kernel_size=(3, 3), padding="same", depth_multiplier=2),
    C("DepthwiseConv2D", [IMG], kernel_size=(2, 3), strides=(2, 2), activation="relu"),
    C("DepthwiseConv2D", [IMG], kernel_size=(2, 2), dilation_rate=(2, 2), use_bias=False),
    C("DepthwiseConv2D", [(2, 7, 8, 2)], kernel_size=(3, 2), strides=(1, 2)),  # TF >= 2.21
    C("SeparableConv2D", [(2, 7, 8, 2)], filters=3, kernel_size=(2, 2), strides=(2, 1)),
    C("DepthwiseConv2D", [(2, 9, 8, 2)], kernel_size=(3, 2), strides=(2, 1),
      dilation_rate=(2, 2), padding="same"),
    C("SeparableConv2D", [IMG], filters=4, kernel_size=(3, 3), padding="same",
      depth_multiplier=2),
    C("SeparableConv2D", [IMG], filters=2, kernel_size=(2, 2), strides=(2, 2),
      activation="tanh"),
    C("SeparableConv2D", [IMG], filters=2, kernel_size=(2, 2), dilation_rate=(2, 1),
      use_bias=False),
    # -- positions
    C("PositionEmbedding", [SEQ], kind="learned"),
    C("PositionEmbedding", [(2, 5, 6)], kind="sinusoidal"),
    C("PositionEmbedding", [(2, 3, 5)], kind="sinusoidal", max_wavelength=50.0),
    # -- padding and up-sampling
    C("ZeroPadding2D", [IMG], padding=(1, 2)),
    C("ZeroPadding2D", [IMG], padding=(1, 0, 2, 1)),
    C("Cropping1D", [(2, 6, 3)], cropping=(1, 2)),
    C("Cropping1D", [(2, 5, 2)], cropping=(0, 1)),
    C("Cropping2D", [IMG], cropping=(1, 2)),
    C("Cropping2D", [IMG], cropping=(0, 2, 1, 0)),
    C("UpSampling2D", [(2, 3, 4, 2)], size=(2, 3)),
    C("UpSampling2D", [(2, 3, 4, 2)], size=(2, 2), interpolation="bilinear"),
    C("UpSampling2D", [(2, 3, 4, 2)], size=(3, 1), interpolation="bilinear"),
    # -- pooling
    *[C(f"{kind}Pooling2D", [IMG], pool_size=p, strides=s, padding=pad)
      for kind in ("Max", "Average")
      for p, s, pad in (((2, 2), None, "valid"), ((3, 3), (2, 2), "same"),
                        ((2, 3), (1, 1), "same"), ((2, 2), (1, 2), "valid"))],
    *[C(f"{kind}Pooling1D", [(2, 7, 3)], pool_size=p, strides=s, padding=pad)
      for kind in ("Max", "Average")
      for p, s, pad in ((2, None, "valid"), (3, 2, "same"), (2, 1, "same"))],
    *[C(f"Global{kind}Pooling{rank}D", [IMG if rank == 2 else SEQ], keepdims=k)
      for kind in ("Max", "Average") for rank in (1, 2) for k in (False, True)],
    # -- 3-D convolution and pooling, channels-first pooling
    C("Conv3D", [VOL], filters=3, kernel_size=(2, 3, 2), activation="relu"),
    C("Conv3D", [VOL], filters=2, kernel_size=(3, 3, 3), strides=(2, 1, 2), padding="same",
      slow_in_keras=True),
    C("Conv3D", [VOL], filters=2, kernel_size=(2, 2, 2), dilation_rate=(2, 1, 1),
      use_bias=False, activation="tanh", slow_in_keras=True),
    *[C(f"{kind}Pooling3D", [VOL], pool_size=p, strides=s, padding=pad)
      for kind in ("Max", "Average")
      for p, s, pad in (((2, 2, 2), None, "valid"), ((3, 2, 2), (2, 1, 2), "same"))],
    *[C(f"Global{kind}Pooling3D", [VOL], keepdims=k)
      for kind in ("Max", "Average") for k in (False, True)],
    C("MaxPooling2D", [IMG], pool_size=(2, 2), strides=(1, 2), data_format="channels_first"),
    C("AveragePooling1D", [(2, 3, 7)], pool_size=3, strides=2, padding="same",
      data_format="channels_first"),
    C("AveragePooling3D", [VOL], pool_size=(2, 2, 1), data_format="channels_first"),
    *[C("GlobalAveragePooling1D", [SEQ], keepdims=k, data_format="channels_first")
      for k in (False, True)],
    C("GlobalMaxPooling2D", [IMG], keepdims=True, data_format="channels_first"),
    # -- ConvLSTM2D
    C("ConvLSTM2D", [CLIP], filters=2, kernel_size=(3, 3)),
    C("ConvLSTM2D", [CLIP], filters=3, kernel_size=(2, 3), padding="valid", strides=(2, 1),
      return_sequences=True, go_backwards=True, slow_in_keras=True),
    C("ConvLSTM2D", [CLIP], filters=2, kernel_size=(2, 2), activation="relu",
      use_bias=False, return_sequences=True, slow_in_keras=True),
    # -- normalisation
    C("BatchNormalization", [(4, 3)]),
    C("BatchNormalization", [IMG], center=False, epsilon=0.01),
    C("BatchNormalization", [SEQ], scale=False),
    C("BatchNormalization", [(4, 3)], training=True, name="BatchNormalization-training"),
    C("BatchNormalization", [IMG], scale=False, training=True,
      name="BatchNormalization-training-noscale"),
    C("LayerNormalization", [(3, 5)]),
    C("LayerNormalization", [SEQ], center=False),
    C("LayerNormalization", [SEQ], scale=False, epsilon=0.1),
    # -- recurrent
    C("SimpleRNN", [SEQ], units=3),
    C("SimpleRNN", [SEQ], units=3, return_sequences=True, return_state=True,
      go_backwards=True, activation="relu"),
    C("SimpleRNN", [SEQ], units=2, use_bias=False, return_state=True),
    C("LSTM", [SEQ], units=3),
    C("LSTM", [SEQ], units=2, return_sequences=True, return_state=True),
    C("LSTM", [SEQ], units=2, go_backwards=True, use_bias=False, return_state=True),
    C("LSTM", [SEQ], units=2, return_sequences=True, activation="relu",
      recurrent_activation="tanh"),
    C("GRU", [SEQ], units=3),
    C("GRU", [SEQ], units=2, return_sequences=True, return_state=True, go_backwards=True),
    C("GRU", [SEQ], units=3, reset_after=False),
    C("GRU", [SEQ], units=2, reset_after=False, return_sequences=True, return_state=True,
      use_bias=False),
    C("GRU", [SEQ], units=2, use_bias=False),
    # starting from given states (the initial_h / initial_c ports), with and without sequences
    C("SimpleRNN", [SEQ, (2, 3)], units=3, name="SimpleRNN-initial-state"),
    C("SimpleRNN", [SEQ, (2, 2)], units=2, return_sequences=True, return_state=True,
      go_backwards=True, name="SimpleRNN-initial-state-sequences"),
    C("LSTM", [SEQ, (2, 3), (2, 3)], units=3, name="LSTM-initial-state"),
    C("LSTM", [SEQ, (2, 2), (2, 2)], units=2, return_sequences=True, return_state=True,
      name="LSTM-initial-state-sequences"),
    C("GRU", [SEQ, (2, 3)], units=3, name="GRU-initial-state"),
    C("GRU", [SEQ, (2, 2)], units=2, return_sequences=True, return_state=True,
      reset_after=False, name="GRU-reset-before-initial-state-sequences"),
    C("Bidirectional", [SEQ], layer="LSTM", units=2),
    C("Bidirectional", [SEQ], layer="GRU", units=2, merge_mode="sum", return_sequences=True),
    C("Bidirectional", [SEQ], layer="SimpleRNN", units=2, merge_mode="none",
      return_state=True),
    C("Bidirectional", [SEQ], layer="LSTM", units=2, merge_mode="ave", return_sequences=True,
      return_state=True),
    C("Bidirectional", [SEQ], layer="GRU", units=2, merge_mode="mul", reset_after=False),
    C("Bidirectional", [SEQ], layer="LSTM", units=2, merge_mode="none",
      return_sequences=True),
    # -- attention
    C("Attention", [(2, 3, 4), (2, 5, 4)]),
    C("Attention", [(2, 3, 4), (2, 5, 2), (2, 5, 4)], use_scale=True),
    C("Attention", [(2, 3, 4), (2, 5, 4)], score_mode="concat", use_scale=True),
    C("Attention", [(2, 3, 4), (2, 5, 3), (2, 5, 4)], score_mode="concat"),
    C("AdditiveAttention", [(2, 3, 4), (2, 5, 4)]),
    C("AdditiveAttention", [(2, 3, 4), (2, 5, 2), (2, 5, 4)], use_scale=False),
    C("MultiHeadAttention", [(2, 3, 4), (2, 5, 4)], num_heads=2, key_dim=3),
    C("MultiHeadAttention", [(2, 3, 4), (2, 5, 3), (2, 5, 2)], num_heads=3, key_dim=2,
      value_dim=4, use_bias=False),
    # -- merging
    C("Add", [(2, 3, 4), (2, 3, 4)]),
    C("Add", [(2, 3, 4), (2, 1, 4), (2, 3, 1)]),
    C("Subtract", [(2, 3, 4), (2, 3, 4)]),
    C("Subtract", [(2, 3, 4), (2, 3, 1)]),
    C("Multiply", [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    C("Multiply", [(2, 3, 4), (2, 1, 4)]),
    C("Average", [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    C("Maximum", [(2, 3, 4), (2, 3, 4), (2, 3, 4)]),
    C("Concatenate", [(2, 3, 4), (2, 3, 2)]),
    C("Concatenate", [(2, 3, 4), (2, 1, 4), (2, 2, 4)], axis=1),
    # -- preprocessing (the augmentation layers: inference, the identity)
    C("Normalization", [(3, 4)]),
    C("Normalization", [IMG], axis=1),
    C("Normalization", [SEQ], axis=None, invert=True),
    C("RandomFlip", [IMG]),
    C("RandomRotation", [IMG], factor=0.3),
    C("RandomTranslation", [IMG], height_factor=0.2, width_factor=0.3),
    C("RandomZoom", [IMG], height_factor=0.2),
]

# Random-number layers checked in training mode (the noise is drawn again from the same seed
# for every finite-difference evaluation, so the function being differentiated is fixed).
TRAINING_CASES = [
    C("Dropout", [(3, 4)], rate=0.4, training=True, name="Dropout-training"),
    C("GaussianNoise", [(3, 4)], stddev=0.5, training=True, name="GaussianNoise-training"),
    C("SpatialDropout1D", [(3, 5, 4)], rate=0.4, training=True,
      name="SpatialDropout1D-training"),
    C("SpatialDropout2D", [(3, 2, 3, 4)], rate=0.4, training=True,
      name="SpatialDropout2D-training"),
    C("Sampling", [(3, 4), (3, 4)], training=True, name="Sampling-training"),
    C("LSTM", [SEQ], units=2, dropout=0.3, recurrent_dropout=0.3, return_sequences=True,
      training=True, name="LSTM-dropout-training"),
    C("GRU", [SEQ], units=2, dropout=0.3, recurrent_dropout=0.3, training=True,
      name="GRU-dropout-training"),
    C("GRU", [SEQ], units=2, dropout=0.3, recurrent_dropout=0.3, reset_after=False,
      training=True, name="GRU-reset-before-dropout-training"),
    C("SimpleRNN", [SEQ], units=2, dropout=0.3, recurrent_dropout=0.3, training=True,
      name="SimpleRNN-dropout-training"),
    C("LSTM", [SEQ, (2, 2), (2, 2)], units=2, dropout=0.3, recurrent_dropout=0.3,
      return_state=True, training=True, name="LSTM-initial-state-dropout-training"),
    C("Attention", [(2, 3, 4), (2, 5, 4)], dropout=0.3, training=True,
      name="Attention-dropout-training"),
    C("AdditiveAttention", [(2, 3, 4), (2, 5, 4)], dropout=0.3, training=True,
      name="AdditiveAttention-dropout-training"),
    C("MultiHeadAttention", [(2, 3, 4), (2, 5, 4)], num_heads=2, key_dim=2, dropout=0.3,
      training=True, name="MultiHeadAttention-dropout-training"),
    C("RandomFlip", [(4, 3, 4, 2)], training=True, name="RandomFlip-training"),
    C("RandomRotation", [IMG], factor=0.3, training=True, name="RandomRotation-training"),
    C("RandomRotation", [IMG], factor=0.3, fill_mode="constant", fill_value=0.5,
      interpolation="nearest", training=True, name="RandomRotation-constant-nearest-training"),
    C("RandomTranslation", [IMG], height_factor=0.4, width_factor=0.4, fill_mode="wrap",
      training=True, name="RandomTranslation-wrap-training"),
    C("RandomZoom", [IMG], height_factor=0.3, width_factor=0.2, fill_mode="nearest",
      training=True, name="RandomZoom-training"),
    C("RandomZoom", [IMG], height_factor=0.4, training=True, name="RandomZoom-reflect-training"),
]
