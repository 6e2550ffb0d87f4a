"""netdesigner installs under one name and lives beside the PyPI packages whose names its source
folders share (`backends`, `designer`): a fresh virtual environment, the project installed from
a wheel (not editable), then used from the CLI, `python -m netdesigner` and the Python API."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "mlp_digits.graph"


def run(cmd, cwd, timeout=300):
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.long      # a fresh venv and a wheel build: ~15 s
def test_installed_wheel_beside_pypi_backends_and_designer(tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], tmp_path)
    py = venv / "bin" / "python"
    site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    tmp_path).strip())
    # The heavy third-party dependencies (TensorFlow, Qt, ...) come from this test's own
    # environment, appended after the new environment's site-packages; netdesigner itself and
    # the two clashing PyPI packages are installed into the new environment for real.
    (site / "zz-netdesigner-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = tmp_path / "source"        # a copy: building the wheel writes build/ folders
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    run([py, "-m", "pip", "install", "-q", "--no-deps", source], tmp_path)
    run([py, "-m", "pip", "install", "-q", "backends", "designer"], tmp_path)

    # netdesigner installed one top-level package; the PyPI ones are theirs. (PyPI's
    # `backends` distribution installs the module `lab`: `import backends` is nobody's.)
    owners = json.loads(run([py, "-c", "import importlib.metadata as m, json; "
                             "print(json.dumps(m.packages_distributions()))"], tmp_path))
    ours = sorted(name for name, dists in owners.items() if "netdesigner" in dists)
    assert ours == ["netdesigner"], ours
    assert owners["designer"] == ["designer"] and owners["lab"] == ["backends"], owners
    where = json.loads(run([py, "-c", "import json, designer, lab, netdesigner; print(json.dumps("
                            "[designer.__file__, lab.__file__, netdesigner.__file__]))"],
                           tmp_path))
    assert all(Path(w).is_relative_to(site) for w in where), where
    assert "pygame" in Path(where[0]).parent.joinpath("__init__.py").read_text()  # theirs

    script = venv / "bin" / "netdesigner"
    assert "No problems." in run([script, "validate", SAMPLE], tmp_path)
    assert "No problems." in run([py, "-m", "netdesigner", "validate", SAMPLE], tmp_path)
    api = (
        "import netdesigner as nd, designer\n"
        f"g_path = {str(SAMPLE)!r}\n"
        "g = nd.load(g_path)\n"
        "assert nd.validate(g) == [], nd.validate(g)\n"
        "assert nd.diff(g, nd.load(g_path)).equal\n"
        "from netdesigner.backends import applications\n"       # its data files installed
        "assert applications.available('ResNet50') and len(applications.load('ResNet50')) == 177\n"
        "assert nd.build_keras(g).count_params() == nd.build_numpy(g).count_params == 2410\n"
        f"run = nd.train(g, epochs=1, batch_size=100000, base_dir={str(SAMPLE.parent)!r})\n"
        "assert run.result.steps == 1 and run.result.reason == 'completed', run.result\n"
        "print('test loss', run.evaluation['loss'])\n")
    assert "test loss" in run([py, "-c", api], tmp_path)
