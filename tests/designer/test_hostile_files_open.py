"""What `netdesigner validate` accepts, the designer opens (issue 12): mutated samples that load
open in the window (offscreen) and save; files it refuses leave the window as it was."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from netdesigner.graph import fileformat
from netdesigner.graph.fileformat import GraphFileError
from tests.alarm import time_limit
from tests.fuzz.mutator import mutants

HOSTILE = Path(__file__).resolve().parents[1] / "graph" / "fixtures" / "hostile"


def loadable_mutants(folder: Path, seed: int, count: int, keep: int | None) -> list[Path]:
    """`keep` of the mutated projects that load, spread over the run (None: all of them)."""
    loaded = []
    for name, text in mutants(seed, count):
        path = folder / f"{name}.graph"
        path.write_text(text, encoding="utf-8")
        try:
            with time_limit(3):
                fileformat.load(path)
        except GraphFileError:
            path.unlink()
            continue
        loaded.append(path)
    if keep is None:
        return loaded
    step = max(1, len(loaded) // keep)
    return loaded[::step][:keep]


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(QMessageBox, "critical",
                        lambda parent, title, text, *a, **k: shown.append(text))
    return shown


# make test: 15 of the loadable files among 300; make test-long: every file that loads among
# the 2,400 of the long fuzz run's measured seed
@pytest.mark.parametrize("seed, count, keep", [(0, 300, 15),
                                               pytest.param(1, 2400, None, marks=pytest.mark.long)],
                         ids=["15-of-300", "all-of-2400"])
def test_loadable_mutants_open_in_the_designer_and_save(window, qtbot, tmp_path, errors, seed,
                                                         count, keep):
    files = loadable_mutants(tmp_path, seed=seed, count=count, keep=keep)
    assert len(files) == keep if keep else len(files) > 100, len(files)
    for path in files:
        assert window.open_file(path, ask=False), f"{path.name}: {errors}"
        qtbot.wait(1)                          # the burst of validation, the repaint
        window.document.revalidate()
        window.training.runs.set_runs(window.document.graph.runs)
        window.training.runs.redraw()
        copy = tmp_path / "saved" / path.name
        copy.parent.mkdir(exist_ok=True)
        window.document.save(copy)
        assert fileformat.to_dict(fileformat.load(copy)) == fileformat.to_dict(
            window.document.graph), path.name
    assert not errors


def test_runs_validate_refuses_do_not_reach_the_designer(window, errors):
    before = window.document
    assert not window.open_file(HOSTILE / "runs_null.graph", ask=False)
    assert window.document is before
    assert len(errors) == 1 and "runs[0]: must be an object, not null" in errors[0]


def test_a_run_without_validation_values_shows_in_the_runs_tab(window, tmp_path, errors):
    data = json.loads((HOSTILE / "runs_null.graph").read_text())
    data["runs"] = [{"when": "2024-01-01 00:00:00", "backend": "numpy", "epochs": 2,
                     "history": {"loss": [0.9, 0.5], "val_loss": [None, None],
                                 "val_accuracy": [None, 0.75]}}]
    path = tmp_path / "runs.graph"
    path.write_text(json.dumps(data))
    assert window.open_file(path, ask=False), errors
    runs = window.training.runs
    assert "loss 0.5000" in runs.list.item(0).text()
    assert "acc 75.0%" in runs.list.item(0).text()
    runs.redraw()                    # before: TypeError formatting None / plotting [None, ...]
