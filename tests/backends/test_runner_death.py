"""The training process (backends.runner): `drain()` never blocks, whatever state the worker is
in, and a worker that dies is reported with how it ended (issue 12, point 5)."""
import os
import signal
import time
from pathlib import Path

import pytest

from netdesigner.backends.jobs import Job
from netdesigner.backends.runner import TrainingProcess, how_it_ended
from netdesigner.graph import fileformat
from tests.alarm import time_limit

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def streaming_worker() -> TrainingProcess:
    """A worker that streams large events (18 KB layer_stats, several writes each) quickly."""
    g = fileformat.load(SAMPLES / "deep_sigmoid_mlp.graph")
    g.training.update(epochs=10_000, batch_size=4, backend="numpy")
    worker = TrainingProcess(Job(fileformat.dumps(g), str(SAMPLES), "numpy", stats_every=1))
    worker.start()
    deadline = time.monotonic() + 60
    while not [e for e in worker.drain() if e["event"] == "batch"]:
        assert time.monotonic() < deadline and worker.running, "the worker never streamed"
        time.sleep(0.02)
    return worker


def drain_until_done(worker, within_s: float) -> list[dict]:
    events, deadline = [], time.perf_counter() + within_s
    while not worker.done and time.perf_counter() < deadline:
        events += worker.drain(budget_s=0.02)
        time.sleep(0.01)
    return events


def test_drain_never_blocks_on_a_frozen_worker_and_a_killed_one_is_reported():
    """SIGSTOP freezes the worker wherever it is, often halfway through writing an event: a
    reader that waits for the rest of it would wait forever. Then SIGTERM ends it."""
    worker = streaming_worker()
    try:
        for _ in range(5):
            time.sleep(0.05)
            os.kill(worker.process.pid, signal.SIGSTOP)
            slowest = 0.0
            with time_limit(5.0, "drain() of a frozen worker"):
                for _ in range(20):
                    t = time.perf_counter()
                    worker.drain(budget_s=0.02)
                    slowest = max(slowest, time.perf_counter() - t)
            assert slowest < 0.2, f"drain() took {slowest * 1000:.0f} ms on a frozen worker"
            assert not worker.done, "a frozen worker is not a dead one"
            os.kill(worker.process.pid, signal.SIGCONT)
        os.kill(worker.process.pid, signal.SIGTERM)
        with time_limit(5.0, "drain() of a killed worker"):
            events = drain_until_done(worker, within_s=1.0)
        assert worker.done and not worker.running, "the dead worker was not noticed within 1 s"
        assert events[-1]["event"] == "error", events[-1]
        assert events[-1]["message"] == "the training process was killed by SIGTERM"
        assert worker.drain() == [], "the death is reported once"
    finally:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join(5)


@pytest.mark.parametrize("exitcode, message", [
    (-signal.SIGKILL, "the training process was killed (SIGKILL) — out of memory?"),
    (-signal.SIGSEGV, "the training process was killed by SIGSEGV"),
    (-200, "the training process was killed by signal 200"),
    (3, "the training process ended unexpectedly (exit code 3)"),
])
def test_how_a_worker_ended_is_said_in_words(exitcode, message):
    assert how_it_ended(exitcode) == message


def test_stop_after_a_kill_and_drain_before_start_do_not_wait():
    g = fileformat.load(SAMPLES / "xor_mlp.graph")
    worker = TrainingProcess(Job(fileformat.dumps(g), str(SAMPLES), "numpy"))
    assert worker.drain() == [] and not worker.done, "nothing to read before the start"
    worker.start()
    worker.process.kill()
    worker.process.join(5)
    t = time.perf_counter()
    worker.stop()
    assert time.perf_counter() - t < 0.5, "stop() waited for a worker that was already dead"
    assert worker.done and not worker.running
