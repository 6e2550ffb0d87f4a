"""Losses and metrics, as Keras 3 defines them: value and gradient with respect to the
prediction.

Every loss first computes a per-sample value (an average or a sum over the last axis), then
reduces it the Keras way ("sum_over_batch_size": the mean of the per-sample values), so its
gradient carries a factor 1 / (number of per-sample values).

Cross-entropies on probabilities clip them to [eps, 1 - eps] (eps = 1e-7, Keras's
`backend.epsilon()`); clipped values get no gradient, exactly as `tf.clip_by_value`. The
categorical one first renormalises the probabilities to sum 1, and the sparse one takes the
softmax of their logarithm, as Keras does: both matter only when the inputs are not a proper
distribution.

Inside a model Keras does something else: when the output is produced by a softmax (sigmoid)
activation, its cross-entropy reads the logits behind it (`_keras_logits`) and never clips.
`Loss.fuses(activation)` says when that applies; the compiled model then hands the logits to
`value_and_grad(..., from_logits=True)` (see `backends.numpy.model`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPSILON = 1e-7

LOSS_NAMES = ("mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy",
              "sparse_categorical_crossentropy", "hinge")
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae",
           "huber_loss": "huber"}


def _align(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank, for targets one axis short or long."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    return y_true


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _logsumexp(z):
    m = z.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))[..., 0]


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _sparse_labels(y_true, y_pred):
    """Integer class ids with the shape of y_pred without its last axis."""
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"sparse targets of shape {labels.shape} do not fit predictions of "
                         f"shape {y_pred.shape}")
    return labels.astype(np.int64)


def _one_hot(labels, n, dtype):
    out = np.zeros(labels.shape + (n,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


# -- the per-sample losses: (per-sample values, d per-sample sum / d y_pred) ------------------
# Each returns the per-sample values and the gradient of their SUM; `Loss` divides by the
# number of per-sample values (the mean reduction).

def _mse(t, p, params):
    t = _align(t, p).astype(p.dtype)
    d = p - t
    n = p.shape[-1]
    return np.mean(d * d, axis=-1), d * np.asarray(2.0 / n, p.dtype)


def _mae(t, p, params):
    t = _align(t, p).astype(p.dtype)
    d = p - t
    return np.mean(np.abs(d), axis=-1), np.sign(d) * np.asarray(1.0 / p.shape[-1], p.dtype)


def _huber(t, p, params):
    t = _align(t, p).astype(p.dtype)
    delta = np.asarray(params.get("delta", 1.0), p.dtype)
    err = p - t
    a = np.abs(err)
    small = a <= delta
    half = np.asarray(0.5, p.dtype)
    per = np.where(small, half * err * err, delta * a - half * delta * delta)
    grad = np.where(small, err, delta * np.sign(err))
    return per.mean(axis=-1), grad * np.asarray(1.0 / p.shape[-1], p.dtype)


def _hinge(t, p, params):
    t = _align(t, p).astype(p.dtype)
    if np.all((t == 0) | (t == 1)):           # Keras turns 0/1 labels into -1/1
        t = 2 * t - 1
    margin = 1 - t * p
    per = np.maximum(margin, 0).mean(axis=-1)
    grad = np.where(margin >= 0, -t, 0).astype(p.dtype)   # tf.maximum: ties go to the first
    return per, grad * np.asarray(1.0 / p.shape[-1], p.dtype)


def _bce(t, p, params, from_logits, probs=None, lse=None):
    t = _align(t, p).astype(p.dtype, copy=False)
    n = np.asarray(1.0 / p.shape[-1], p.dtype)
    if from_logits:                           # tf.nn.sigmoid_cross_entropy_with_logits
        per = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
        s = _sigmoid(p) if probs is None else probs
        return per.mean(axis=-1), (s - t).astype(p.dtype) * n
    eps = np.asarray(EPSILON, p.dtype)
    c = np.clip(p, eps, 1 - eps)
    per = -(t * np.log(c) + (1 - t) * np.log(1 - c))
    inside = (p >= eps) & (p <= 1 - eps)
    grad = np.where(inside, -(t / c) + (1 - t) / (1 - c), 0).astype(p.dtype)
    return per.mean(axis=-1), grad * n


def _cce(t, p, params, from_logits, probs=None, lse=None):
    t = t.astype(p.dtype, copy=False)
    if t.shape != p.shape:
        raise ValueError(f"categorical targets of shape {t.shape} do not fit predictions of "
                         f"shape {p.shape}: use one-hot targets, or "
                         f"sparse_categorical_crossentropy for class ids")
    if from_logits:                           # tf.nn.softmax_cross_entropy_with_logits
        lse = _logsumexp(p) if lse is None else lse
        per = t.sum(axis=-1) * lse - (t * p).sum(axis=-1)
        return per, (_softmax(p) if probs is None else probs) - t
    s = p.sum(axis=-1, keepdims=True)
    q = p / s
    eps = np.asarray(EPSILON, p.dtype)
    c = np.clip(q, eps, 1 - eps)
    per = -(t * np.log(c)).sum(axis=-1)
    inside = (q >= eps) & (q <= 1 - eps)
    gq = np.where(inside, -t / c, 0).astype(p.dtype)       # d per / d q
    grad = (gq - (gq * q).sum(axis=-1, keepdims=True)) / s  # through q = p / sum(p)
    return per, grad


def _sparse_cce(t, p, params, from_logits, probs=None, lse=None):
    labels = _sparse_labels(t, p)
    onehot = _one_hot(labels, p.shape[-1], p.dtype)
    if from_logits:
        lse = _logsumexp(p) if lse is None else lse
        per = lse - np.take_along_axis(p, labels[..., None], -1)[..., 0]
        return per, (_softmax(p) if probs is None else probs) - onehot
    # Keras: log(clip(p)) as logits of a sparse softmax cross-entropy
    eps = np.asarray(EPSILON, p.dtype)
    c = np.clip(p, eps, 1 - eps)
    s = c.sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(c, labels[..., None], -1)
    per = (np.log(s) - np.log(picked))[..., 0]
    inside = (p >= eps) & (p <= 1 - eps)
    grad = np.where(inside, 1 / s - onehot / picked, 0).astype(p.dtype)
    return per, grad


_PLAIN = {"mse": _mse, "mae": _mae, "huber": _huber, "hinge": _hinge}
_CROSS = {"binary_crossentropy": _bce, "categorical_crossentropy": _cce,
          "sparse_categorical_crossentropy": _sparse_cce}
FUSED_ACTIVATION = {"binary_crossentropy": "sigmoid", "categorical_crossentropy": "softmax",
                    "sparse_categorical_crossentropy": "softmax"}


@dataclass
class Loss:
    """One loss, configured: `value(y_pred, y_true)` and `value_and_grad(y_pred, y_true)`."""
    name: str
    params: dict = field(default_factory=dict)
    from_logits: bool = False

    def __post_init__(self):
        self.name = ALIASES.get(self.name, self.name)
        if self.name not in LOSS_NAMES:
            raise ValueError(f"unknown loss {self.name!r}: choose one of {', '.join(LOSS_NAMES)}")

    def fuses(self, activation: str) -> bool:
        """Whether this loss, on the output of `activation`, works from the logits instead (as
        Keras does inside a model)."""
        return not self.from_logits and FUSED_ACTIVATION.get(self.name) == activation

    def per_sample(self, y_pred, y_true, from_logits=None, probs=None, lse=None):
        """(per-sample values, gradient of their sum with respect to y_pred).

        With from_logits, `probs` (the softmax / sigmoid of the logits) and `lse` (their
        log-sum-exp) may be handed in when they are known already; they are not recomputed."""
        y_pred = np.asarray(y_pred)
        if y_pred.dtype.kind != "f":
            y_pred = y_pred.astype(np.float32)
        y_true = np.asarray(y_true)
        logits = self.from_logits if from_logits is None else from_logits
        if self.name in _PLAIN:
            return _PLAIN[self.name](y_true, y_pred, self.params)
        return _CROSS[self.name](y_true, y_pred, self.params, logits, probs, lse)

    def value_and_grad(self, y_pred, y_true, from_logits=None, probs=None, lse=None):
        """(mean loss as a float, dL/dy_pred with y_pred's shape and dtype)."""
        per, grad = self.per_sample(y_pred, y_true, from_logits, probs, lse)
        n = per.size
        if not n:
            return 0.0, np.zeros_like(grad)
        grad *= np.asarray(1.0 / n, grad.dtype)
        return float(per.sum() / n), grad

    def value(self, y_pred, y_true, from_logits=None) -> float:
        return self.value_and_grad(y_pred, y_true, from_logits)[0]


def from_settings(settings: dict) -> Loss:
    """The loss of a graph's training settings."""
    return Loss(settings.get("loss", "categorical_crossentropy"),
                dict(settings.get("loss_params") or {}), bool(settings.get("from_logits", False)))


# -- metrics --------------------------------------------------------------------------------------

def accuracy_kind(loss: Loss, y_true_shape, y_pred_shape) -> str:
    """Which accuracy Keras's "accuracy" picks: from the shapes of targets and predictions
    (`compile_utils.get_metric`): binary when the prediction has one value per sample, sparse
    when the targets are class ids, categorical otherwise."""
    if tuple(y_pred_shape)[-1:] == (1,):
        return "binary"
    if len(y_true_shape) < len(y_pred_shape) or (tuple(y_true_shape)[-1:] == (1,)
                                                  and tuple(y_pred_shape)[-1] > 1):
        return "sparse"
    return "categorical"


def accuracy_matches(kind: str, y_pred, y_true, loss: Loss | None = None):
    """Per-sample 0/1 matches.

    Binary accuracy thresholds at 0.5 as Keras does, with two deliberate differences that make
    the number mean what it says: on logits (from_logits) the threshold is 0, and for the
    hinge loss (targets -1/1) the sign of the prediction is compared with the sign of the
    target. Keras would compare -1 targets against 0/1 predictions and thresholded logits
    at 0.5."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    if kind == "sparse":
        labels = y_true[..., 0] if y_true.ndim == y_pred.ndim else y_true
        return y_pred.argmax(axis=-1) == labels
    if kind == "categorical":
        return y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)
    y_true = _align(y_true, y_pred)
    if loss is not None and loss.name == "hinge":
        return ((y_pred > 0) == (y_true > 0)).astype(np.float64)
    threshold = 0.0 if loss is not None and loss.from_logits else 0.5
    return ((y_pred > threshold).astype(np.float64) == y_true).astype(np.float64)


def _dense_targets(y_true, y_pred):
    """Targets with the predictions' shape: class ids (sparse targets) become one-hot."""
    if y_pred.shape[-1:] != (1,) and (y_true.ndim == y_pred.ndim - 1 or (
            y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1)):
        return _one_hot(_sparse_labels(y_true, y_pred), y_pred.shape[-1], np.float64)
    return _align(y_true, y_pred)


def metric_values(names, loss: Loss, y_pred, y_true) -> dict:
    """{metric name: value} for one batch (means over its values)."""
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true)
    out = {}
    dense_true = None
    for name in names:
        if name in ("accuracy", "acc"):
            kind = accuracy_kind(loss, y_true.shape, y_pred.shape)
            matches = accuracy_matches(kind, y_pred, y_true, loss)
            out[name] = float(np.count_nonzero(matches)) / max(matches.size, 1)
        elif name in ("mse", "mean_squared_error", "mae", "mean_absolute_error"):
            if dense_true is None:
                dense_true = _dense_targets(y_true, y_pred)
            d = np.asarray(y_pred, np.float64) - dense_true
            squared = name in ("mse", "mean_squared_error")
            out[name] = float(np.mean(d * d if squared else np.abs(d)))
        else:
            raise ValueError(f"unknown metric {name!r}: choose accuracy, mse or mae")
    return out
