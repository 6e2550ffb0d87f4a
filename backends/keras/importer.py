"""Import a Keras model as a design: a `.keras` file, or any functional / sequential model.

    graph = import_model(keras.applications.ResNet50(weights=None))
    graph, written = import_file("net.keras", "net.graph")       # + net.weights.npz

* Every Keras layer becomes one node of the catalog type that computes the same thing, with its
  arguments mapped to the catalog's parameters (the reverse of `backends.keras.layers`); the
  node id is the layer's name (made a valid identifier). Wires follow the model's functional
  graph, port by port. Models nested inside the model are flattened (their layers' ids are
  prefixed with the nested model's name and `__`).
* Nodes are laid out by depth, top-down when the network is deep (`graph.layout.layered_positions`).
* A compiled model's loss and optimizer (with its learning rate and other parameters) become the
  design's training settings when the catalog declares them.
* Nothing is skipped: layers with no catalog counterpart — a class the catalog lacks, or an
  argument it cannot express (ReLU's max_value, Dropout's noise_shape, a layer shared between
  two calls, ...) — are all listed, by kind and by name, in one `ImportProblem`.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from netdesigner.graph import CATALOG, Graph
from netdesigner.graph.layout import layered_positions
from netdesigner.graph.params import ACTIVATIONS

#: Keras's names of the catalog's activations (Keras 3 calls swish "silu")
KERAS_ACTIVATIONS = {"silu": "swish", "swish": "swish", "linear": "linear", None: "linear"}
for _a in ACTIVATIONS:
    KERAS_ACTIVATIONS.setdefault(_a, _a)

MODEL_CLASSES = ("Functional", "Sequential", "Model")


class ImportProblem(ValueError):
    """The model cannot be imported; `unsupported` maps each kind of refused layer to the names
    of the layers of that kind."""

    def __init__(self, model_name: str, unsupported: dict, other: list | None = None):
        self.model_name = model_name
        self.unsupported = dict(unsupported)
        self.other = list(other or [])
        super().__init__(self._message())

    def _message(self) -> str:
        lines = []
        n = sum(len(v) for v in self.unsupported.values())
        if len(self.unsupported) == 1:          # one kind: said on the first line
            ((kind, names),) = self.unsupported.items()
            lines.append(f"cannot import {self.model_name!r}: {kind} — {len(names)} layer(s): "
                         f"{', '.join(names)} (the layer catalog cannot express it; nothing "
                         f"was imported)")
        elif self.unsupported:
            lines.append(f"cannot import {self.model_name!r}: {n} layer(s) of "
                         f"{len(self.unsupported)} kind(s) cannot be expressed with the layer "
                         f"catalog (nothing was imported):")
            for kind, names in sorted(self.unsupported.items(), key=lambda kv: -len(kv[1])):
                lines.append(f"  {kind} — {len(names)} layer(s): {', '.join(names)}")
        if self.other:
            if not lines:
                lines.append(f"cannot import {self.model_name!r}:")
            lines += [f"  {p}" for p in self.other]
        return "\n".join(lines)


class Unsupported(Exception):
    """One layer cannot be expressed; the argument is its kind, e.g. 'ReLU with max_value=6.0'."""


# -- argument mapping -------------------------------------------------------------------------

def _fmt(v) -> str:
    if isinstance(v, list):
        v = tuple(_fmt_inner(x) for x in v)
    return repr(v)


def _fmt_inner(v):
    return tuple(v) if isinstance(v, list) else v


def _activation(cls: str, value, arg: str = "activation") -> str:
    if isinstance(value, dict):
        inner = value.get("config")
        value = inner if isinstance(inner, str) else value.get("class_name")
    if value in KERAS_ACTIVATIONS:
        return KERAS_ACTIVATIONS[value]
    raise Unsupported(f"{cls} with {arg}={value!r}")


def _regularizer(cls: str, value, arg: str) -> tuple[float, float]:
    """(l1, l2) of an L1 / L2 / L1L2 regulariser."""
    if value is None:
        return 0.0, 0.0
    name = value.get("class_name") if isinstance(value, dict) else str(value)
    config = value.get("config", {}) if isinstance(value, dict) else {}
    if name in ("L1L2", "l1_l2"):
        return float(config.get("l1", 0.0)), float(config.get("l2", 0.0))
    if name in ("L1", "l1"):
        return float(config.get("l1", 0.01)), 0.0
    if name in ("L2", "l2"):
        return 0.0, float(config.get("l2", 0.01))
    raise Unsupported(f"{cls} with {arg}={name}")


def _require(cls: str, config: dict, **expected) -> None:
    """Arguments the catalog has no parameter for must keep Keras's default value.

    Each keyword is `key=(default, want)`: `default` is the value an absent key stands for
    (Keras 3.15 configs omit keys older ones wrote, e.g. Conv2DTranspose's `groups`), `want`
    the accepted value or a predicate on it."""
    for key, (default, want) in expected.items():
        value = config.get(key, default)
        if isinstance(value, list):
            value = tuple(_fmt_inner(v) for v in value)
        ok = want(value) if callable(want) else value == want
        if not ok:
            raise Unsupported(f"{cls} with {key}={_fmt(config.get(key, default))}")


def _no_extras(cls: str, config: dict, *names) -> None:
    for name in names:
        if config.get(name) not in (None, 0, False, {}):
            value = config[name]
            shown = value.get("class_name") if isinstance(value, dict) else _fmt(value)
            raise Unsupported(f"{cls} with {name}={shown}")


def _channels_last(cls: str, config: dict) -> None:
    _require(cls, config, data_format=("channels_last",
                                      lambda v: v in (None, "channels_last")))


def _tuple(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,)


def _weighted(cls: str, config: dict, reg_arg: str = "kernel_regularizer") -> dict:
    l1, l2 = _regularizer(cls, config.get(reg_arg), reg_arg)
    return {"l1": l1, "l2": l2}


def _last_axis(cls: str, axis, rank: int | None) -> None:
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if len(axes) != 1 or not (axes[0] == -1 or (rank is not None and axes[0] == rank - 1)):
        raise Unsupported(f"{cls} with axis={_fmt(axis)} (only the last axis)")


# -- one converter per Keras class: (config, input ranks, call kwargs) -> (type, params) ----------

def _dense_params(cls, c):
    _no_extras(cls, c, "bias_regularizer", "activity_regularizer", "kernel_constraint",
               "bias_constraint", "lora_rank", "quantization_config")
    return {"units": c["units"], "activation": _activation(cls, c.get("activation")),
            "use_bias": c.get("use_bias", True), **_weighted(cls, c)}


def _dense(cls, c, ranks, kw):
    return "Dense", _dense_params(cls, c)


def _activation_layer(cls, c, ranks, kw):
    value = c.get("activation")
    if value in ("leaky_relu",):
        return "Activation", {"activation": "leaky_relu", "negative_slope": 0.2}
    if value == "linear":
        return "Activation", {"activation": "linear"}
    return "Activation", {"activation": _activation(cls, value)}


def _relu(cls, c, ranks, kw):
    capped = c.get("max_value")
    if capped is not None and not (float(capped) == 6.0 and not c.get("negative_slope")
                                   and not c.get("threshold")):
        raise Unsupported(f"ReLU with max_value={c['max_value']}")
    if capped is not None:
        return "Activation", {"activation": "relu6"}
    if float(c.get("threshold", 0.0) or 0.0) != 0.0:
        raise Unsupported(f"ReLU with threshold={c['threshold']}")
    slope = float(c.get("negative_slope", 0.0) or 0.0)
    if slope:
        return "Activation", {"activation": "leaky_relu", "negative_slope": slope}
    return "Activation", {"activation": "relu"}


def _leaky_relu(cls, c, ranks, kw):
    return "Activation", {"activation": "leaky_relu",
                          "negative_slope": float(c.get("negative_slope", c.get("alpha", 0.3)))}


def _elu(cls, c, ranks, kw):
    return "Activation", {"activation": "elu", "alpha": float(c.get("alpha", 1.0))}


def _prelu(cls, c, ranks, kw):
    _no_extras(cls, c, "shared_axes", "alpha_regularizer", "alpha_constraint")
    return "Activation", {"activation": "prelu"}


def _softmax(cls, c, ranks, kw):
    _last_axis(cls, c.get("axis", -1), ranks[0] if ranks else None)
    return "Activation", {"activation": "softmax"}


def _dropout(cls, c, ranks, kw):
    _no_extras(cls, c, "noise_shape")
    return "Dropout", {"rate": float(c["rate"])}


def _spatial_dropout(cls, c, ranks, kw):
    if cls == "SpatialDropout2D":
        _channels_last(cls, c)
    _no_extras(cls, c, "noise_shape")
    return cls, {"rate": float(c.get("rate", 0.5))}


def _gaussian_noise(cls, c, ranks, kw):
    return "GaussianNoise", {"stddev": float(c["stddev"])}


def _activity_regularization(cls, c, ranks, kw):
    return "ActivityRegularization", {"l1": float(c.get("l1", 0.0)),
                                      "l2": float(c.get("l2", 0.0))}


def _number(cls, c, key, default):
    value = c.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Unsupported(f"{cls} with {key}={_fmt(value)} (one number per layer only, not one "
                          f"per channel)")
    return float(value)


def _rescaling(cls, c, ranks, kw):
    return "Rescaling", {"scale": _number(cls, c, "scale", 1.0),
                         "offset": _number(cls, c, "offset", 0.0)}


def _flatten(cls, c, ranks, kw):
    _channels_last(cls, c)
    return "Flatten", {}


def _reshape(cls, c, ranks, kw):
    return "Reshape", {"target_shape": tuple(c["target_shape"])}


def _permute(cls, c, ranks, kw):
    return "Permute", {"dims": tuple(c["dims"])}


def _repeat_vector(cls, c, ranks, kw):
    return "RepeatVector", {"n": c["n"]}


def _time_distributed(cls, c, ranks, kw):
    inner = c["layer"]
    if inner.get("class_name") != "Dense":
        raise Unsupported(f"TimeDistributed of {inner.get('class_name')}")
    return "TimeDistributed", _dense_params("TimeDistributed(Dense)", inner["config"])


def _embedding(cls, c, ranks, kw):
    _no_extras(cls, c, "embeddings_constraint", "activity_regularizer", "lora_rank",
               "quantization_config")
    return "Embedding", {"input_dim": c["input_dim"], "output_dim": c["output_dim"],
                         "mask_zero": bool(c.get("mask_zero", False)),
                         **_weighted(cls, c, "embeddings_regularizer")}


def _conv_common(cls, c):
    _channels_last(cls, c)
    _require(cls, c, groups=(1, lambda v: v in (None, 1, (1,))))
    _no_extras(cls, c, "bias_regularizer", "activity_regularizer", "kernel_constraint",
               "bias_constraint", "lora_rank")


def _conv1d(cls, c, ranks, kw):
    _conv_common(cls, c)
    return "Conv1D", {"filters": c["filters"], "kernel_size": _tuple(c["kernel_size"])[0],
                      "strides": _tuple(c.get("strides", 1))[0],
                      "padding": c.get("padding", "valid"),
                      "dilation_rate": _tuple(c.get("dilation_rate", 1))[0],
                      "activation": _activation(cls, c.get("activation")),
                      "use_bias": c.get("use_bias", True), **_weighted(cls, c)}


def _conv2d(cls, c, ranks, kw):
    _conv_common(cls, c)
    return "Conv2D", {"filters": c["filters"], "kernel_size": _tuple(c["kernel_size"]),
                      "strides": _tuple(c.get("strides", 1)), "padding": c.get("padding", "valid"),
                      "dilation_rate": _tuple(c.get("dilation_rate", 1)),
                      "activation": _activation(cls, c.get("activation")),
                      "use_bias": c.get("use_bias", True), **_weighted(cls, c)}


def _conv3d(cls, c, ranks, kw):
    _conv_common(cls, c)
    return "Conv3D", {"filters": c["filters"], "kernel_size": _tuple(c["kernel_size"]),
                      "strides": _tuple(c.get("strides", 1)), "padding": c.get("padding", "valid"),
                      "dilation_rate": _tuple(c.get("dilation_rate", 1)),
                      "activation": _activation(cls, c.get("activation")),
                      "use_bias": c.get("use_bias", True), **_weighted(cls, c)}


def _conv2d_transpose(cls, c, ranks, kw):
    _conv_common(cls, c)
    _no_extras(cls, c, "output_padding")
    _require(cls, c, dilation_rate=(1, lambda v: _tuple(v) in ((1,), (1, 1))))
    return "Conv2DTranspose", {"filters": c["filters"], "kernel_size": _tuple(c["kernel_size"]),
                               "strides": _tuple(c.get("strides", 1)),
                               "padding": c.get("padding", "valid"),
                               "activation": _activation(cls, c.get("activation")),
                               "use_bias": c.get("use_bias", True), **_weighted(cls, c)}


def _conv1d_transpose(cls, c, ranks, kw):
    _conv_common(cls, c)
    _no_extras(cls, c, "output_padding")
    _require(cls, c, dilation_rate=(1, lambda v: _tuple(v) == (1,)))
    return "Conv1DTranspose", {"filters": c["filters"],
                               "kernel_size": _tuple(c["kernel_size"])[0],
                               "strides": _tuple(c.get("strides", 1))[0],
                               "padding": c.get("padding", "valid"),
                               "activation": _activation(cls, c.get("activation")),
                               "use_bias": c.get("use_bias", True), **_weighted(cls, c)}


def _depthwise(cls, c, ranks, kw):
    _channels_last(cls, c)
    _no_extras(cls, c, "bias_regularizer", "activity_regularizer", "depthwise_constraint",
               "bias_constraint")
    return "DepthwiseConv2D", {
        "kernel_size": _tuple(c["kernel_size"]), "strides": _tuple(c.get("strides", 1)),
        "padding": c.get("padding", "valid"), "depth_multiplier": c.get("depth_multiplier", 1),
        "dilation_rate": _tuple(c.get("dilation_rate", 1)),
        "activation": _activation(cls, c.get("activation")), "use_bias": c.get("use_bias", True),
        **_weighted(cls, c, "depthwise_regularizer")}


def _separable(cls, c, ranks, kw):
    _channels_last(cls, c)
    _no_extras(cls, c, "bias_regularizer", "activity_regularizer", "depthwise_constraint",
               "pointwise_constraint", "bias_constraint")
    dw = _regularizer(cls, c.get("depthwise_regularizer"), "depthwise_regularizer")
    pw = _regularizer(cls, c.get("pointwise_regularizer"), "pointwise_regularizer")
    if dw != pw:
        raise Unsupported(f"{cls} with different depthwise and pointwise regularizers")
    return "SeparableConv2D", {
        "filters": c["filters"], "kernel_size": _tuple(c["kernel_size"]),
        "strides": _tuple(c.get("strides", 1)), "padding": c.get("padding", "valid"),
        "depth_multiplier": c.get("depth_multiplier", 1),
        "dilation_rate": _tuple(c.get("dilation_rate", 1)),
        "activation": _activation(cls, c.get("activation")), "use_bias": c.get("use_bias", True),
        "l1": dw[0], "l2": dw[1]}


def _zero_padding2d(cls, c, ranks, kw):
    _channels_last(cls, c)
    pad = c.get("padding", "valid")
    if isinstance(pad, int):
        return "ZeroPadding2D", {"padding": (pad, pad)}
    (top, bottom), (left, right) = [(p, p) if isinstance(p, int) else tuple(p) for p in pad]
    if top == bottom and left == right:
        return "ZeroPadding2D", {"padding": (top, left)}
    return "ZeroPadding2D", {"padding": (top, bottom, left, right)}


def _cropping1d(cls, c, ranks, kw):
    crop = c.get("cropping", (1, 1))
    start, end = (crop, crop) if isinstance(crop, int) else tuple(crop)
    return "Cropping1D", {"cropping": (start, end)}


def _cropping2d(cls, c, ranks, kw):
    _channels_last(cls, c)
    crop = c.get("cropping", ((0, 0), (0, 0)))
    if isinstance(crop, int):
        return "Cropping2D", {"cropping": (crop, crop)}
    (top, bottom), (left, right) = [(v, v) if isinstance(v, int) else tuple(v) for v in crop]
    if top == bottom and left == right:
        return "Cropping2D", {"cropping": (top, left)}
    return "Cropping2D", {"cropping": (top, bottom, left, right)}


def _upsampling2d(cls, c, ranks, kw):
    _channels_last(cls, c)
    return "UpSampling2D", {"size": _tuple(c.get("size", 2)),
                            "interpolation": c.get("interpolation", "nearest")}


def _data_format(c):
    """Pooling's data_format: channels-first maps to the parameter of the same name."""
    return c.get("data_format") or "channels_last"


def _pooling(type_id, rank):
    def convert(cls, c, ranks, kw):
        pool, strides = _tuple(c.get("pool_size", 2)), c.get("strides")
        strides = None if strides is None else _tuple(strides)
        if strides == pool:
            strides = None           # Keras writes strides=None as the pool size
        if rank == 1:
            pool = pool[0]
            strides = None if strides is None else strides[0]
        return type_id, {"pool_size": pool, "strides": strides,
                         "padding": c.get("padding", "valid"), "data_format": _data_format(c)}
    return convert


def _global_pooling(type_id):
    def convert(cls, c, ranks, kw):
        return type_id, {"keepdims": bool(c.get("keepdims", False)),
                         "data_format": _data_format(c)}
    return convert


def _batch_norm(cls, c, ranks, kw):
    _last_axis(cls, c.get("axis", -1), ranks[0] if ranks else None)
    _no_extras(cls, c, "beta_regularizer", "gamma_regularizer", "beta_constraint",
               "gamma_constraint", "synchronized", "renorm")
    return "BatchNormalization", {"momentum": float(c.get("momentum", 0.99)),
                                  "epsilon": float(c.get("epsilon", 1e-3)),
                                  "center": bool(c.get("center", True)),
                                  "scale": bool(c.get("scale", True))}


def _layer_norm(cls, c, ranks, kw):
    _last_axis(cls, c.get("axis", -1), ranks[0] if ranks else None)
    _no_extras(cls, c, "beta_regularizer", "gamma_regularizer", "beta_constraint",
               "gamma_constraint", "rms_scaling")
    return "LayerNormalization", {"epsilon": float(c.get("epsilon", 1e-3)),
                                  "center": bool(c.get("center", True)),
                                  "scale": bool(c.get("scale", True))}


def _recurrent_params(cls, c, wrapped=False):
    _no_extras(cls, c, "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
               "kernel_constraint", "recurrent_constraint", "bias_constraint", "stateful",
               "use_cudnn_false")
    p = {"units": c["units"], "activation": _activation(cls, c.get("activation")),
         "use_bias": c.get("use_bias", True),
         "return_sequences": bool(c.get("return_sequences", False)),
         "return_state": bool(c.get("return_state", False)),
         "dropout": float(c.get("dropout", 0.0)),
         "recurrent_dropout": float(c.get("recurrent_dropout", 0.0)), **_weighted(cls, c)}
    if not wrapped:
        p["go_backwards"] = bool(c.get("go_backwards", False))
    if cls != "SimpleRNN":
        p["recurrent_activation"] = _activation(cls, c.get("recurrent_activation"),
                                                "recurrent_activation")
    if cls == "GRU":
        p["reset_after"] = bool(c.get("reset_after", True))
    return p


def _recurrent(cls, c, ranks, kw):
    return cls, _recurrent_params(cls, c)


def _pair(v):
    v = _tuple(v)
    return v * 2 if len(v) == 1 else v


def _conv_lstm2d(cls, c, ranks, kw):
    _channels_last(cls, c)
    _no_extras(cls, c, "recurrent_regularizer", "bias_regularizer", "activity_regularizer",
               "kernel_constraint", "recurrent_constraint", "bias_constraint", "stateful",
               "return_state", "dropout", "recurrent_dropout", "unroll")
    _require(cls, c, dilation_rate=(1, lambda v: v in (1, (1,), (1, 1))))
    return "ConvLSTM2D", {
        "filters": c["filters"], "kernel_size": _pair(c["kernel_size"]),
        "strides": _pair(c.get("strides", 1)),
        "padding": c.get("padding", "valid"),
        "activation": _activation(cls, c.get("activation", "tanh")),
        "recurrent_activation": _activation(cls, c.get("recurrent_activation", "sigmoid"),
                                            "recurrent_activation"),
        "use_bias": c.get("use_bias", True),
        "return_sequences": bool(c.get("return_sequences", False)),
        "go_backwards": bool(c.get("go_backwards", False)), **_weighted(cls, c)}


def _bidirectional(cls, c, ranks, kw):
    inner = c["layer"]
    kind = inner.get("class_name")
    if kind not in ("SimpleRNN", "LSTM", "GRU"):
        raise Unsupported(f"Bidirectional of {kind}")
    back = c.get("backward_layer")
    if back is not None:
        fwd_cfg = {k: v for k, v in inner["config"].items() if k not in ("name", "go_backwards")}
        back_cfg = {k: v for k, v in back["config"].items() if k not in ("name", "go_backwards")}
        if back.get("class_name") != kind or fwd_cfg != back_cfg:
            raise Unsupported("Bidirectional with a different backward layer")
    if inner["config"].get("go_backwards"):
        raise Unsupported("Bidirectional of a layer with go_backwards=True")
    params = _recurrent_params(kind, inner["config"], wrapped=True)
    merge = c.get("merge_mode", "concat")
    return "Bidirectional", {"layer": kind, "merge_mode": "none" if merge is None else merge,
                             **params}


def _no_masks(cls, kw):
    for k in ("mask", "attention_mask", "use_causal_mask", "return_attention_scores"):
        if kw.get(k) not in (None, False):
            raise Unsupported(f"{cls} called with {k}={_fmt(kw.get(k))}")


def _attention(cls, c, ranks, kw):
    _no_masks(cls, kw)
    return "Attention", {"use_scale": bool(c.get("use_scale", False)),
                         "score_mode": c.get("score_mode", "dot"),
                         "dropout": float(c.get("dropout", 0.0))}


def _additive_attention(cls, c, ranks, kw):
    _no_masks(cls, kw)
    return "AdditiveAttention", {"use_scale": bool(c.get("use_scale", True)),
                                 "dropout": float(c.get("dropout", 0.0))}


def _mha(cls, c, ranks, kw):
    _no_masks(cls, kw)
    rank = ranks[0] if ranks else None
    axes = c.get("attention_axes")
    if axes is not None and (rank is None or tuple(_tuple(axes)) != tuple(range(1, rank - 1))):
        raise Unsupported(f"{cls} with attention_axes={_fmt(axes)}")
    _no_extras(cls, c, "output_shape", "use_gate", "sliding_window",
               "bias_regularizer", "activity_regularizer", "kernel_constraint",
               "bias_constraint")
    value_dim = c.get("value_dim")
    return "MultiHeadAttention", {"num_heads": c["num_heads"], "key_dim": c["key_dim"],
                                  # Keras writes key_dim there when it was left empty
                                  "value_dim": None if value_dim == c["key_dim"] else value_dim,
                                  "dropout": float(c.get("dropout", 0.0)),
                                  "use_bias": bool(c.get("use_bias", True)),
                                  **_weighted(cls, c)}


def _merge(type_id):
    def convert(cls, c, ranks, kw):
        return type_id, {}
    return convert


def _concatenate(cls, c, ranks, kw):
    return "Concatenate", {"axis": int(c.get("axis", -1))}


def _sampling(cls, c, ranks, kw):
    return "Sampling", {"kl_weight": float(c.get("kl_weight", 1.0))}


def _rbf(cls, c, ranks, kw):
    return "RBF", {"units": c["units"], "gamma": c.get("gamma", 1.0),
                   "learn_gamma": c.get("learn_gamma", False),
                   "centers_initializer": c.get("centers_initializer", "uniform")}


def _position_embedding(cls, c, ranks, kw):
    return "PositionEmbedding", {"kind": c.get("kind", "learned"),
                                 "max_wavelength": float(c.get("max_wavelength", 10000.0))}


CONVERTERS = {
    "Dense": _dense, "Activation": _activation_layer, "ReLU": _relu, "LeakyReLU": _leaky_relu,
    "ELU": _elu, "PReLU": _prelu, "Softmax": _softmax, "Dropout": _dropout,
    "GaussianNoise": _gaussian_noise, "Rescaling": _rescaling,
    "SpatialDropout1D": _spatial_dropout, "SpatialDropout2D": _spatial_dropout,
    "ActivityRegularization": _activity_regularization,
    "Flatten": _flatten, "Reshape": _reshape,
    "Permute": _permute, "RepeatVector": _repeat_vector, "TimeDistributed": _time_distributed,
    "Embedding": _embedding, "Conv1D": _conv1d, "Conv2D": _conv2d,
    "Conv1DTranspose": _conv1d_transpose, "Conv3D": _conv3d, "ConvLSTM2D": _conv_lstm2d,
    "Conv2DTranspose": _conv2d_transpose, "DepthwiseConv2D": _depthwise,
    "SeparableConv2D": _separable, "ZeroPadding2D": _zero_padding2d,
    "Cropping1D": _cropping1d, "Cropping2D": _cropping2d,
    "UpSampling2D": _upsampling2d,
    "MaxPooling1D": _pooling("MaxPooling1D", 1), "MaxPooling2D": _pooling("MaxPooling2D", 2),
    "AveragePooling1D": _pooling("AveragePooling1D", 1),
    "AveragePooling2D": _pooling("AveragePooling2D", 2),
    "GlobalMaxPooling1D": _global_pooling("GlobalMaxPooling1D"),
    "GlobalMaxPooling2D": _global_pooling("GlobalMaxPooling2D"),
    "GlobalAveragePooling1D": _global_pooling("GlobalAveragePooling1D"),
    "GlobalAveragePooling2D": _global_pooling("GlobalAveragePooling2D"),
    "MaxPooling3D": _pooling("MaxPooling3D", 3),
    "AveragePooling3D": _pooling("AveragePooling3D", 3),
    "GlobalMaxPooling3D": _global_pooling("GlobalMaxPooling3D"),
    "GlobalAveragePooling3D": _global_pooling("GlobalAveragePooling3D"),
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "SimpleRNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent,
    "Bidirectional": _bidirectional, "Attention": _attention,
    "AdditiveAttention": _additive_attention, "MultiHeadAttention": _mha,
    "Add": _merge("Add"), "Subtract": _merge("Subtract"), "Multiply": _merge("Multiply"),
    "Average": _merge("Average"), "Maximum": _merge("Maximum"), "Concatenate": _concatenate,
    "Sampling": _sampling, "RBF": _rbf, "PositionEmbedding": _position_embedding,
}
# this project's own Keras layers (backends.keras.layers), saved as "netdesigner>Name"
CUSTOM_LAYERS = ("Sampling", "RBF", "PositionEmbedding")
# Keras 2 / Keras 3 alternative spellings
CONVERTERS["Convolution2D"] = _conv2d
CONVERTERS["Conv2DTranspose"] = _conv2d_transpose


# -- preprocessing layers (graph/layers/preprocessing.py) ---------------------------------------

def _normalization(cls, c, ranks, kw):
    # the adapted mean, variance and count come with the layer's weights; statistics given as
    # config values (mean=..., variance=...) become those weights (import_with_weights)
    axis = c.get("axis", -1)
    if isinstance(axis, (list, tuple)):
        if not axis:                  # axis=None is saved as (): one mean for every value
            return "Normalization", {"axis": None, "invert": bool(c.get("invert", False))}
        if len(axis) != 1:
            raise Unsupported(f"{cls} with axis={_fmt(axis)} (the catalog keeps one axis)")
        axis = axis[0]
    return "Normalization", {"axis": axis, "invert": bool(c.get("invert", False))}


def _symmetric_factor(cls, c, key, default=None):
    """A Random* layer's factor: a number f, or a range (-f, f); other ranges are refused."""
    value = c.get(key, default)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if value < 0:
            raise Unsupported(f"{cls} with {key}={_fmt(value)} (a negative factor)")
        return float(value)
    low, high = (float(v) for v in value)
    if low != -high:
        raise Unsupported(f"{cls} with {key}={_fmt(value)} (the catalog draws from a range "
                          f"symmetric about 0, [-f, f])")
    return high


def _resampling_params(cls, c):
    _channels_last(cls, c)
    return {"fill_mode": c.get("fill_mode", "reflect"),
            "interpolation": c.get("interpolation", "bilinear"),
            "fill_value": float(c.get("fill_value", 0.0)), "seed": c.get("seed")}


def _random_flip(cls, c, ranks, kw):
    _channels_last(cls, c)
    return "RandomFlip", {"mode": c.get("mode", "horizontal_and_vertical"), "seed": c.get("seed")}


def _random_rotation(cls, c, ranks, kw):
    return "RandomRotation", {"factor": _symmetric_factor(cls, c, "factor"),
                              **_resampling_params(cls, c)}


def _random_translation(cls, c, ranks, kw):
    return "RandomTranslation", {"height_factor": _symmetric_factor(cls, c, "height_factor"),
                                 "width_factor": _symmetric_factor(cls, c, "width_factor"),
                                 **_resampling_params(cls, c)}


def _random_zoom(cls, c, ranks, kw):
    return "RandomZoom", {"height_factor": _symmetric_factor(cls, c, "height_factor"),
                          "width_factor": _symmetric_factor(cls, c, "width_factor"),
                          **_resampling_params(cls, c)}


CONVERTERS.update({"Normalization": _normalization, "RandomFlip": _random_flip,
                   "RandomRotation": _random_rotation, "RandomTranslation": _random_translation,
                   "RandomZoom": _random_zoom})


# -- the functional graph ---------------------------------------------------------------------

def _triples(value) -> list:
    """input_layers / output_layers: one [name, node, tensor] or a list (or dict) of them."""
    if isinstance(value, dict):
        value = list(value.values())
    if value and isinstance(value[0], str):
        return [tuple(value)]
    return [tuple(v) for v in value]


def _tensors(value) -> list:
    """The keras_history of every tensor in a call's args, in order."""
    out = []
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            cfg = value["config"]
            out.append((tuple(cfg["keras_history"]), cfg.get("shape")))
        else:
            for v in value.values():
                out += _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            out += _tensors(v)
    return out


def _call_inputs(class_name: str, call: dict) -> tuple[list, dict]:
    """(input tensors in port order, the other keyword arguments) of one call of a layer."""
    args, kwargs = call.get("args", []), dict(call.get("kwargs", {}))
    if class_name == "MultiHeadAttention":
        names = ["query", "value", "key"]
        positional = [a for a in args]
        found = []
        for i, name in enumerate(names):
            v = positional[i] if i < len(positional) else kwargs.pop(name, None)
            kwargs.pop(name, None)
            if v is not None:
                found += _tensors(v)
        return found, kwargs
    found = _tensors(args)
    for key in list(kwargs):
        t = _tensors(kwargs[key])
        if t and key in ("inputs", "x", "query", "value", "key"):
            found += t
            kwargs.pop(key)
    states = _tensors(kwargs.get("initial_state"))
    if class_name in STATE_COUNT and len(found) == 1 and states \
            and len(states) == STATE_COUNT[class_name] \
            and len(states) == len(_constants_or_tensors(kwargs["initial_state"])):
        found += states                  # the initial_h (, initial_c) ports, in Keras's order
        kwargs.pop("initial_state")
    return found, kwargs


#: recurrent layers whose initial states are input ports of the catalog's type (a
#: Bidirectional's are not: it is refused by name)
STATE_COUNT = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}


def _constants_or_tensors(value) -> list:
    """Every leaf of a call argument (tensors and anything else), to tell a list of tensors
    from one that mixes in a constant."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [value]
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _constants_or_tensors(v)]
    return [value]


def _constants(value) -> list:
    """The values in a call's positional args that are not tensors (a Python number, an
    array), in order: what `keras.ops` arithmetic takes besides its tensors."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return []
    if isinstance(value, (list, tuple)):
        return [c for v in value for c in _constants(v)]
    return [] if value is None else [value]


#: arithmetic of `keras.ops` (what `x * 2.0`, `1 - x` or `keras.ops.add(x, y)` record in a
#: functional model): with two tensors, the catalog's merge layer; with one tensor and one
#: number, a Rescaling: op -> (merge type, (scale, offset) of tensor-op-number,
#: of number-op-tensor)
OPS_ARITHMETIC = {
    "Add": ("Add", lambda k: (1.0, k), lambda k: (1.0, k)),
    "Subtract": ("Subtract", lambda k: (1.0, -k), lambda k: (-1.0, k)),
    "Multiply": ("Multiply", lambda k: (k, 0.0), lambda k: (k, 0.0)),
    "TrueDivide": (None, lambda k: (1.0 / k, 0.0), None),
    "Divide": (None, lambda k: (1.0 / k, 0.0), None),
    "Negative": (None, None, None),
}


def _op(cls: str, call: dict, ranks: list, config: dict | None = None) -> tuple[str, dict]:
    """The catalog layer of one `keras.ops` call recorded in a functional model."""
    config = {k: v for k, v in (config or {}).items() if k != "name"}
    if cls == "Concatenate":                  # keras.ops.concatenate([a, b], axis=...)
        axis = config.pop("axis", 0)
        if config:
            raise Unsupported(f"keras.ops.concatenate with {', '.join(sorted(config))}")
        if axis == 0:
            raise Unsupported("keras.ops.concatenate along axis 0 (the batch axis)")
        return "Concatenate", {"axis": int(axis)}
    if cls == "Reshape":                      # keras.ops.reshape(x, (-1, ...))
        shape = tuple(config.pop("newshape", None) or ())
        if config or not shape or shape[0] not in (-1, None):
            raise Unsupported(f"keras.ops.reshape to {_fmt(list(shape))} (only the batch axis "
                              f"first, as -1, can become a Reshape layer)")
        return "Reshape", {"target_shape": tuple(shape[1:])}
    if config:
        raise Unsupported(f"keras.ops.{cls} with {', '.join(sorted(config))}")
    if cls not in OPS_ARITHMETIC:
        raise Unsupported(f"keras.ops.{cls} (an operation on tensors with no catalog layer; "
                          f"express it with layers)")
    merge, tensor_first, number_first = OPS_ARITHMETIC[cls]
    args, kwargs = call.get("args", []), call.get("kwargs", {})
    extra = {k: v for k, v in kwargs.items() if v is not None}
    if extra:
        raise Unsupported(f"keras.ops.{cls} called with {', '.join(sorted(extra))}")
    tensors = [bool(_tensors(a)) for a in args]
    if cls == "Negative" and tensors == [True]:
        return "Rescaling", {"scale": -1.0, "offset": 0.0}
    if tensors == [True, True] and merge is not None:
        return merge, {}
    if len(args) == 2 and sum(tensors) == 1:
        k = args[1] if tensors[0] else args[0]
        rule = tensor_first if tensors[0] else number_first
        if isinstance(k, bool) or not isinstance(k, (int, float)):
            raise Unsupported(f"keras.ops.{cls} with a constant {type(k).__name__} operand "
                              f"(only a plain number becomes a Rescaling layer)")
        if rule is None:
            raise Unsupported(f"keras.ops.{cls} of a number by a tensor (no catalog layer "
                              f"divides by its input)")
        if cls in ("TrueDivide", "Divide") and k == 0:
            raise Unsupported(f"keras.ops.{cls} by 0")
        scale, offset = rule(float(k))
        return "Rescaling", {"scale": scale, "offset": offset}
    raise Unsupported(f"keras.ops.{cls} with {sum(tensors)} tensor(s) and "
                      f"{len(args) - sum(tensors)} constant(s)")


#: layers that compute differently in training and inference: a `training=` given at the call
#: would fix their mode, which a design cannot express
TRAINING_MODE = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "BatchNormalization", "Sampling")
#: the augmentation layers' call signature defaults to training=True, so Keras records it for
#: every call; the model's own training / inference mode overrides it, as for the others
AUGMENTATION = ("RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom")


def _call_problem(cls: str, type_id: str, params: dict, kwargs: dict,
                  constants: list) -> str | None:
    """Why one call of a layer cannot be imported as is (an argument the design would drop),
    or None."""
    if constants:
        return f"{cls} called with the constant argument(s) {', '.join(map(_fmt, constants))}"
    for key, value in kwargs.items():
        if value is None:
            continue
        if key == "training":
            # Keras records training=False for every layer called without it, and fit /
            # predict override what is recorded; training=True (dropout kept on in inference,
            # as in Monte-Carlo dropout) is the author's intent a design cannot express
            moded = (type_id in TRAINING_MODE or float(params.get("dropout", 0) or 0) > 0
                     or float(params.get("recurrent_dropout", 0) or 0) > 0)
            if value is not False and moded and type_id not in AUGMENTATION:
                return (f"{cls} called with training={value!r} (a design's layers follow the "
                        f"training loop's mode)")
            continue
        if key == "initial_state":
            if cls not in STATE_COUNT:
                return (f"{cls} called with initial_state (the catalog's {type_id} takes no "
                        f"initial states; only SimpleRNN, LSTM and GRU do)")
            n, leaves = STATE_COUNT[cls], _constants_or_tensors(value)
            k = len(_tensors(value))
            given = f"{k} tensor{'s' if k != 1 else ''}" + (
                f" and {len(leaves) - k} constant(s)" if len(leaves) > k else "")
            return (f"{cls} called with initial_state of {given} ({cls} starts from "
                    f"{n} state tensor{'s' if n > 1 else ''}"
                    f"{' [h, c]' if n > 1 else ''} wired into its initial-state ports)")
        if key == "mask" or _tensors(value):
            return f"{cls} called with {key}= a tensor (the catalog has no {key} input)"
        if value is False and key in ("return_attention_scores", "use_causal_mask"):
            continue
        return f"{cls} called with {key}={_fmt(value)}"
    return None


#: Keras config keys that do not change what a layer computes on imported weights (names,
#: initialisers: the weights come with the model) or that the design keeps elsewhere
NOT_COMPUTED = {"name", "dtype", "trainable", "seed", "build_config", "kernel_initializer",
                "bias_initializer", "recurrent_initializer", "embeddings_initializer",
                "depthwise_initializer", "pointwise_initializer", "beta_initializer",
                "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
                "alpha_initializer", "centers_initializer",
                "unroll", "unit_forget_bias"}   # the same computation / only the initial bias


#: keys a built Keras layer writes resolved (axis -1 as 3) that the converter checks itself
CHECKED_BY_CONVERTER = {"BatchNormalization": {"axis"}, "LayerNormalization": {"axis"},
                        "MultiHeadAttention": {"attention_axes"}}
# a range (-f, f) and the number f are one factor (_symmetric_factor)
CHECKED_BY_CONVERTER.update({"Normalization": {"mean", "variance"},
                             "RandomRotation": {"factor"},
                             "RandomTranslation": {"height_factor", "width_factor"},
                             "RandomZoom": {"height_factor", "width_factor"}})


def _comparable(value):
    """A config value as plain data: tuples as lists, regularisers as (l1, l2), the keys of
    NOT_COMPUTED left out."""
    if isinstance(value, dict):
        if value.get("class_name") in ("L1", "L2", "L1L2"):
            c = value.get("config", {})
            default = 0.01 if value["class_name"] in ("L1", "L2") else 0.0
            l1 = float(c.get("l1", default if value["class_name"] == "L1" else 0.0))
            l2 = float(c.get("l2", default if value["class_name"] == "L2" else 0.0))
            return ["penalty", l1, l2]
        return {k: _comparable(v) for k, v in value.items() if k not in NOT_COMPUTED}
    if isinstance(value, (list, tuple)):
        return [_comparable(v) for v in value]
    return value


def _dropped_keys(cls: str, config: dict, type_id: str, params: dict) -> str | None:
    """Nothing dropped silently: the layer the design builds (backends.keras.layers) must have
    the configuration the model's layer had, key by key (keys one Keras version writes and the
    other lacks are left to the converters' explicit defaults). Returns the first difference
    as 'Conv2D with groups=2', or None."""
    from .layers import KERAS_BUILDERS
    builder = KERAS_BUILDERS.get(type_id)
    if builder is None:
        return None
    rebuilt = builder(params, "rebuilt")
    if type(rebuilt).__name__ != cls:
        return None                   # a different Keras class (ReLU -> Activation): mapped
    theirs, ours = _comparable(config), _comparable(rebuilt.get_config())
    for key in sorted(set(theirs) & set(ours) - CHECKED_BY_CONVERTER.get(cls, set())):
        if theirs[key] != ours[key]:
            shown = config[key]
            if isinstance(shown, dict):
                shown = shown.get("class_name", shown)
            return f"{cls} with {key}={_fmt(shown)} (the catalog's {type_id} cannot hold it)"
    return None


def _is_padding_mask(calls: list, padded: set) -> bool:
    """A not_equal(ids, 0) on the ids an Embedding with mask_zero reads: its padding mask."""
    if len(calls) != 1:
        return False
    args = calls[0].get("args", [])
    found = _tensors(args[:1])
    return (len(args) == 2 and len(found) == 1 and found[0][0] in padded
            and not isinstance(args[1], bool) and args[1] == 0 and not calls[0].get("kwargs"))


def _node_id(name: str, taken: set) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "layer"
    if not re.match(r"[A-Za-z_]", base):
        base = "l_" + base
    candidate, i = base, 1
    while candidate in taken:
        i += 1
        candidate = f"{base}_{i}"
    taken.add(candidate)
    return candidate


def _model_config(model) -> dict:
    """A functional config (layers, inbound nodes, input/output layers) for a Functional or
    built Sequential model."""
    import keras
    if isinstance(model, keras.Sequential):
        inner = getattr(model, "_functional", None)
        if inner is None:
            raise ImportProblem(model.name, {}, [
                "the Sequential model is not built: give it an Input first "
                "(keras.Sequential([keras.Input(shape), ...])) or call model.build(shape)"])
        return inner.get_config(), inner
    return model.get_config(), model


class _Importer:
    def __init__(self):
        self.graph = Graph()
        self.taken: set = set()
        self.unsupported: dict[str, list] = {}
        self.other: list[str] = []
        self.layers: dict[str, object] = {}       # node id -> Keras layer (for weights)

    def refuse(self, kind: str, name: str) -> None:
        self.unsupported.setdefault(kind, []).append(name)

    def walk(self, model, prefix: str = "", feeds: list | None = None) -> list:
        """Add the layers of a functional model; returns its outputs as (node, port)."""
        config, live = _model_config(model)
        produced: dict = {}
        inputs = _triples(config["input_layers"])
        layer_cfgs = {c["name"]: c for c in config["layers"]}
        for i, ref in enumerate(inputs):
            if feeds is not None:
                produced[ref] = feeds[i] if i < len(feeds) else None
                continue
            c = layer_cfgs[ref[0]]["config"]
            shape = tuple(c.get("batch_shape") or c.get("batch_input_shape"))[1:]
            given = c.get("dtype", "float32")
            if isinstance(given, dict):                   # a DTypePolicy
                given = given.get("config", {}).get("name", "float32")
            given = str(given)
            flags = [k for k in ("sparse", "ragged") if c.get(k)]
            if flags or not (given.startswith("float") or given.startswith("int")
                             or given.startswith("uint")):
                what = f"{flags[0]}=True" if flags else f"dtype={given!r}"
                self.refuse(f"InputLayer with {what} (the catalog's Input takes dense float "
                            f"or integer tensors)", prefix + ref[0])
                produced[ref] = None
                continue
            dtype = "float32" if given.startswith("float") else "int32"
            node = _node_id(prefix + ref[0], self.taken)
            self.graph.add_node("Input", {"shape": shape, "dtype": dtype}, node_id=node)
            produced[ref] = (node, 0)
        # Keras 3 records an Embedding's padding mask (mask_zero) as a not_equal(ids, 0) op
        # handed to later layers as mask=; the design's Embedding makes the same mask
        padded = {ref for e in config["layers"] if e["class_name"] == "Embedding"
                  and e["config"].get("mask_zero")
                  for call in e.get("inbound_nodes", [])
                  for ref, _ in _tensors(call.get("args", []))}
        masks: set = set()
        for c in config["layers"]:
            name, cls = c["name"], c["class_name"]
            if cls == "InputLayer":
                continue
            calls = c.get("inbound_nodes", [])
            if cls == "NotEqual" and str(c.get("module", "")).startswith("keras.src.ops") \
                    and _is_padding_mask(calls, padded):
                masks.add((name, 0, 0))
                continue
            if len(calls) > 1:
                self.refuse(f"{cls} shared between {len(calls)} calls", prefix + name)
                continue
            for node_index, call in enumerate(calls):
                refs, kwargs = _call_inputs(cls, call)
                given_mask = _tensors(kwargs.get("mask"))
                if given_mask and all(ref in masks for ref, _ in given_mask):
                    kwargs.pop("mask")               # the Embedding's mask: the design's too
                sources = [produced.get(r[0]) for r in refs]
                ranks = [None if r[1] is None else len(r[1]) for r in refs]
                if cls in MODEL_CLASSES:
                    given = {k: v for k, v in kwargs.items()
                             if v is not None and not (k == "training" and v is False)}
                    if given:
                        self.refuse(f"{cls} (a nested model) called with "
                                    f"{', '.join(f'{k}={_fmt(v)}' for k, v in given.items())}",
                                    prefix + name)
                        continue
                    outs = self.walk(live.get_layer(name), f"{prefix}{name}__", sources)
                    for port, o in enumerate(outs):
                        produced[(name, node_index, port)] = o
                    continue
                node = self.layer(c, cls, prefix + name, sources, ranks, kwargs, live, call)
                if node is None:
                    continue
                for port in range(self.graph.output_count(node)):
                    produced[(name, node_index, port)] = (node, port)
        return [produced.get(ref) for ref in _triples(config["output_layers"])]

    def layer(self, c, cls, name, sources, ranks, kwargs, live, call):
        registered = c.get("registered_name") or ""
        custom = next((k for k in CUSTOM_LAYERS if registered == f"netdesigner>{k}"), None)
        module = str(c.get("module") or "")
        is_op = module.startswith("keras.src.ops")
        key = custom or cls
        convert = CONVERTERS.get(key)
        if custom is None and module.split(".")[0] != "keras" and cls not in MODEL_CLASSES:
            # the author's own class, even when named like one of Keras's or ours (a VAE's
            # Sampling that adds no KL term): its code is not the catalog's
            self.refuse(f"{cls} (the model author's own layer class {registered or cls!r}; "
                        f"rebuild it from catalog layers)", name)
            return None
        if convert is None and not is_op:
            self.refuse(cls, name)
            return None
        try:
            if is_op:
                type_id, params = _op(cls, call, ranks, c.get("config"))
            else:
                type_id, params = convert(cls, c["config"], ranks, kwargs)
                problem = _call_problem(cls, type_id, params, kwargs,
                                        _constants(call.get("args", [])))
                if problem:
                    raise Unsupported(problem)
            spec = CATALOG[type_id].params
            if "trainable" in spec and c["config"].get("trainable") is False:
                params["trainable"] = False               # a frozen layer stays frozen
            params = {k: spec[k].coerce(v) for k, v in params.items()}
            for k, v in params.items():
                problem = spec[k].check(v)
                if problem:
                    raise Unsupported(f"{cls} with {k}={_fmt(v)} ({problem})")
            if not is_op:
                dropped = _dropped_keys(cls, c["config"], type_id, params)
                if dropped:
                    raise Unsupported(dropped)
        except Unsupported as e:
            self.refuse(str(e.args[0]), name)
            return None
        except (KeyError, TypeError, ValueError) as e:
            self.refuse(f"{cls} (unreadable config: {e})", name)
            return None
        if any(s is None for s in sources):
            return None                          # fed by a refused layer: already listed
        node = _node_id(name, self.taken)
        self.graph.add_node(type_id, params, node_id=node)
        try:
            self.layers[node] = live.get_layer(c["name"])
        except ValueError:
            pass
        for port, (src, sport) in enumerate(sources):
            try:
                self.graph.connect(src, sport, node, port)
            except ValueError as e:
                self.other.append(f"{name}: cannot wire input {port}: {e}")
        return node


# -- settings -----------------------------------------------------------------------------------

LOSS_NAMES = {
    "mean_squared_error": "mse", "MeanSquaredError": "mse", "mse": "mse",
    "mean_absolute_error": "mae", "MeanAbsoluteError": "mae", "mae": "mae",
    "huber": "huber", "Huber": "huber", "huber_loss": "huber",
    "binary_crossentropy": "binary_crossentropy", "BinaryCrossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "hinge": "hinge", "Hinge": "hinge",
}


def _training_settings(model, graph: Graph) -> None:
    """The loss and optimizer of a compiled model, where the catalog declares them."""
    from netdesigner.graph.training import OPTIMIZERS
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and getattr(model, "compiled", False):
        name = type(optimizer).__name__.lower()
        if name in OPTIMIZERS:
            config = optimizer.get_config()
            params = {}
            for p in OPTIMIZERS[name].params:
                v = config.get(p.name)
                if isinstance(v, (int, float)) and not isinstance(v, bool) or isinstance(v, bool):
                    v = p.coerce(float(v) if p.kind == "float" else v)
                    if p.check(v) is None:
                        params[p.name] = v
            graph.training["optimizer"] = name
            graph.training["optimizer_params"] = {**OPTIMIZERS[name].params.defaults(), **params}
            if config.get("clipnorm"):
                graph.training["clip_norm"] = float(config["clipnorm"])
    loss = getattr(model, "loss", None)
    if loss is not None:
        first = loss[0] if isinstance(loss, (list, tuple)) and loss else loss
        key = first if isinstance(first, str) else type(first).__name__
        if key in LOSS_NAMES:
            graph.training["loss"] = LOSS_NAMES[key]
            if getattr(first, "from_logits", False):
                graph.training["from_logits"] = True
            if LOSS_NAMES[key] == "huber" and hasattr(first, "get_config"):
                graph.training["loss_params"] = {"delta": float(first.get_config().get("delta",
                                                                                       1.0))}


# -- entry points -----------------------------------------------------------------------------

def import_model(model, *, title: str | None = None, with_settings: bool = True) -> Graph:
    """The design of a Keras functional or (built) sequential model; raises ImportProblem."""
    return _import(model, title, with_settings)[0]


def import_with_weights(model, **kwargs) -> tuple[Graph, dict]:
    """The design and its weights {"node/name": array} (the `.npz` format of both backends)."""
    from .weights import layer_weight_names
    graph, layers = _import(model, kwargs.get("title"), kwargs.get("with_settings", True))
    out = {}
    for node, layer in layers.items():
        names, values = layer_weight_names(layer), layer.get_weights()
        if not values and getattr(layer, "input_mean", None) is not None:
            names, values = _given_statistics(layer)
        for name, v in zip(names, values):
            out[f"{node}/{name}"] = np.asarray(v)
    return graph, out


def _given_statistics(layer) -> tuple[list, list]:
    """A Normalization built with mean= and variance= holds no weights: the design keeps them
    as its weights (mean, variance per kept entry; count 0: nothing was adapted)."""
    one_mean = layer.axis in ((), None)
    arrays = []
    for value in (layer.mean, layer.variance):
        flat = np.asarray(value, np.float32).reshape(-1)
        arrays.append(flat.reshape(()) if one_mean else flat)
    return ["mean", "variance", "count"], [*arrays, np.asarray(0, np.int64)]


def _match_outputs(model_name: str, graph: Graph, wanted: list) -> None:
    """A design outputs every port of every layer nobody reads; the model may output fewer (an
    RNN's states returned but unused). States nobody reads are dropped by turning return_state
    off (the same computation); any other port the model leaves out is refused by name."""
    def design_outputs():
        return [(n, p) for n in graph.outputs() for p in range(graph.output_count(n))]
    wanted_set = set(wanted)
    for node, port in design_outputs():
        params = graph.node(node).params
        if port > 0 and (node, port) not in wanted_set and params.get("return_state") and \
                not any((node, p) in wanted_set for p in range(1, graph.output_count(node))):
            graph.set_param(node, "return_state", False)
    extra = [f"{n} port {p}" for n, p in design_outputs() if (n, p) not in wanted_set]
    if extra:
        raise ImportProblem(model_name, {}, [
            f"{', '.join(extra)}: the model does not output this port of a layer nobody "
            f"reads, and a design outputs every port of such a layer"])


def _import(model, title, with_settings) -> tuple[Graph, dict]:
    importer = _Importer()
    outputs = importer.walk(model)
    if importer.unsupported or importer.other:
        raise ImportProblem(model.name, importer.unsupported, importer.other)
    graph = importer.graph
    consumed = {e.source for e in graph.edges()}
    dangling = [node for node, _ in filter(None, outputs) if node in consumed]
    if dangling:
        raise ImportProblem(model.name, {}, [
            f"{n} is an output of the model and also feeds other layers; a design's outputs are "
            f"the layers nobody reads" for n in dangling])
    _match_outputs(model.name, graph, [o for o in outputs if o is not None])
    for node, pos in layered_positions(graph).items():
        graph.move_node(node, pos)
    graph.metadata["title"] = title or model.name
    graph.metadata["description"] = f"Imported from the Keras model {model.name!r}."
    if with_settings:
        _training_settings(model, graph)
    return graph, importer.layers


def _class_refs(value, found: dict) -> None:
    """Every {"class_name", "module", "registered_name"} object of a saved config, by name (a
    function's own name for a saved function)."""
    if isinstance(value, dict):
        if isinstance(value.get("class_name"), str) and "config" in value:
            name = value["class_name"]
            if name == "function" and isinstance(value.get("config"), str):
                name = value["config"]
            found.setdefault(name, (value.get("module"), value.get("registered_name")))
        for v in value.values():
            _class_refs(v, found)
    elif isinstance(value, list):
        for v in value:
            _class_refs(v, found)


def _unknown(tree) -> list[tuple]:
    import keras
    found: dict = {}
    _class_refs(tree, found)
    unknown = []
    for cls, (module, registered) in sorted(found.items()):
        if module and str(module).split(".")[0] == "keras":
            continue                                   # a class of Keras itself
        if registered and keras.saving.get_registered_object(registered) is not None:
            continue                                   # registered by its author (imported)
        if cls == "__keras_tensor__":
            continue
        unknown.append((cls, str(registered or cls), module))
    return unknown


def _saved_config(path) -> dict:
    import json
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}


def unknown_classes(path) -> list[tuple]:
    """The classes and functions the model of a `.keras` file needs that neither Keras nor a
    registration provides (the author's own layers, activations), read from the file's
    config.json before anything is deserialised, as (name, saved name, module). Empty for a
    file that is not a `.keras` zip (Keras then reports what it finds)."""
    return _unknown(_saved_config(path).get("config", {}))


def unknown_training_objects(path) -> list[tuple]:
    """The same for the file's compile set-up (a loss or metric of the author's): the model
    still imports, with the catalog's default training settings."""
    return _unknown(_saved_config(path).get("compile_config") or {})


def custom_class_message(path, unknown: list[tuple]) -> str:
    """One first line naming every class the file needs and what to do, then the detail."""
    names = ", ".join(cls for cls, _, _ in unknown)
    them = "it" if len(unknown) == 1 else "them"
    return (f"{path}: the model uses {len(unknown)} class(es) or function(s) of its author: "
            f"{names} — "
            f"Keras needs their code to load the file (import the module that registers "
            f"{them} with @keras.saving.register_keras_serializable), and a design needs "
            f"{them} rebuilt from catalog layers (`netdesigner layers` lists them).\n"
            + "".join(f"  {cls}: saved as {reg!r}"
                      f"{f' from the module {module}' if module else ''}\n"
                      for cls, reg, module in unknown)
            + "  a .keras file holds each layer's class name and arguments, not its code.")


#: how a source names a keras.applications architecture rather than a file
APPLICATION_SOURCE = re.compile(r"(?:keras\.)?applications\.(\w+)")


def load_keras_model(source):
    """A model from a `.keras` / `.h5` file (safe mode), or `keras.applications.NAME` (built
    with weights=None)."""
    text = str(source)
    m = APPLICATION_SOURCE.fullmatch(text)
    if not m and not Path(text).exists():         # said before TensorFlow loads (seconds)
        raise ValueError(f"{text}: no such file (give a .keras file or "
                         f"keras.applications.NAME)")
    import keras
    if m:
        factory = getattr(keras.applications, m.group(1), None)
        if factory is None or not callable(factory):
            raise ValueError(f"keras.applications has no {m.group(1)!r}")
        return factory(weights=None)
    path = Path(text)
    from . import layers as _registered  # noqa: F401  (Sampling is a custom layer)
    unknown = unknown_classes(path)
    if unknown:
        raise ValueError(custom_class_message(path, unknown))
    compile_it = not unknown_training_objects(path)    # else: the architecture alone
    try:
        return keras.models.load_model(path, safe_mode=True, compile=compile_it)
    except Exception as e:
        raise ValueError(f"{path}: Keras cannot load it ({type(e).__name__}: {e})") from None


def import_file(source, out, *, weights: bool = True) -> tuple[Graph, list[Path]]:
    """Import a `.keras` file (or keras.applications.NAME) into the design `out` (.graph); with
    `weights`, the model's weights go beside it as `<out stem>.weights.npz` (the file the
    designer's backends train from). Returns the graph and the paths written."""
    from netdesigner.graph import fileformat
    model = load_keras_model(source)
    # reading every weight out of a big model takes a while: only when they are written
    graph, values = import_with_weights(model) if weights else (import_model(model), {})
    own = unknown_training_objects(source) if Path(str(source)).exists() else []
    if own:
        graph.metadata["description"] += (
            f" Its training set-up uses {', '.join(n for n, _, _ in own)} of its author's, "
            f"which Keras cannot load without their code: the design has the default "
            f"training settings.")
    out = Path(out)
    fileformat.save(graph, out)
    written = [out]
    if weights:
        from netdesigner.backends.weights_file import weights_path
        if values:
            path = weights_path(out)
            np.savez(path, **values)
            written.append(path)
    return graph, written
