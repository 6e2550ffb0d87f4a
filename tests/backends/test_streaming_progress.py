"""The first pass over a streamed data set and the scaling statistics report their progress
(backends/progress.py) to the CLI, the job protocol and the designer's data check, and are not
repeated while the files and settings stay the same."""
import io
import os
import queue

import pytest

from netdesigner.backends import datasources, jobs, progress, protocol
from netdesigner.graph import fileformat
from tests.backends.streaming_data import image_folder, mlp


@pytest.fixture
def folder(tmp_path):
    image_folder(tmp_path / "shapes", 40, classes=2, size=8)
    return tmp_path


def design(**settings):
    return mlp((8, 8, 1), 2, {"dataset": "shapes", "streaming": "on", "normalize": "standard",
                              "epochs": 1, "batch_size": 8, **settings}, 4)


def prepared_with_reports(root, graph):
    reports = []
    with progress.reporting(lambda *r: reports.append(r)):
        jobs.prepare(graph, root)
    return reports


def test_the_first_pass_reports_progress_and_is_not_repeated_when_nothing_changed(folder):
    datasources.FIRST_PASSES.clear()
    first = prepared_with_reports(folder, design())
    stages = [r[0] for r in first]
    assert stages[0] == "reading image headers" and stages[-1] == "scaling statistics"
    assert ("reading image headers", 40, 40, "images") in first
    assert first[-1] == ("scaling statistics", 28, 28, "samples")
    assert prepared_with_reports(folder, design()) == []          # nothing read again
    # another split: the statistics again, not the headers
    assert {r[0] for r in prepared_with_reports(folder, design(seed=9))} == {
        "scaling statistics"}
    image = next((folder / "shapes" / "class_0").iterdir())
    os.utime(image, ns=(1, 1))                                     # a file changed
    assert "reading image headers" in {r[0] for r in prepared_with_reports(folder, design())}
    assert progress.describe("reading CSV rows", 2**20, 4 * 2**20, "bytes") == \
        "reading CSV rows: 25% (1.0 of 4.0 MB)"


def test_the_cli_the_job_protocol_and_the_data_check_show_it(folder):
    from netdesigner.designer.cli import Progress
    from netdesigner.designer.training.panel import PROGRESS, read_data
    datasources.FIRST_PASSES.clear()
    text = fileformat.dumps(design())
    results = queue.SimpleQueue()
    read_data(7, text, str(folder), results)
    shown = []
    while not results.empty():
        shown.append(results.get())
    assert shown[0][:2] == (7, PROGRESS) and shown[-1][1] is not None and shown[-1][2] == ""
    assert "scaling statistics: 100% (28 of 28 samples)" in [s[2] for s in shown[:-1]]
    datasources.FIRST_PASSES.clear()
    recorder = protocol.Recorder()
    jobs.run_job(jobs.Job(text, str(folder), "numpy", stats_every=0), recorder, lambda: False)
    kinds = [e["event"] for e in recorder.events]
    assert kinds.index("data_progress") < kinds.index("train_begin")
    out = io.StringIO()
    cli = Progress(out=out)
    for event in recorder.of("data_progress"):
        cli(event)
    assert "reading image headers: 100% (40 of 40 images)\n" in out.getvalue()


def test_netdesigner_train_prints_the_first_pass(folder, capsys):
    from netdesigner.designer.cli import main
    datasources.FIRST_PASSES.clear()
    path = folder / "streamed.graph"
    fileformat.save(design(), path)
    code = main(["train", str(path), "--backend", "numpy", "--no-save"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "reading image headers: 100% (40 of 40 images)\n" in err
    assert err.index("scaling statistics: 100% (28 of 28 samples)") < err.index("training on")
