"""Attention: Attention (dot product), AdditiveAttention (Bahdanau) and MultiHeadAttention.

All three compute scores s[i, j] saying how well query step i matches key step j, turn every
row of scores into weights a = softmax(s) that sum to 1, and answer each query step with the
weighted average of the value steps: out = a @ value. They differ only in the scores:

    Attention           s = scale * q k^T              ('concat': w * sum(tanh(scale (q + k))))
    AdditiveAttention   s = sum(scale * tanh(q + k))
    MultiHeadAttention  s = (q Wq)(k Wk)^T / sqrt(key_dim), per head, then out = (a v Wv) Wo

Inputs are [query, value] or [query, value, key]; without a key, the value serves as key and
its gradient is the sum of both uses.
"""
from __future__ import annotations

import math

import numpy as np

from .. import initializers as init
from ..registry import register
from .activations import softmax, softmax_grad
from .noise import dropout_mask


def _unpack(xs):
    q, v = xs[0], xs[1]
    return q, v, (xs[2] if len(xs) > 2 else v)


def _pack(dq, dv, dk, n_inputs):
    return [dq, dv, dk] if n_inputs > 2 else [dq, dv + dk]


def attend(scores, value, params, training, rng):
    """softmax, dropout on the weights, weighted average of the values."""
    weights = softmax(scores)
    mask = None
    if training and params["dropout"] > 0:
        mask = dropout_mask(weights.shape, params["dropout"], rng, weights.dtype)
    used = weights if mask is None else weights * mask
    return used @ value, (scores, weights, mask, used, value)


def attend_grad(dout, cache):
    """-> (dscores, dvalue)."""
    scores, weights, mask, used, value = cache
    dvalue = used.swapaxes(-1, -2) @ dout
    dused = dout @ value.swapaxes(-1, -2)
    dweights = dused if mask is None else dused * mask
    return softmax_grad(dweights, scores, weights), dvalue


def _scalar(value):
    return np.asarray(value).reshape(())


# -- Attention ---------------------------------------------------------------------------------

@register("Attention", random=True)
class Attention:
    def weights(params, input_shapes, rng, dtype):
        w = {}
        if params["use_scale"]:
            w["scale"] = init.ones((), dtype=dtype)
        if params["score_mode"] == "concat":
            w["concat_score_weight"] = init.ones((), dtype=dtype)
        return w

    def forward(xs, weights, params, training, rng=None):
        q, v, k = _unpack(xs)
        scale = weights.get("scale")
        if params["score_mode"] == "dot":
            qk = q @ k.swapaxes(-1, -2)
            scores, extra = (qk if scale is None else qk * scale), qk
        else:
            pairs = q[:, :, None, :] + k[:, None, :, :]            # (B, Tq, Tv, dim)
            e = np.tanh(pairs if scale is None else scale * pairs)
            scores, extra = weights["concat_score_weight"] * e.sum(axis=-1), (pairs, e)
        out, attended = attend(scores, v, params, training, rng)
        return out, (q, k, len(xs), extra, attended, weights, params)

    def backward(dout, cache):
        q, k, n_inputs, extra, attended, weights, params = cache
        ds, dv = attend_grad(dout, attended)
        scale, grads = weights.get("scale"), {}
        if params["score_mode"] == "dot":
            qk = extra
            if scale is not None:
                grads["scale"] = _scalar((ds * qk).sum())
                ds = ds * scale
            dq, dk = ds @ k, ds.swapaxes(-1, -2) @ q
        else:
            pairs, e = extra
            w = weights["concat_score_weight"]
            dpre = (ds * w)[..., None] * (1 - e * e)                 # through w * sum(tanh(.))
            if scale is not None:
                grads["scale"] = _scalar((dpre * pairs).sum())
                dpre = dpre * scale
            grads["concat_score_weight"] = _scalar((ds * e.sum(axis=-1)).sum())
            dq, dk = dpre.sum(axis=2), dpre.sum(axis=1)
        return _pack(dq, dv, dk, n_inputs), grads


# -- AdditiveAttention -------------------------------------------------------------------------

@register("AdditiveAttention", random=True)
class AdditiveAttention:
    def weights(params, input_shapes, rng, dtype):
        if not params["use_scale"]:
            return {}
        return {"scale": init.glorot_uniform((input_shapes[0][-1],), rng, dtype)}

    def forward(xs, weights, params, training, rng=None):
        q, v, k = _unpack(xs)
        e = np.tanh(q[:, :, None, :] + k[:, None, :, :])            # (B, Tq, Tv, dim)
        scores = (e * weights["scale"] if params["use_scale"] else e).sum(axis=-1)
        out, attended = attend(scores, v, params, training, rng)
        return out, (e, len(xs), attended, weights, params)

    def backward(dout, cache):
        e, n_inputs, attended, weights, params = cache
        ds, dv = attend_grad(dout, attended)
        de, grads = ds[..., None], {}
        if params["use_scale"]:
            grads["scale"] = (de * e).sum(axis=(0, 1, 2))
            de = de * weights["scale"]
        dpre = de * (1 - e * e)
        return _pack(dpre.sum(axis=2), dv, dpre.sum(axis=1), n_inputs), grads


# -- MultiHeadAttention ------------------------------------------------------------------------

def project(x, kernel, bias):
    """(B, T, F) x (F, heads, dim) -> (B, heads, T, dim): one Dense per head."""
    y = np.einsum("btf,fhd->bhtd", x, kernel)
    return y if bias is None else y + bias[:, None, :]


def project_grad(dy, x, kernel, grads, name):
    grads[f"{name}_kernel"] = np.einsum("btf,bhtd->fhd", x, dy)
    if f"{name}_bias" in grads:
        grads[f"{name}_bias"] = dy.sum(axis=(0, 2))
    return np.einsum("bhtd,fhd->btf", dy, kernel)


@register("MultiHeadAttention", random=True)
class MultiHeadAttention:
    def weights(params, input_shapes, rng, dtype):
        fq, fv = input_shapes[0][-1], input_shapes[1][-1]
        fk = input_shapes[2][-1] if len(input_shapes) > 2 else fv
        heads, kd = params["num_heads"], params["key_dim"]
        vd = params["value_dim"] or kd
        w = {}
        for name, shape in (("query", (fq, heads, kd)), ("key", (fk, heads, kd)),
                            ("value", (fv, heads, vd))):
            w[f"{name}_kernel"] = init.glorot_uniform(shape, rng, dtype)
            if params["use_bias"]:
                w[f"{name}_bias"] = init.zeros(shape[1:], dtype=dtype)
        w["output_kernel"] = init.glorot_uniform((heads, vd, fq), rng, dtype)
        if params["use_bias"]:
            w["output_bias"] = init.zeros((fq,), dtype=dtype)
        return w

    def forward(xs, weights, params, training, rng=None):
        q, v, k = _unpack(xs)
        c = 1 / math.sqrt(params["key_dim"])
        Q = project(q, weights["query_kernel"], weights.get("query_bias")) * c  # (B, h, Tq, kd)
        K = project(k, weights["key_kernel"], weights.get("key_bias"))
        V = project(v, weights["value_kernel"], weights.get("value_bias"))
        O, attended = attend(Q @ K.swapaxes(-1, -2), V, params, training, rng)
        out = np.einsum("bhtd,hdf->btf", O, weights["output_kernel"])
        if params["use_bias"]:
            out = out + weights["output_bias"]
        return out, (q, v, k, len(xs), Q, K, O, attended, c, weights, params)

    def backward(dout, cache):
        q, v, k, n_inputs, Q, K, O, attended, c, weights, params = cache
        grads = dict.fromkeys(weights)                     # Keras's order
        grads["output_kernel"] = np.einsum("bhtd,btf->hdf", O, dout)
        if params["use_bias"]:
            grads["output_bias"] = dout.sum(axis=(0, 1))
        dO = np.einsum("btf,hdf->bhtd", dout, weights["output_kernel"])
        ds, dV = attend_grad(dO, attended)
        dQ, dK = (ds @ K) * c, ds.swapaxes(-1, -2) @ Q
        dq = project_grad(dQ, q, weights["query_kernel"], grads, "query")
        dk = project_grad(dK, k, weights["key_kernel"], grads, "key")
        dv = project_grad(dV, v, weights["value_kernel"], grads, "value")
        return _pack(dq, dv, dk, n_inputs), grads
