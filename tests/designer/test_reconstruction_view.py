"""The Test set tab of an autoencoder: what it read, what it should give, what it gave."""
from __future__ import annotations

from pathlib import Path

from netdesigner.backends import protocol
from netdesigner.backends.jobs import Job, run_job
from netdesigner.designer.training.results import EvaluationView
from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _evaluation(name: str, epochs: int = 2) -> dict:
    g = fileformat.load(SAMPLES / f"{name}.graph")
    g.set_training("epochs", epochs)
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(g), str(SAMPLES), "numpy", stats_every=0), rec, lambda: False)
    (event,) = rec.of("evaluation")
    return event


def _row_captions(view) -> list[str]:
    grid = view.examples_grid
    return [grid.itemAtPosition(r, 0).widget().text() for r in range(grid.rowCount())
            if grid.itemAtPosition(r, 0) is not None]


def test_denoising_autoencoder_shows_noisy_input_clean_target_and_output(qtbot):
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show()
    view.show_event(_evaluation("denoising_autoencoder"))
    assert _row_captions(view) == ["read", "target", "output"]
    assert view.examples_grid.itemAtPosition(2, 12).widget().pixmap().width() > 0
    assert view.tables.isHidden()                      # no per-class tables for images back
    assert "MSE" in view.summary.text()


def test_plain_autoencoder_leaves_out_the_target_row(qtbot):
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show()
    view.show_event(_evaluation("autoencoder_digits"))
    assert _row_captions(view) == ["read", "output"]
