"""Test-set evaluation after training: metrics a student reads, and a few sample predictions.

Pure NumPy (no backend): it takes the targets and the network's outputs on the test split.
"""
from __future__ import annotations

import numpy as np

SAMPLES_SHOWN = 24


def class_ids(values: np.ndarray) -> np.ndarray:
    """Class index per sample from one-hot / probabilities, a single sigmoid unit, or ids.

    Per-time-step classes (targets (samples, steps) of ids, outputs (samples, steps, classes))
    give one index per step: an array (samples, steps)."""
    v = np.asarray(values)
    if v.ndim == 1 or v.dtype.kind in "iu":
        return v.astype(np.int64)
    if v.shape[-1] == 1:
        return (v[:, 0] > (0.0 if v.min() < 0 else 0.5)).astype(np.int64)
    return v.argmax(axis=-1).astype(np.int64)


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, classes: list) -> dict:
    """Accuracy, per-class precision/recall/F1 (and their macro averages), confusion matrix.

    With one class per time step every step counts once, and `sequence_accuracy` is the
    fraction of samples with every step right."""
    t, p = class_ids(y_true), class_ids(y_pred)
    whole = {}
    if t.ndim > 1:
        whole = {"sequence_accuracy": float(np.mean(np.all(t == p, axis=1))) if len(t) else 0.0}
        t, p = t.ravel(), p.ravel()
    n = max(len(classes), int(max(t.max(initial=0), p.max(initial=0))) + 1)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (t, p), 1)
    tp = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0).astype(float)
    actual = confusion.sum(axis=1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(n), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n),
                   where=(precision + recall) > 0)
    names = list(classes) + [str(i) for i in range(len(classes), n)]
    return {
        "accuracy": float(tp.sum() / max(1, len(t))),
        "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
        "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()), "confusion": confusion.tolist(), "classes": names,
        **whole,
    }


def regression_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    err = np.asarray(y_pred, dtype=np.float64) - np.asarray(y_true, dtype=np.float64)
    return {"mse": float(np.mean(err ** 2)), "mae": float(np.mean(np.abs(err)))}


def evaluation_event(split, y_pred: np.ndarray, test_loss: float | None = None,
                     test_metrics: dict | None = None) -> dict:
    """The `evaluation` event a run sends after `train_end`: metrics on the test split and a
    few test samples with their predictions (images as lists, for the designer's grid)."""
    dataset = split.dataset
    y_true = split.y_test
    metrics = {k: float(v) for k, v in (test_metrics or {}).items()}
    if isinstance(y_true, list):
        return outputs_event(split, y_pred, test_loss, metrics)
    event = {"event": "evaluation", "task": dataset.task, "samples": len(y_true),
             "loss": None if test_loss is None else float(test_loss), "metrics": metrics}
    if dataset.task == "classification":
        event["report"] = classification_report(y_true, y_pred, dataset.classes)
        shown = min(SAMPLES_SHOWN, len(y_true))
        truth, guess = class_ids(y_true)[:shown], class_ids(y_pred)[:shown]
        # several Inputs: a sample is several arrays, never one picture
        x = None if isinstance(split.x_test, list) else np.asarray(split.x_test[:shown])
        image = x is not None and (x.ndim == 4 or (x.ndim == 3 and x.shape[-1] in (1, 3)
                                                   and x.shape[1] > 3))
        event["examples"] = {"true": truth.tolist(), "predicted": guess.tolist(),
                             "images": x.astype(float).tolist() if image else None}
    elif dataset.task == "reconstruction":
        event["report"] = regression_report(y_true, y_pred)
        event["examples"] = reconstruction_examples(split, y_pred)
    else:
        event["report"] = regression_report(y_true, y_pred)
    return event


#: the `evaluation` event's task for a network with several outputs
OUTPUTS = "outputs"


def outputs_event(split, y_pred: list, test_loss: float | None, metrics: dict) -> dict:
    """The `evaluation` event of a network with several outputs: a report per output
    ({output id: classification or regression report}), no example samples, and `note`, the
    sentence the views show where they cannot show several outputs."""
    reports = {}
    for node, truth, guess in zip(split.outputs, split.y_test, y_pred):
        truth = np.asarray(truth)
        classes = truth.dtype.kind in "iu" or (truth.ndim >= 2 and truth.shape[-1] > 1 and
                                               set(np.unique(truth)) <= {0.0, 1.0})
        reports[node] = (classification_report(truth, guess, []) if classes
                         else regression_report(truth, guess))
    return {"event": "evaluation", "task": OUTPUTS, "samples": len(split.y_test[0]),
            "loss": None if test_loss is None else float(test_loss), "metrics": metrics,
            "report": reports,
            "note": f"The network has {len(reports)} outputs ({', '.join(reports)}): the test "
                    f"set's per-class tables and sample views show one output, so only each "
                    f"output's scores are listed."}


RECONSTRUCTIONS_SHOWN = 12


def picture_shape(sample_shape: tuple, size: int) -> tuple | None:
    """The shape to draw a sample in: the data set's own image shape (8x8 digits, also when
    the network reads them flattened), else None (not an image)."""
    s = tuple(sample_shape)
    image = (len(s) == 3 and s[-1] in (1, 3)) or (len(s) == 2 and min(s) > 3)
    return s if image and int(np.prod(s)) == size else None


def reconstruction_examples(split, y_pred: np.ndarray) -> dict:
    """A few test samples: what the autoencoder read (noisy, with input_noise), what it should
    give back, and what it gave; as pictures when the data are images, else as vectors."""
    k = min(RECONSTRUCTIONS_SHOWN, len(split.y_test))
    target = np.asarray(split.y_test[:k], dtype=np.float64)
    size = int(np.prod(target.shape[1:]))
    shape = picture_shape(split.dataset.sample_shape, size)

    def rows(a):
        a = np.asarray(a[:k], dtype=np.float64)
        return (a.reshape((k,) + shape) if shape else a.reshape(k, -1)).tolist()
    return {"inputs": rows(split.x_test), "targets": rows(target),
            "outputs": rows(np.asarray(y_pred)), "images": shape is not None}
