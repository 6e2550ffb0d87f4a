"""Export a design, with its trained weights, for use outside the designer.

    export(graph, "py", "net.py", weights="net.weights.npz")     # -> [net.py, net.weights.h5]
    export(graph, "savedmodel", "net_savedmodel/")                 # TensorFlow serving
    export(graph, "keras", "net.keras")                            # keras.models.load_model
    export(graph, "onnx", "net.onnx")                              # needs tf2onnx (optional)

Formats:
    py          a readable standalone script (Keras functional API, no import of this project)
                that rebuilds the model and its training set-up and trains it with a chosen
                tf.distribute strategy (`backends.export.script`); the weights go beside it as
                `<name>.weights.h5`, which the script loads; `with_data` also writes the
                prepared data set as `<name>.data.npz`. Given the prepared `split`, the fitted
                scaling and the class names are written into it (RAW): `--predict raw.npy`
                prints the class name of each raw sample
    savedmodel  an inference-only SavedModel with a `serve` endpoint (prepared samples, as
                `model.export` writes it); given the prepared `split`, also `serve_raw` (raw
                samples: the fitted scaling inside, class ids and names out) and
                `<name>.preprocessing.json` beside it (`backends.export.serving`)
    keras       the native `.keras` file (architecture, weights, compile set-up); it reloads
                with `keras.models.load_model` in safe mode. Given the prepared `split`, also
                `<name>.raw.keras`: the same network behind the scaling fitted on the training
                split (a Rescaling or Normalization layer), which takes raw samples, and
                `<name>.preprocessing.json` (the scaling and the class names). When the model
                holds netdesigner's own classes (Sampling, RBF), `netdesigner_layers.py` is
                written beside it: a standalone module (Keras only) that registers them;
                import it before loading
    onnx        the SavedModel converted by `python -m tf2onnx.convert --saved-model` (tf2onnx's
                `from_keras` does not handle Keras 3 models); given the prepared `split`, also
                `<name>.raw.onnx` (raw samples in: the fitted scaling inside) and
                `<name>.preprocessing.json`

`weights`: an `.npz` written by either backend (`backends.runner.weights_path`), a Keras
`.weights.h5`, or a dict {"node/name": array}; without it the freshly initialised weights are
exported (the seeded draw both backends start from, `backends.initial_weights`), except by a
`py` script, which then writes no weights file and, run, starts from Keras's own initialisers
seeded with the design's seed (deterministic, but not the designer's starting point). The
script's optimizer is a plain Keras one: on an Embedding it takes Keras's own steps, not the
designer's (`backends.keras.compiler.dense_gradients`).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from .errors import ExportError
from .preflight import LAYERS_MODULE, LOAD_NOTE

FORMATS = ("py", "savedmodel", "keras", "onnx")




def compiled_model(graph, settings: dict | None = None, weights=None):
    """The design compiled for Keras (with its training set-up) and loaded with `weights`."""
    from netdesigner.backends.keras.compiler import compile_graph
    from netdesigner.backends.keras.weights import load_any
    model = compile_graph(graph, settings)
    load_any(model, weights)
    return model


def weights_file_for(out: Path) -> Path:
    """net.py -> net.weights.h5 (Keras 3 needs the .weights.h5 suffix)."""
    return out.with_name(out.stem + ".weights.h5")


def data_file_for(out: Path) -> Path:
    return out.with_name(out.stem + ".data.npz")


def write_data(split, path: Path) -> Path:
    """The prepared data as the exported script reads it: x_train, y_train, x_val, y_val
    (x_train_0, x_train_1, ... for several inputs), and class_names for classes."""
    import numpy as np
    arrays = {}
    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        value = getattr(split, key, None) if not isinstance(split, dict) else split.get(key)
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                arrays[f"{key}_{i}"] = np.asarray(v)
        else:
            arrays[key] = np.asarray(value)
    # class i of y_* is class_names[i], the label as written in the user's data (1..3, cat/dog)
    dataset = getattr(split, "dataset", None)
    if getattr(dataset, "task", None) == "classification" and dataset.classes:
        arrays["class_names"] = np.array([str(c) for c in dataset.classes])
    np.savez(path, **arrays)
    return path


def export(graph, to: str, out, *, weights=None, settings: dict | None = None,
           source_name: str = "", split=None, model=None, with_data: bool = True) -> list[Path]:
    """Write the design in format `to` at `out`; returns the paths written.

    `split` (a prepared `backends.data.Split`) is written beside a script as its data file
    (unless `with_data` is False); every format takes its fitted preprocessing and class names
    from it (the script's RAW, `serve_raw`, `<name>.raw.keras`, `<name>.raw.onnx`).
    `model` reuses a compiled (e.g. just trained) Keras model instead of compiling the design."""
    if to not in FORMATS:
        raise ExportError(f"unknown export format {to!r}: choose one of {', '.join(FORMATS)}")
    out = Path(out)
    if model is None:
        model = compiled_model(graph, settings, weights)
    from .serving import Preprocessing
    preprocessing = Preprocessing.of(split, dict(graph.training if settings is None
                                                 else settings), model)
    if to == "py":
        from netdesigner.backends.decoding import decoding_plan
        return export_script(graph, model, out, settings=settings, source_name=source_name,
                             split=split if with_data else None,
                             with_weights=weights is not None,
                             preprocessing=preprocessing,
                             decode=decoding_plan(graph, getattr(split, "dataset", None)))
    if to == "savedmodel":
        from .serving import write_savedmodel
        return write_savedmodel(model, out, preprocessing)
    if to == "keras":
        return export_keras(model, out, preprocessing)
    written = [export_onnx(model, out)]
    if preprocessing is not None:       # the network behind its preprocessing, as for .keras
        from .serving import raw_keras_model
        stem = written[0].name[:-len(".onnx")]
        written.append(export_onnx(raw_keras_model(model, preprocessing),
                                   written[0].with_name(stem + ".raw.onnx")))
        meta = written[0].with_name(stem + ".preprocessing.json")
        meta.write_text(json.dumps({**preprocessing.describe(), "raw_model": written[1].name},
                                   indent=2) + "\n")
        written.append(meta)
    return written


def export_script(graph, model, out: Path, *, settings=None, source_name: str = "",
                  split=None, with_weights: bool = True, preprocessing=None,
                  decode: dict | None = None) -> list[Path]:
    from .script import script_source
    out = Path(out)
    if out.suffix != ".py":
        out = out.with_name(out.name + ".py")
    written = []
    weights_name = data_name = None
    if with_weights:
        wpath = weights_file_for(out)
        model.save_weights(wpath)
        weights_name = wpath.name
        written.append(wpath)
    if split is not None:
        dpath = write_data(split, data_file_for(out))
        data_name = dpath.name
        written.append(dpath)
    text = script_source(graph, settings, weights_file=weights_name, data_file=data_name,
                         source_name=source_name, model=model, script_name=out.name,
                         raw=None if preprocessing is None else preprocessing.describe(),
                         decode=decode)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(out)
    return [out, *written]


def export_savedmodel(model, out: Path) -> Path:
    """The SavedModel with its `serve` endpoint only (prepared samples)."""
    from .serving import write_savedmodel
    return write_savedmodel(model, out, None)[0]


def export_keras(model, out: Path, preprocessing=None) -> list[Path]:
    """The .keras file, and beside it `netdesigner_layers.py` when the model holds one of
    netdesigner's own classes (their sources as the exported scripts carry them). With the
    fitted `preprocessing` (`serving.Preprocessing`), also `<name>.raw.keras`, the network
    behind its preprocessing as plain Keras layers (it takes raw samples), and
    `<name>.preprocessing.json` (the scaling and the class names)."""
    from .keras_code import layers_module_source
    out = Path(out)
    if out.suffix != ".keras":
        out = out.with_name(out.name + ".keras")
    model.save(out)
    written = [out]
    if preprocessing is not None:
        from .serving import raw_keras_model
        raw_path = raw_keras_file_for(out)
        raw_keras_model(model, preprocessing).save(raw_path)
        meta = out.with_name(out.name[:-len(".keras")] + ".preprocessing.json")
        meta.write_text(json.dumps({**preprocessing.describe(), "raw_model": raw_path.name},
                                   indent=2) + "\n")
        written += [raw_path, meta]
    source = layers_module_source(model)
    if source is None:
        return written
    module = out.with_name(LAYERS_MODULE + ".py")
    compile(source, str(module), "exec")          # a syntax error is a bug here
    module.write_text(source)
    return [*written, module]


def raw_keras_file_for(out: Path) -> Path:
    """net.keras -> net.raw.keras: the model that takes raw samples."""
    return out.with_name(out.name[:-len(".keras")] + ".raw.keras")


def usage_note(paths) -> str:
    """What a user must know to use the files an export wrote (a sentence, or "")."""
    names = [Path(p).name for p in paths]
    notes = [LOAD_NOTE] if LAYERS_MODULE + ".py" in names else []
    if any(n.endswith((".raw.keras", ".raw.onnx")) for n in names):
        notes.append("The .raw model beside it takes raw samples (the data set's values: the "
                     "scaling fitted on the training split is inside); the .preprocessing.json "
                     "holds that scaling and the class names.")
    elif any(n.endswith(".preprocessing.json") for n in names):
        notes.append("Its serve_raw signature takes raw samples (the data set's values: the "
                     "scaling fitted on the training split is inside) and returns the outputs "
                     "(and a classifier's class ids and names); serve takes samples prepared "
                     "as the network expects them. The .preprocessing.json beside it describes "
                     "both.")
    return " ".join(notes)


def onnx_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("tf2onnx") is not None


def export_onnx(model, out: Path, opset: int | None = None, timeout: float = 900) -> Path:
    """The model as ONNX: exported as a SavedModel first, then converted by tf2onnx in a
    separate process (its import replaces parts of TensorFlow's graph tooling)."""
    if not onnx_available():
        raise ExportError("ONNX export needs tf2onnx: pip install tf2onnx onnxruntime "
                          "(or pip install -e '.[onnx]')")
    out = Path(out)
    if out.suffix != ".onnx":
        out = out.with_name(out.name + ".onnx")
    with tempfile.TemporaryDirectory(prefix="netdesigner-onnx-") as tmp:
        saved = export_savedmodel(model, Path(tmp) / "savedmodel")
        cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved),
               "--output", str(out)]
        if opset:
            cmd += ["--opset", str(opset)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if done.returncode != 0 or not out.exists():
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise ExportError(f"tf2onnx could not convert the model:\n{tail}")
        # tf2onnx writes a file even when it could not convert some operations (they stay
        # TensorFlow ops, which no ONNX runtime runs): that file is no export
        unsupported = re.search(r"Unsupported ops: Counter\((\{.*?\})\)", done.stderr or "")
        if unsupported:
            out.unlink(missing_ok=True)
            raise ExportError(f"tf2onnx could not convert these TensorFlow operations: "
                              f"{unsupported.group(1)}; no ONNX runtime could run the file, so "
                              f"none was written (File > Export's pre-flight check names the "
                              f"layers that cause them)")
    return out
