"""Keras builders: one function per catalog layer type, turning a node's parameters into a
Keras layer.

`KERAS_BUILDERS[type_id](params, name)` returns a fresh `keras.layers.Layer` named after the
node; `call_layer(layer, type_id, inputs)` applies it to a list of Keras tensors the way that
layer expects and always returns a list of output tensors, one per output port of the catalog
type. Types that are deliberately not built here are listed, with the reason, in `NOT_BUILT`.

Every catalog parameter is mapped to its Keras argument; tests check that the registry covers
the catalog and that Keras agrees with the catalog's shape rules and parameter counts.
"""
from __future__ import annotations

from typing import Callable

import keras

from netdesigner.graph.catalog import CATALOG

from .position import PositionEmbedding
from .radial import RBF

Builder = Callable[[dict, str], keras.layers.Layer]

KERAS_BUILDERS: dict[str, Builder] = {}

#: catalog types that have no builder of their own, and why
NOT_BUILT: dict[str, str] = {
    "Block": "expanded by the compiler into its layers",
}


def builds(type_id: str) -> Callable[[Builder], Builder]:
    """Register the decorated function as the builder of a catalog layer type."""
    if type_id not in CATALOG or CATALOG.resolve(type_id) != type_id:
        raise ValueError(f"cannot register a Keras builder for {type_id!r}: it is not a layer "
                         f"type of the catalog")
    if type_id in NOT_BUILT:
        raise ValueError(f"{type_id!r} is not built by the Keras backend: {NOT_BUILT[type_id]}")

    def register(fn: Builder) -> Builder:
        if type_id in KERAS_BUILDERS:
            raise ValueError(f"a Keras builder for {type_id!r} is registered twice")
        KERAS_BUILDERS[type_id] = fn
        return fn
    return register


def build_layer(type_id: str, params: dict, name: str) -> keras.layers.Layer:
    """The Keras layer of one node (parameters as stored on the node, all present)."""
    type_id = CATALOG.resolve(type_id)
    try:
        builder = KERAS_BUILDERS[type_id]
    except KeyError:
        why = NOT_BUILT.get(type_id, "no builder is registered")
        raise KeyError(f"the Keras backend cannot build a {type_id!r} layer: {why}") from None
    layer = builder(params, name)
    if params.get("trainable") is False:       # frozen: the optimizer leaves its weights alone
        layer.trainable = False
    return layer


# -- helpers ----------------------------------------------------------------------------------

def regularizer(p: dict):
    """L1/L2 penalty from the l1 and l2 parameters, or None when both are 0."""
    l1, l2 = float(p.get("l1", 0.0) or 0.0), float(p.get("l2", 0.0) or 0.0)
    if l1 == 0.0 and l2 == 0.0:
        return None
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def _tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _optional_tuple(value):
    return None if value is None else _tuple(value)


# -- Input ------------------------------------------------------------------------------------

@builds("Input")
def input_layer(p, name):
    return keras.layers.InputLayer(shape=tuple(p["shape"]), dtype=p["dtype"], name=name)


# -- core -------------------------------------------------------------------------------------

def _dense(p, name):
    return keras.layers.Dense(p["units"], activation=p["activation"], use_bias=p["use_bias"],
                              kernel_regularizer=regularizer(p), name=name)


@builds("Dense")
def dense(p, name):
    return _dense(p, name)


@builds("Activation")
def activation(p, name):
    kind = p["activation"]
    if kind == "prelu":
        return keras.layers.PReLU(name=name)
    if kind == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=p["negative_slope"], name=name)
    if kind == "elu":
        return keras.layers.ELU(alpha=p["alpha"], name=name)
    return keras.layers.Activation(kind, name=name)


@builds("Dropout")
def dropout(p, name):
    return keras.layers.Dropout(p["rate"], name=name)


@builds("SpatialDropout1D")
def spatial_dropout1d(p, name):
    return keras.layers.SpatialDropout1D(p["rate"], name=name)


@builds("SpatialDropout2D")
def spatial_dropout2d(p, name):
    return keras.layers.SpatialDropout2D(p["rate"], name=name)


@builds("GaussianNoise")
def gaussian_noise(p, name):
    return keras.layers.GaussianNoise(p["stddev"], name=name)


@builds("Flatten")
def flatten(p, name):
    return keras.layers.Flatten(name=name)


@builds("Reshape")
def reshape(p, name):
    return keras.layers.Reshape(tuple(p["target_shape"]), name=name)


@builds("Permute")
def permute(p, name):
    return keras.layers.Permute(tuple(p["dims"]), name=name)


@builds("RepeatVector")
def repeat_vector(p, name):
    return keras.layers.RepeatVector(p["n"], name=name)


@builds("TimeDistributed")
def time_distributed(p, name):
    return keras.layers.TimeDistributed(_dense(p, f"{name}_dense"), name=name)


@builds("Embedding")
def embedding(p, name):
    return keras.layers.Embedding(p["input_dim"], p["output_dim"], mask_zero=p["mask_zero"],
                                  embeddings_regularizer=regularizer(p), name=name)


@keras.saving.register_keras_serializable(package="netdesigner")
class Sampling(keras.layers.Layer):
    """VAE reparameterisation: z = mean + exp(log_var / 2) * eps with eps ~ N(0, 1).

    Called on [mean, log_var], which must have the same shape. Adds `kl_weight` times the KL
    divergence of N(mean, exp(log_var)) from N(0, 1) (summed over the code, averaged over the
    batch) to the model's losses.
    """

    def __init__(self, seed=None, kl_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.kl_weight = float(kl_weight)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        mean, log_var = inputs
        if self.kl_weight:
            kl = -0.5 * keras.ops.sum(1 + log_var - keras.ops.square(mean)
                                      - keras.ops.exp(log_var))
            batch = keras.ops.cast(keras.ops.shape(mean)[0], kl.dtype)
            self.add_loss(self.kl_weight * kl / batch)
        if not training:             # inference: the most likely code, so results repeat
            return mean
        eps = keras.random.normal(keras.ops.shape(mean), dtype=mean.dtype,
                                  seed=self.seed_generator)
        return mean + keras.ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        mean, log_var = input_shape
        if tuple(mean)[1:] != tuple(log_var)[1:]:
            raise ValueError(f"Sampling needs mean and log_var of the same shape; got "
                             f"{tuple(mean)} and {tuple(log_var)}")
        return tuple(mean)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "kl_weight": self.kl_weight}


@builds("Sampling")
def sampling(p, name):
    return Sampling(kl_weight=p["kl_weight"], name=name)


@builds("Rescaling")
def rescaling(p, name):
    return keras.layers.Rescaling(scale=p["scale"], offset=p["offset"], name=name)


@builds("ActivityRegularization")
def activity_regularization(p, name):
    return keras.layers.ActivityRegularization(l1=p["l1"], l2=p["l2"], name=name)


# -- convolution ------------------------------------------------------------------------------

@builds("Conv1D")
def conv1d(p, name):
    return keras.layers.Conv1D(
        p["filters"], _tuple(p["kernel_size"]), strides=_tuple(p["strides"]),
        padding=p["padding"], dilation_rate=_tuple(p["dilation_rate"]),
        activation=p["activation"], use_bias=p["use_bias"], kernel_regularizer=regularizer(p),
        name=name)


@builds("Conv2D")
def conv2d(p, name):
    return keras.layers.Conv2D(
        p["filters"], _tuple(p["kernel_size"]), strides=_tuple(p["strides"]),
        padding=p["padding"], dilation_rate=_tuple(p["dilation_rate"]),
        activation=p["activation"], use_bias=p["use_bias"], kernel_regularizer=regularizer(p),
        name=name)


@builds("Conv3D")
def conv3d(p, name):
    return keras.layers.Conv3D(
        p["filters"], _tuple(p["kernel_size"]), strides=_tuple(p["strides"]),
        padding=p["padding"], dilation_rate=_tuple(p["dilation_rate"]),
        activation=p["activation"], use_bias=p["use_bias"], kernel_regularizer=regularizer(p),
        name=name)


@builds("Conv2DTranspose")
def conv2d_transpose(p, name):
    return keras.layers.Conv2DTranspose(
        p["filters"], _tuple(p["kernel_size"]), strides=_tuple(p["strides"]),
        padding=p["padding"], activation=p["activation"], use_bias=p["use_bias"],
        kernel_regularizer=regularizer(p), name=name)


@builds("Conv1DTranspose")
def conv1d_transpose(p, name):
    return keras.layers.Conv1DTranspose(
        p["filters"], p["kernel_size"], strides=p["strides"], padding=p["padding"],
        activation=p["activation"], use_bias=p["use_bias"], kernel_regularizer=regularizer(p),
        name=name)


@builds("DepthwiseConv2D")
def depthwise_conv2d(p, name):
    return keras.layers.DepthwiseConv2D(
        _tuple(p["kernel_size"]), strides=_tuple(p["strides"]), padding=p["padding"],
        depth_multiplier=p["depth_multiplier"], dilation_rate=_tuple(p["dilation_rate"]),
        activation=p["activation"], use_bias=p["use_bias"],
        depthwise_regularizer=regularizer(p), name=name)


@builds("SeparableConv2D")
def separable_conv2d(p, name):
    return keras.layers.SeparableConv2D(
        p["filters"], _tuple(p["kernel_size"]), strides=_tuple(p["strides"]),
        padding=p["padding"], depth_multiplier=p["depth_multiplier"],
        dilation_rate=_tuple(p["dilation_rate"]), activation=p["activation"],
        use_bias=p["use_bias"], depthwise_regularizer=regularizer(p),
        pointwise_regularizer=regularizer(p), name=name)


@builds("ZeroPadding2D")
def zero_padding2d(p, name):
    pad = tuple(p["padding"])
    top, bottom, left, right = (pad[0], pad[0], pad[1], pad[1]) if len(pad) == 2 else pad
    return keras.layers.ZeroPadding2D(((top, bottom), (left, right)), name=name)


@builds("Cropping1D")
def cropping1d(p, name):
    return keras.layers.Cropping1D(tuple(p["cropping"]), name=name)


@builds("Cropping2D")
def cropping2d(p, name):
    c = tuple(p["cropping"])
    top, bottom, left, right = (c[0], c[0], c[1], c[1]) if len(c) == 2 else c
    return keras.layers.Cropping2D(((top, bottom), (left, right)), name=name)


@builds("UpSampling2D")
def upsampling2d(p, name):
    return keras.layers.UpSampling2D(_tuple(p["size"]), interpolation=p["interpolation"],
                                     name=name)


# -- pooling ----------------------------------------------------------------------------------

def _pooling(cls):
    def build(p, name):
        return cls(pool_size=_tuple(p["pool_size"]), strides=_optional_tuple(p["strides"]),
                   padding=p["padding"], data_format=p["data_format"], name=name)
    return build


def _global_pooling(cls):
    def build(p, name):
        return cls(keepdims=p["keepdims"], data_format=p["data_format"], name=name)
    return build


for _kind in ("Max", "Average"):
    for _rank in (1, 2, 3):
        builds(f"{_kind}Pooling{_rank}D")(
            _pooling(getattr(keras.layers, f"{_kind}Pooling{_rank}D")))
        builds(f"Global{_kind}Pooling{_rank}D")(
            _global_pooling(getattr(keras.layers, f"Global{_kind}Pooling{_rank}D")))


# -- normalisation ----------------------------------------------------------------------------

@builds("BatchNormalization")
def batch_normalization(p, name):
    return keras.layers.BatchNormalization(momentum=p["momentum"], epsilon=p["epsilon"],
                                           center=p["center"], scale=p["scale"], name=name)


@builds("LayerNormalization")
def layer_normalization(p, name):
    return keras.layers.LayerNormalization(epsilon=p["epsilon"], center=p["center"],
                                           scale=p["scale"], name=name)


# -- recurrent --------------------------------------------------------------------------------

def _recurrent(cell: str, p: dict, name: str, wrapped: bool = False):
    kwargs = dict(
        units=p["units"], activation=p["activation"], use_bias=p["use_bias"],
        return_sequences=p["return_sequences"], return_state=p["return_state"],
        dropout=p["dropout"], recurrent_dropout=p["recurrent_dropout"],
        kernel_regularizer=regularizer(p), name=name)
    if not wrapped:
        kwargs["go_backwards"] = p["go_backwards"]
    if cell != "SimpleRNN":
        kwargs["recurrent_activation"] = p["recurrent_activation"]
    if cell == "GRU":
        kwargs["reset_after"] = p["reset_after"]
    return getattr(keras.layers, cell)(**kwargs)


@builds("SimpleRNN")
def simple_rnn(p, name):
    return _recurrent("SimpleRNN", p, name)


@builds("LSTM")
def lstm(p, name):
    return _recurrent("LSTM", p, name)


@builds("GRU")
def gru(p, name):
    return _recurrent("GRU", p, name)


@builds("ConvLSTM2D")
def conv_lstm2d(p, name):
    return keras.layers.ConvLSTM2D(
        p["filters"], _tuple(p["kernel_size"]), strides=_tuple(p["strides"]),
        padding=p["padding"], activation=p["activation"],
        recurrent_activation=p["recurrent_activation"], use_bias=p["use_bias"],
        return_sequences=p["return_sequences"], go_backwards=p["go_backwards"],
        kernel_regularizer=regularizer(p), name=name)


@builds("Bidirectional")
def bidirectional(p, name):
    inner = _recurrent(p["layer"], p, f"{name}_{p['layer'].lower()}", wrapped=True)
    merge = None if p["merge_mode"] == "none" else p["merge_mode"]
    return keras.layers.Bidirectional(inner, merge_mode=merge, name=name)


# -- attention --------------------------------------------------------------------------------

@builds("Attention")
def attention(p, name):
    return keras.layers.Attention(use_scale=p["use_scale"], score_mode=p["score_mode"],
                                  dropout=p["dropout"], name=name)


@builds("AdditiveAttention")
def additive_attention(p, name):
    return keras.layers.AdditiveAttention(use_scale=p["use_scale"], dropout=p["dropout"],
                                          name=name)


@builds("MultiHeadAttention")
def multi_head_attention(p, name):
    return keras.layers.MultiHeadAttention(
        num_heads=p["num_heads"], key_dim=p["key_dim"], value_dim=p["value_dim"],
        dropout=p["dropout"], use_bias=p["use_bias"], kernel_regularizer=regularizer(p),
        name=name)


# -- merge ------------------------------------------------------------------------------------

MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate")


def _merge(cls):
    def build(p, name):
        return cls(name=name)
    return build


for _type in MERGES[:-1]:
    builds(_type)(_merge(getattr(keras.layers, _type)))


@builds("Concatenate")
def concatenate(p, name):
    return keras.layers.Concatenate(axis=p["axis"], name=name)


@builds("PositionEmbedding")
def position_embedding(p, name):
    return PositionEmbedding(p["kind"], max_wavelength=p["max_wavelength"], name=name)


# -- radial basis -----------------------------------------------------------------------------

@builds("RBF")
def rbf(p, name):
    return RBF(p["units"], gamma=p["gamma"], learn_gamma=p["learn_gamma"],
               centers_initializer=p["centers_initializer"], name=name)


# -- applying a layer -------------------------------------------------------------------------

#: types whose Keras layer is called on the list of its inputs
LIST_INPUT = frozenset(MERGES) | {"Attention", "AdditiveAttention", "Sampling"}

#: types whose inputs after the first are the initial states: layer(x, initial_state=[...])
INITIAL_STATE_INPUT = frozenset({"SimpleRNN", "LSTM", "GRU"})


def call_layer(layer: keras.layers.Layer, type_id: str, inputs: list) -> list:
    """Apply a built layer to its input tensors (in port order); returns the output tensors,
    one per output port of the catalog type (several for recurrent layers with return_state,
    two for Bidirectional with merge_mode 'none', ...)."""
    type_id = CATALOG.resolve(type_id)
    inputs = list(inputs)
    if type_id == "Input":
        if inputs:
            raise ValueError("nothing can be fed into an Input layer")
        out = layer.output
    elif type_id in LIST_INPUT:
        out = layer(inputs)
    elif type_id == "MultiHeadAttention":
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else None
        out = layer(query=query, value=value, key=key)
    elif type_id in INITIAL_STATE_INPUT and len(inputs) > 1:
        out = layer(inputs[0], initial_state=inputs[1:])
    else:
        if len(inputs) != 1:
            raise ValueError(f"a {type_id} layer takes one input, not {len(inputs)}")
        out = layer(inputs[0])
    return list(out) if isinstance(out, (list, tuple)) else [out]


# -- preprocessing (graph/layers/preprocessing.py) ---------------------------------------------

@builds("Normalization")
def normalization(p, name):
    # the statistics are weights (mean, variance, count), fitted before training
    # (backends.statistics) and loaded like any other weight
    return keras.layers.Normalization(axis=p["axis"], invert=p["invert"], name=name)


def _resampling(p):
    return {"fill_mode": p["fill_mode"], "interpolation": p["interpolation"],
            "fill_value": p["fill_value"], "seed": p["seed"]}


@builds("RandomFlip")
def random_flip(p, name):
    return keras.layers.RandomFlip(p["mode"], seed=p["seed"], name=name)


@builds("RandomRotation")
def random_rotation(p, name):
    return keras.layers.RandomRotation(p["factor"], name=name, **_resampling(p))


@builds("RandomTranslation")
def random_translation(p, name):
    return keras.layers.RandomTranslation(p["height_factor"], p["width_factor"], name=name,
                                          **_resampling(p))


@builds("RandomZoom")
def random_zoom(p, name):
    return keras.layers.RandomZoom(p["height_factor"], p["width_factor"], name=name,
                                   **_resampling(p))
