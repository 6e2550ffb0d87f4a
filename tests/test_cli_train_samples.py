"""`netdesigner train` as a user runs it, in a subprocess: every sample in its own training mode
on the NumPy backend, and one sample of each mode on Keras (most of those in `make test-long`).
Each ends with exit code 0 and the final train / validation / test table."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.graph"))
MODES = {name: fileformat.load(SAMPLES / f"{name}.graph").training.get("mode", "supervised")
         for name in NAMES}
#: one sample of each training mode (the quickest), run on both backends: in `make test` on
#: NumPy; the Keras runs are in `make test-long` (each starts TensorFlow in a subprocess: 5-12 s;
#: the Keras GAN steps are checked in make test by tests/backends/test_gan_mode.py)
ONE_PER_MODE = {"supervised": "mlp_digits", "autoencoder": "autoencoder_digits",
                "vae": "vae_digits", "gan": "gan_moons"}


def params():
    for name in NAMES:
        quick = name in ONE_PER_MODE.values()
        yield pytest.param(name, "numpy", marks=[] if quick else [pytest.mark.long],
                           id=f"{name}-numpy")
    for name in ONE_PER_MODE.values():
        yield pytest.param(name, "keras", marks=[pytest.mark.long],
                           id=f"{name}-keras")


def test_one_sample_per_mode_is_named_right():
    assert {MODES[name] for name in ONE_PER_MODE.values()} == set(ONE_PER_MODE)
    assert all(MODES[name] == mode for mode, name in ONE_PER_MODE.items())


@pytest.mark.parametrize("name, backend", list(params()))
def test_train_one_epoch_from_the_command_line(name, backend, tmp_path):
    project = tmp_path / f"{name}.graph"
    shutil.copy(SAMPLES / f"{name}.graph", project)
    # a sample's own data files (a path relative to it) go with it; the others are built in
    dataset = fileformat.load(project).training.get("dataset", "")
    if dataset and (SAMPLES / dataset).exists():
        if (SAMPLES / dataset).is_dir():
            shutil.copytree(SAMPLES / dataset, tmp_path / dataset)
        else:
            shutil.copy(SAMPLES / dataset, tmp_path / dataset)
    cmd = [sys.executable, "-m", "netdesigner", "train", str(project), "--epochs", "1",
           "--backend", backend, "--quiet", "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    table = [line.split()[0] for line in lines if line.split()[:1] in (["train"], ["val"],
                                                                        ["test"])]
    assert table[:1] == ["train"] and "test" in table, done.stdout
    summary = json.loads(lines[-1])
    assert summary["mode"] == MODES[name] and summary["epochs_run"] == 1, summary
    assert (tmp_path / f"{name}.weights.npz").exists()
