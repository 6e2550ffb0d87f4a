"""A SavedModel that serves raw samples: the design's fitted preprocessing and class names go
with the network, so a user does not re-implement them.

    preprocessing = Preprocessing.of(split, settings, model)   # from `backends.data.prepare`
    write_savedmodel(model, "net_savedmodel/", preprocessing)

The SavedModel keeps its `serve` endpoint (samples prepared as the network expects them, as
`model.export` writes it) and gains `serve_raw`: samples as they are in the data set (before
scaling; any shape with the sample's number of values), reshaped to the Input's shape, scaled
with the statistics fitted on the training split (min-max: one min and max over all values;
standard: each feature's mean and standard deviation), as constants of the graph, then run
through the network. It returns `outputs` (the network's output) and, for a classifier,
`class_id` (as `backends.evaluation.class_ids` reads outputs) and `class_name` (the label as
written in the user's data). `<name>.preprocessing.json` beside the folder says the same in
plain data (scaling, class names, signatures).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RAW_ENDPOINT = "serve_raw"


@dataclass
class Preprocessing:
    raw_shape: tuple                    # one raw sample's shape, as in the data set
    input_shape: tuple                  # the network's Input shape
    dtype: str                          # the raw samples' dtype
    scaling: dict = field(default_factory=dict)     # backends.data.fit_scaling's description
    classes: list = field(default_factory=list)     # class i is classes[i]
    threshold: float = 0.5              # one output unit: class 1 above it

    @classmethod
    def of(cls, split, settings: dict, model) -> "Preprocessing | None":
        """What `backends.data.prepare` did to make `split`, for a one-input model; None where
        no raw input can be served (a GAN, several inputs or outputs, or no data)."""
        from netdesigner.backends.modes import mode_named
        dataset = getattr(split, "dataset", None)
        if (dataset is None or not mode_named(settings.get("mode", "supervised"))
                .serves_raw_samples or len(model.inputs) != 1 or len(model.outputs) != 1):
            return None
        x = dataset.x
        raw_shape = tuple(int(d) for d in x.shape[1:])
        floating = np.issubdtype(np.dtype(x.dtype), np.floating)
        from netdesigner.backends.data import RECONSTRUCTION_MODES
        width = model.outputs[0].shape[-1]
        classes = [str(c) for c in dataset.classes]
        # class outputs where the network predicts the data set's classes (an autoencoder of
        # digits gives pixels, not one of ten classes)
        if (getattr(dataset, "task", None) != "classification"
                or settings.get("mode") in RECONSTRUCTION_MODES or len(model.outputs[0].shape) != 2
                or width not in (len(classes), 1 if len(classes) == 2 else -1)):
            classes = []
        logits = bool(settings.get("from_logits")) or settings.get("loss") == "hinge"
        return cls(raw_shape, tuple(model.inputs[0].shape[1:]),
                   "float32" if floating else str(model.inputs[0].dtype),
                   dict(split.scaling or {}), classes, 0.0 if logits else 0.5)

    def describe(self) -> dict:
        """The preprocessing as plain data (the JSON beside the SavedModel)."""
        scaling = {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                   for k, v in self.scaling.items()}
        return {"raw_endpoint": RAW_ENDPOINT, "raw_sample_shape": list(self.raw_shape),
                "network_input_shape": list(self.input_shape), "raw_dtype": self.dtype,
                "scaling": scaling, "classes": list(self.classes),
                "binary_threshold": self.threshold}

    def apply(self, x):
        """The preprocessing in TensorFlow (raw batch -> the network's input)."""
        import tensorflow as tf
        x = tf.reshape(x, (-1, *self.input_shape))
        mode = self.scaling.get("mode")
        if mode == "minmax":
            lo, hi = float(self.scaling["min"]), float(self.scaling["max"])
            span = hi - lo if hi > lo else 1.0
            x = (x - np.float32(lo)) / np.float32(span)
        elif mode == "standard":
            mean = np.asarray(self.scaling["mean"], np.float32)
            std = np.asarray(self.scaling["std"], np.float32)
            x = (x - tf.constant(mean)) / tf.constant(std)
        return x

    def outputs(self, y) -> dict:
        import tensorflow as tf
        out = {"outputs": y}
        if self.classes and len(y.shape) == 2:
            if y.shape[-1] == 1:
                ids = tf.cast(y[:, 0] > self.threshold, tf.int64)
            else:
                ids = tf.argmax(y, axis=-1, output_type=tf.int64)
            out["class_id"] = ids
            out["class_name"] = tf.gather(tf.constant(self.classes), ids)
        return out


def preprocessing_file_for(out: Path) -> Path:
    """net_savedmodel/ -> net_savedmodel.preprocessing.json (beside the folder)."""
    out = Path(out)
    return out.with_name(out.name + ".preprocessing.json")


def write_savedmodel(model, out: Path, preprocessing: Preprocessing | None) -> list[Path]:
    """The SavedModel (with `serve_raw` when `preprocessing` is given) and its JSON."""
    import keras
    import tensorflow as tf
    out = Path(out)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    if preprocessing is None:
        model.export(str(out), format="tf_saved_model", verbose=False)
        return [out]
    spec = model.inputs[0]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve", fn=lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec((None, *spec.shape[1:]), spec.dtype)])
    archive.add_endpoint(
        name=RAW_ENDPOINT,
        fn=lambda x: preprocessing.outputs(model(preprocessing.apply(x), training=False)),
        input_signature=[tf.TensorSpec((None, *preprocessing.raw_shape), preprocessing.dtype)])
    archive.write_out(str(out), verbose=False)
    meta = preprocessing_file_for(out)
    meta.write_text(json.dumps(preprocessing.describe(), indent=2) + "\n")
    return [out, meta]


def raw_keras_model(model, preprocessing: Preprocessing):
    """The network behind its fitted preprocessing, in plain Keras layers, for a `.keras` file
    that takes raw samples: min-max scaling as a Rescaling (x / span - min / span), standard
    scaling as a Normalization holding each value's mean and variance (std squared), then a
    Reshape to the Input's shape when the raw samples have another. Keras's own layers only:
    it loads with `keras.models.load_model` in safe mode, without this project."""
    import keras
    p = preprocessing
    raw = keras.Input(tuple(p.raw_shape), dtype=p.dtype, name="raw_samples")
    x = raw
    mode = p.scaling.get("mode")
    if mode == "minmax":
        lo, hi = float(p.scaling["min"]), float(p.scaling["max"])
        span = hi - lo if hi > lo else 1.0
        x = keras.layers.Rescaling(1.0 / span, -lo / span, name="minmax_scaling")(x)
    elif mode == "standard":
        mean = np.asarray(p.scaling["mean"], np.float32)
        std = np.asarray(p.scaling["std"], np.float32)
        axis = tuple(range(1, len(p.raw_shape) + 1))       # one statistic per raw value
        x = keras.layers.Normalization(axis=axis, mean=mean, variance=np.square(std),
                                       name="standard_scaling")(x)
    if tuple(p.raw_shape) != tuple(p.input_shape):
        x = keras.layers.Reshape(tuple(p.input_shape), name="to_input_shape")(x)
    return keras.Model(raw, model(x), name=f"{model.name}_raw")
