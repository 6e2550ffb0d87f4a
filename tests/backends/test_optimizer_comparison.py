"""`netdesigner compare`: one design, four optimizers, the same start, four loss curves."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from netdesigner.backends.comparison import VARIANTS, compare_optimizers, variant_settings
from netdesigner.designer.cli import main
from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_variants_change_only_the_optimizer():
    g = fileformat.load(SAMPLES / "mlp_digits.graph")
    s = variant_settings(g.training, "momentum")
    assert s["optimizer"] == "sgd" and s["optimizer_params"]["momentum"] == 0.9
    assert {k: v for k, v in s.items() if not k.startswith("optimizer")} == \
        {k: v for k, v in g.training.items() if not k.startswith("optimizer")}
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        variant_settings(g.training, "lion")


def test_every_run_starts_from_the_same_weights_and_batches():
    g = fileformat.load(SAMPLES / "mlp_digits.graph")
    first_losses = {}

    def on_event(name, event):
        if event["event"] == "batch" and event["step"] == 1:
            first_losses[name] = event["loss"]
    runs = compare_optimizers(g, str(SAMPLES), ["sgd", "momentum", "rmsprop", "adam"],
                              epochs=3, on_event=on_event)
    assert list(runs) == ["sgd", "momentum", "rmsprop", "adam"]
    # the first batch's loss comes before any update: equal start, equal batch
    assert len(set(first_losses.values())) == 1, first_losses
    finals = {n: r.history["loss"][-1] for n, r in runs.items()}
    assert len(set(finals.values())) == 4                  # ...then the rules differ
    assert finals["momentum"] < finals["sgd"]               # momentum speeds plain SGD up
    assert all(0 < r.test["accuracy"] <= 1 for r in runs.values())


def test_the_cli_prints_a_table_and_writes_the_curves(tmp_path, capsys):
    project = tmp_path / "xor.graph"
    shutil.copy(SAMPLES / "xor_mlp.graph", project)
    png, table = tmp_path / "curves.png", tmp_path / "curves.csv"
    code = main(["compare", str(project), "--epochs", "5", "--png", str(png), "--csv",
                 str(table), "--keep-runs", "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    for name in ("sgd", "momentum", "rmsprop", "adam"):
        assert f"\n{name} " in out
    assert png.stat().st_size > 5000
    with open(table) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 * 5 and {r["optimizer"] for r in rows} == {"sgd", "momentum",
                                                                    "rmsprop", "adam"}
    runs = fileformat.load(project).runs
    assert [r["label"] for r in runs] == ["sgd", "momentum", "rmsprop", "adam"]
    assert all(len(r["history"]["loss"]) == 5 for r in runs)
    # each run keeps the design it trained: the runs differ by their optimizer only
    from netdesigner.graph.diff import diff
    designs = [fileformat.design_of_run(r) for r in runs]
    assert designs[1].training["optimizer_params"]["momentum"] > 0
    d = diff(designs[0], designs[1])
    assert d.layers == [] and d.wires == [] and d.settings
    assert all(s.name.startswith("optimizer") for s in d.settings)


def test_the_cli_refuses_an_unknown_optimizer(capsys):
    assert main(["compare", str(SAMPLES / "xor_mlp.graph"), "--optimizers", "sgd,lion"]) == 1
    assert "unknown optimizer lion" in capsys.readouterr().err
    assert set(VARIANTS) >= {"sgd", "momentum", "rmsprop", "adam"}
