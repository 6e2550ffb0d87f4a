"""`netdesigner` on the command line: tables, JSON, exit codes, and no tracebacks."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netdesigner.designer.cli import main
from netdesigner.graph import fileformat
from tests.graph.builders import chain

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def broken(tmp_path):
    g, ids = chain([("Input", {"shape": (28, 28, 1)}), ("Conv2D", {"filters": 4}),
                    ("Dense", {"units": 0})])
    path = tmp_path / "broken.graph"
    fileformat.save(g, path)
    return path


def test_validate_prints_every_layer_and_the_totals(capsys):
    code, out, err = run(capsys, "validate", ROOT / "samples/mlp_digits.graph")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert any(l.split()[:3] == ["dense_1", "Dense", "(32,)"] and "2,080" in l for l in lines)
    assert any(l.split()[:2] == ["total", "2,410"] for l in lines)
    assert "No problems." in out


def test_validate_lists_problems_and_exits_1(capsys, broken):
    code, out, err = run(capsys, "validate", broken)
    assert code == 1
    assert "dense_1.units: units must be at least 1; got 0." in out


def test_validate_json(capsys, broken):
    code, out, _ = run(capsys, "validate", "--json", broken)
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    conv = next(n for n in data["nodes"] if n["id"] == "conv2d_1")
    assert conv == {"id": "conv2d_1", "type": "Conv2D", "outputs": [[26, 26, 4]], "params": 40,
                    "trainable_params": 40, "flops": 2 * 26 * 26 * 9 * 4, "problems": []}
    assert [p["node"] for p in data["problems"]] == ["dense_1"]
    assert data["edges"][0]["shape"] == [28, 28, 1]


@pytest.mark.parametrize("content, expected", [
    (None, "no such file"),
    ('{"format": "netdesigner.graph", "version": 2, "nodes": [', "not valid JSON"),
    ('{"format": "netdesigner.graph", "version": 2, "nodes": [{"id": "a", "type": "Nope"}]}',
     "unknown layer type Nope"),
])
def test_unreadable_files_get_a_message_not_a_traceback(capsys, tmp_path, content, expected):
    path = tmp_path / "f.graph"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "validate", path)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {path}") and expected in err
    assert "Traceback" not in err
    code, out, err = run(capsys, "validate", "--json", path)
    assert code == 2 and expected in json.loads(out)["error"]["message"]


def test_layers_lists_the_catalog(capsys):
    code, out, _ = run(capsys, "layers", "--json")
    types = {t["type"] for t in json.loads(out)}
    assert code == 0 and {"Dense", "LSTM", "MultiHeadAttention", "Block"} <= types


def test_console_script_is_installed(tmp_path):
    exe = shutil.which("netdesigner", path=str(Path(sys.executable).parent))
    assert exe, "pip install -e . creates the netdesigner command"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "validate" in out.stdout and "layers" in out.stdout
    bad = subprocess.run([exe, "validate", str(tmp_path / "missing.graph")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_export_of_a_keras_file_with_an_own_layer_names_the_module_and_how_to_load(
        capsys, tmp_path):
    shutil.copy(ROOT / "samples" / "rbf_moons.graph", tmp_path / "rbf.graph")
    code, out, _ = run(capsys, "export", tmp_path / "rbf.graph", "--to", "keras",
                       tmp_path / "rbf.keras", "--no-weights")
    assert code == 0
    assert f"wrote {tmp_path / 'netdesigner_layers.py'}" in out
    assert "import netdesigner_layers before keras.models.load_model" in out


def test_the_window_export_note_names_the_module(tmp_path):
    """backends.transfer.run_export is what the window's worker runs; its note is shown."""
    from netdesigner.backends.transfer import ExportJob, run_export
    text = (ROOT / "samples" / "rbf_moons.graph").read_text()
    outcome = run_export(ExportJob(text, "keras", str(tmp_path / "rbf.keras")))
    # beside the network: the one that takes raw samples and its preprocessing (the sample's
    # data set is built in, so the worker prepares it)
    assert outcome["paths"] == [str(tmp_path / n) for n in (
        "rbf.keras", "rbf.raw.keras", "rbf.preprocessing.json", "netdesigner_layers.py")]
    assert "import netdesigner_layers before keras.models.load_model" in outcome["note"]
    assert ".raw model beside it takes raw samples" in outcome["note"]
    plain = run_export(ExportJob((ROOT / "samples" / "xor_mlp.graph").read_text(), "keras",
                                 str(tmp_path / "xor.keras")))
    assert plain["paths"] == [str(tmp_path / n) for n in (
        "xor.keras", "xor.raw.keras", "xor.preprocessing.json")]
    assert "netdesigner_layers" not in plain["note"]
