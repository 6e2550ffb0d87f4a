"""netdesigner train / export / import."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from netdesigner.designer.cli import main

from .conftest import ROOT, SAMPLES


@pytest.fixture
def project(tmp_path):
    path = tmp_path / "mlp_digits.graph"
    shutil.copy(SAMPLES / "mlp_digits.graph", path)
    return path


@pytest.mark.long      # the CLI's Keras training also runs in tests/test_cli_train_samples
def test_train_the_digits_mlp_on_keras(project, capsys):
    code = main(["train", str(project), "--backend", "keras", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "training on keras (CPU): 1,257 samples, 40 batches an epoch, 30 epochs" in err
    assert "epoch 30/30" in err and "finished after 30 epoch(s)" in err
    lines = out.splitlines()
    assert lines[0].split() == ["split", "loss", "accuracy"]
    assert [line.split()[0] for line in lines[1:4]] == ["train", "val", "test"]
    result = json.loads(lines[-1])
    assert result["metrics"]["test"]["accuracy"] >= 0.95
    weights = project.with_name("mlp_digits.weights.npz")
    assert result["weights"] == str(weights) and weights.exists()
    assert f"weights saved to {weights}" in out


def test_train_on_numpy_and_export_what_it_learned(project, tmp_path, capsys):
    assert main(["train", str(project), "--backend", "numpy", "--epochs", "2",
                 "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "test" in out
    weights = np.load(project.with_name("mlp_digits.weights.npz"))
    # the Keras export carries the weights the NumPy backend trained
    assert main(["export", str(project), "--to", "keras", str(tmp_path / "net.keras")]) == 0
    import keras
    model = keras.models.load_model(tmp_path / "net.keras", safe_mode=True)
    np.testing.assert_array_equal(model.get_layer("dense_1").get_weights()[0],
                                  weights["dense_1/kernel"])


def test_keras_options_need_the_keras_backend(project, capsys):
    assert main(["train", str(project), "--backend", "numpy", "--strategy", "mirrored"]) == 1
    assert "need --backend keras" in capsys.readouterr().err


def test_export_formats_and_import(project, tmp_path, capsys):
    assert main(["export", str(project), "--to", "py", str(tmp_path / "net.py"),
                 "--with-data"]) == 0
    out = capsys.readouterr()
    assert f"wrote {tmp_path / 'net.py'}" in out.out
    assert (tmp_path / "net.data.npz").exists()
    assert "freshly initialised" in out.err           # no weights were trained here
    assert main(["export", str(project), "--to", "savedmodel", str(tmp_path / "sm")]) == 0
    assert (tmp_path / "sm" / "saved_model.pb").exists()
    assert main(["export", str(project), "--to", "keras", str(tmp_path / "net.keras")]) == 0
    capsys.readouterr()
    assert main(["import", str(tmp_path / "net.keras"), str(tmp_path / "back.graph")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "3 layers" in out
    assert (tmp_path / "back.weights.npz").exists()
    assert main(["validate", str(tmp_path / "back.graph")]) == 0


def test_import_reports_what_the_catalog_lacks(tmp_path, capsys):
    x = keras.Input((8, 8, 3))
    y = keras.layers.AlphaDropout(0.1, name="noise")(x)
    y = keras.layers.ReLU(max_value=4.0, name="capped_a")(y)
    y = keras.layers.ReLU(max_value=4.0, name="capped_b")(y)
    path = tmp_path / "odd.keras"
    keras.Model(x, y).save(path)
    code = main(["import", str(path), str(tmp_path / "m.graph")])
    assert code == 1
    err = capsys.readouterr().err
    assert "ReLU with max_value=4.0 — 2 layer(s): capped_a, capped_b" in err
    assert "AlphaDropout — 1 layer(s): noise" in err
    assert not (tmp_path / "m.graph").exists()


def test_check_names_a_layer_one_backend_cannot_run(tmp_path, capsys):
    ids = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(9, 3, mask_zero=True, name="emb")(ids)
    y = keras.layers.Dense(1)(keras.layers.GRU(2)(x))
    keras.Model(ids, y).save(tmp_path / "masked.keras")
    assert main(["import", str(tmp_path / "masked.keras"), str(tmp_path / "m.graph")]) == 0
    capsys.readouterr()
    assert main(["check", str(tmp_path / "m.graph")]) == 1
    err = capsys.readouterr().err
    assert "emb: mask_zero is not supported by the NumPy backend" in err
    assert "internal error" not in err


def test_validate_stays_free_of_tensorflow():
    code = ("import sys; from netdesigner.designer.cli import main; "
            f"rc = main(['validate', {str(SAMPLES / 'mlp_digits.graph')!r}]); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
            "sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_progress_bar_on_a_terminal():
    import io

    from netdesigner.backends import protocol
    from netdesigner.designer.cli import Progress, metrics_table

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    out = Terminal()
    bar = Progress(out, min_interval=0.0)
    bar(protocol.train_begin("keras", "CPU", 2, 4, 100, ["a"]))
    for b in range(4):
        bar(protocol.batch(0, b, b + 1, 0.5, {"accuracy": 0.75}))
    bar(protocol.epoch(0, 0.5, {"accuracy": 0.75}, 0.6, {"accuracy": 0.7}, 1.25))
    bar(protocol.train_end("stopped", 1, 0, 0.6, {}))
    text = out.getvalue()
    assert "\repoch 1/2 [" + "#" * 24 + "] 4/4  loss 0.5000  accuracy 0.7500" in text
    assert "epoch 1/2  loss 0.5000  accuracy 0.7500  val_loss 0.6000  val_accuracy 0.7000" \
        "  (1.2 s, 80 examples/s)" in text
    assert text.endswith("stopped after 1 epoch(s); best epoch 1\n")
    table = metrics_table({"train": {"loss": 0.1, "accuracy": 0.99}, "test": {"loss": 0.25}})
    assert table.splitlines() == ["split    loss  accuracy", "train  0.1000    0.9900",
                                  "test   0.2500"]
