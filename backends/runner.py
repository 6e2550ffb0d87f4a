"""Run a training job (`backends.jobs`) in a separate process and stream its events back.

The designer trains through here. The job runs in a fresh ("spawn") process so
that TensorFlow, the GIL and GPU memory never touch the GUI process: the worker puts plain
protocol dicts on a queue that the caller drains (the designer from a timer), Stop and Pause
are multiprocessing events the training loop polls after every batch, and ending the process
frees everything it held.
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
import time
from collections import deque

from . import protocol
from .jobs import Job, run_job


def _worker(job: Job, events, stop, pause) -> None:
    from .quiet_tf import quiet_if_inherited
    quiet_if_inherited()            # before this fresh process imports TensorFlow
    def should_stop() -> bool:
        while pause.is_set() and not stop.is_set():
            time.sleep(0.05)
        return stop.is_set()
    run_job(job, events.put, should_stop)
    events.put({"event": "worker_done"})


class TrainingProcess:
    """Start, pause, resume and stop a training job; `drain()` returns the events so far."""

    def __init__(self, job: Job):
        ctx = mp.get_context("spawn")
        self.events = ctx.Queue()
        self._stop, self._pause = ctx.Event(), ctx.Event()
        self.process = ctx.Process(target=_worker, args=(job, self.events, self._stop,
                                                         self._pause), daemon=True)
        self.done = False
        self._late: deque = deque()           # events read while stopping, not drained yet

    def start(self) -> None:
        self.process.start()

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the loop to stop at the next batch; kill the process if it does not end in time.

        While waiting, the events keep being read (and kept for `drain`): a process whose
        queue holds more than the pipe takes cannot exit until someone reads it, and a small
        network streams thousands of batch events a second."""
        self._stop.set()
        self._pause.clear()
        deadline = time.perf_counter() + timeout
        while self.process.is_alive() and time.perf_counter() < deadline:
            try:
                self._late.append(self.events.get(timeout=0.02))
            except queue_module.Empty:
                pass
        self.process.join(max(0.0, deadline - time.perf_counter()))
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1.0)
        self.done = True

    def drain(self, limit: int = 10_000, budget_s: float | None = None) -> list[dict]:
        """The events that arrived, at most `limit` or as many as `budget_s` seconds allow."""
        out = []
        while self._late and len(out) < limit:
            event = self._late.popleft()
            if event.get("event") == "worker_done":
                self.done = True
            else:
                out.append(event)
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        for _ in range(limit - len(out)):
            if deadline is not None and time.perf_counter() > deadline:
                break
            try:
                event = self.events.get_nowait()
            except queue_module.Empty:
                break
            if event.get("event") == "worker_done":
                self.done = True
                continue
            out.append(event)
        if not out and not self.process.is_alive() and self.process.exitcode not in (0, None):
            if not self.done:
                self.done = True
                out.append(protocol.error(f"the training process ended unexpectedly (exit "
                                          f"code {self.process.exitcode})"))
        return out

    @property
    def running(self) -> bool:
        return self.process.is_alive() and not self.done
