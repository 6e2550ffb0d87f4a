"""How long the training steps wait for their data: measured per epoch on both backends, shown
by the CLI, and called the bottleneck (with advice) when it is most of the time."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from netdesigner.backends import jobs, protocol
from netdesigner.backends.numpy import train as numpy_train
from netdesigner.designer.cli import Progress
from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def shapes(epochs: int = 2):
    graph = fileformat.load(SAMPLES / "image_folder_shapes.graph")
    graph.training["epochs"] = epochs
    return jobs.prepare(graph, SAMPLES)


def epochs_of(prepared, backend: str) -> list[dict]:
    events = []
    jobs.train(prepared, backend, lambda e: e.get("event") == "epoch" and events.append(e),
               stats_every=0)
    return events


def test_a_slow_reader_shows_as_the_input_share(monkeypatch):
    prepared = shapes()
    quick = epochs_of(prepared, "numpy")
    assert all(0 <= e["input_seconds"] <= e["train_seconds"] <= e["seconds"] for e in quick)
    real = numpy_train.prefetched

    def slow(read, items, depth=4):            # every batch takes 30 ms more to read
        def slower(item):
            time.sleep(0.03)
            return read(item)
        return real(slower, items, depth)
    monkeypatch.setattr(numpy_train, "prefetched", slow)
    slowed = epochs_of(prepared, "numpy")
    steps = len(prepared.split.x_train) // prepared.settings["batch_size"]
    assert slowed[-1]["input_seconds"] > 0.03 * steps * 0.8
    assert protocol.input_share(slowed[-1]) > protocol.INPUT_BOUND_SHARE
    assert protocol.input_share(slowed[-1]) > protocol.input_share(quick[-1])


@pytest.mark.long        # TensorFlow in this process and a streamed run (~10 s)
def test_keras_epochs_carry_the_input_share_too():
    events = epochs_of(shapes(), "keras")
    assert all(0 <= e["input_seconds"] <= e["train_seconds"] <= e["seconds"] for e in events)


def test_the_command_line_shows_the_share_and_calls_the_bottleneck():
    out = io.StringIO()
    progress = Progress(out=out)
    progress({"event": "train_begin", "backend": "numpy", "device": "CPU", "samples": 1000,
              "epochs": 2, "steps_per_epoch": 10})
    for i in range(2):
        progress(protocol.epoch(i, 1.0, {}, None, {}, 2.0, input_seconds=1.5,
                                train_seconds=1.8))
    progress(protocol.train_end("completed", 2, None, None, {}))
    text = out.getvalue()
    assert "waiting for data 83%" in text
    assert "note: the input pipeline is the bottleneck" in text
    calm = io.StringIO()
    progress = Progress(out=calm)
    progress(protocol.epoch(0, 1.0, {}, None, {}, 2.0, input_seconds=0.1, train_seconds=1.8))
    progress(protocol.train_end("completed", 1, None, None, {}))
    assert "waiting for data 6%" in calm.getvalue() and "bottleneck" not in calm.getvalue()


def test_an_epoch_without_the_measure_has_no_share():
    event = protocol.epoch(0, 1.0, {}, None, {}, 2.0)
    assert "input_seconds" not in event and protocol.input_share(event) is None
