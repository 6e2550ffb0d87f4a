"""Attention layers: dot-product, additive (Bahdanau) and multi-head attention."""
from __future__ import annotations

from ..catalog import declare
from ..params import BOOL, CHOICE, FLOAT, INT, REGULARIZER_PARAMS, Param
from ..shapes import ShapeError, fmt, known, prod, require_known, require_rank

PORTS = ("query", "value", "key")
SELF_HINT = ("for self-attention, wire the same tensor into query and value.")


def _attention_inputs(layer, inputs):
    """query, value, key shapes (key defaults to value), checked to be sequences."""
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    for port, s in zip(PORTS, (query, value, key)):
        require_rank(layer, s, 2, f"(time steps, features) at its {port} port",
                     "attention relates the steps of sequences; " + SELF_HINT)
        require_known(layer, s, -1, f"{port} features")
    if key[0] is not None and value[0] is not None and key[0] != value[0]:
        raise ShapeError(f"{layer} needs key and value to have the same number of time steps, "
                         f"but gets key {fmt(key)} and value {fmt(value)}.")
    return query, value, key


def _dot_attention_shape(p, inputs):
    query, value, key = _attention_inputs("Attention", inputs)
    if query[-1] != key[-1]:
        raise ShapeError(f"Attention compares query and key by a dot product, so they need the "
                         f"same number of features, but gets query {fmt(query)} and key "
                         f"{fmt(key)}: add a Dense layer to one of them.")
    return [(query[0], value[-1])]


def _score_flops(p, inputs, outputs):
    query, value, key = _attention_inputs("Attention", inputs)
    tq, tv = known(query[0]), known(value[0])
    return 2 * tq * tv * (key[-1] + value[-1])


declare(
    "Attention", category="Attention",
    description="Dot-product (Luong) attention: each query step takes a weighted average of "
                "the value steps, weighted by softmax(query . key). " + SELF_HINT.capitalize(),
    params=[
        Param("use_scale", BOOL, False, "Learn a scalar that scales the scores."),
        Param("score_mode", CHOICE, "dot", "How query and key are compared: 'dot' product, or "
              "'concat' (sum of tanh of query + key).", choices=("dot", "concat")),
        Param("dropout", FLOAT, 0.0, "Dropout on the attention weights.", min=0, max=1,
              max_exclusive=True),
    ],
    input_names=PORTS, min_inputs=2, max_inputs=3,
    shape=_dot_attention_shape, has_weights=True,
    param_count=lambda p, i, o: int(p["use_scale"]) + int(p["score_mode"] == "concat"),
    flops=_score_flops,
)


def _additive_shape(p, inputs):
    query, value, key = _attention_inputs("AdditiveAttention", inputs)
    if query[-1] != key[-1]:
        raise ShapeError(f"AdditiveAttention adds query and key, so they need the same number "
                         f"of features, but gets query {fmt(query)} and key {fmt(key)}.")
    return [(query[0], value[-1])]


declare(
    "AdditiveAttention", category="Attention",
    description="Additive (Bahdanau) attention: scores are sum(tanh(query + key)), as in the "
                "first neural machine translation models.",
    params=[
        Param("use_scale", BOOL, True, "Learn one scale per feature for the scores."),
        Param("dropout", FLOAT, 0.0, "Dropout on the attention weights.", min=0, max=1,
              max_exclusive=True),
    ],
    input_names=PORTS, min_inputs=2, max_inputs=3,
    shape=_additive_shape, has_weights=True,
    param_count=lambda p, i, o: i[0][-1] if p["use_scale"] else 0,
    flops=_score_flops,
)


def _mha_inputs(inputs):
    """query, value, key shapes (key defaults to value).

    Like Keras, MultiHeadAttention attends over every axis but the last (the features), so
    besides sequences (time steps, features) it takes e.g. images (height, width, channels).
    """
    layer = "MultiHeadAttention"
    query, value = inputs[0], inputs[1]
    key = inputs[2] if len(inputs) > 2 else value
    for port, s in zip(PORTS, (query, value, key)):
        if len(s) < 2:
            raise ShapeError(f"{layer} expects a sequence (time steps, features) at its {port} "
                             f"port but gets {fmt(s)}: attention relates the steps of "
                             f"sequences; {SELF_HINT}")
        require_known(layer, s, -1, f"{port} features")
    if not len(query) == len(value) == len(key):
        raise ShapeError(f"{layer} needs query, value and key with the same number of axes, "
                         f"but gets query {fmt(query)}, value {fmt(value)} and key {fmt(key)}.")
    if key[:-1] != value[:-1]:
        unknown = (" (an unknown size, None, only matches another unknown size)"
                   if None in key[:-1] + value[:-1] else "")
        raise ShapeError(f"{layer} needs key and value to have the same number of time steps "
                         f"(all sizes but the features must agree), but gets key {fmt(key)} "
                         f"and value {fmt(value)}{unknown}.")
    return query, value, key


def _mha_shape(p, inputs):
    query, value, key = _mha_inputs(inputs)
    return [query]


def _mha_params(p, inputs, outputs):
    query, value, key = _mha_inputs(inputs)
    heads, kd = p["num_heads"], p["key_dim"]
    vd = p["value_dim"] or kd
    bias = p["use_bias"]

    def projection(features, width):
        return features * heads * width + (heads * width if bias else 0)

    out = heads * vd * query[-1] + (query[-1] if bias else 0)
    return projection(query[-1], kd) + projection(key[-1], kd) + projection(value[-1], vd) + out


def _mha_flops(p, inputs, outputs):
    query, value, key = _mha_inputs(inputs)
    tq, tv = prod(known(d) for d in query[:-1]), prod(known(d) for d in value[:-1])
    heads, kd = p["num_heads"], p["key_dim"]
    vd = p["value_dim"] or kd
    projections = 2 * heads * (tq * query[-1] * kd + tv * key[-1] * kd + tv * value[-1] * vd
                               + tq * vd * query[-1])
    return projections + 2 * heads * tq * tv * (kd + vd)


declare(
    "MultiHeadAttention", category="Attention",
    description="Several attention heads in parallel, each with its own learned projections "
                "of query, key and value: the heart of the Transformer. " + SELF_HINT.capitalize(),
    params=[
        Param("num_heads", INT, 4, "Number of attention heads.", min=1, max=1024),
        Param("key_dim", INT, 16, "Size of each head's query and key projections.", min=1,
              max=65_536),
        Param("value_dim", INT, None, "Size of each head's value projection (empty: key_dim).",
              min=1, max=65_536, optional=True),
        Param("dropout", FLOAT, 0.0, "Dropout on the attention weights.", min=0, max=1,
              max_exclusive=True),
        Param("use_bias", BOOL, True, "Learn biases in the projections."),
        *REGULARIZER_PARAMS,
    ],
    input_names=PORTS, min_inputs=2, max_inputs=3,
    shape=_mha_shape, has_weights=True, param_count=_mha_params, flops=_mha_flops,
)
