"""Progress of the long passes over a data set before training: the first pass of a data set
streamed from disk (`backends.datasources`: image headers, CSV rows, TFRecord records) and the
scaling statistics' pass (`backends.data.stats_chunks`).

The passes call `report(stage, done, total, unit)`; whoever wants to see it wraps the work in

    with progress.reporting(callback):          # callback(stage, done, total, unit)
        prepared = jobs.prepare(graph, base_dir)

The callback is the calling thread's own (the designer's data check reads in a thread of its
own while the GUI thread may prepare a run), and is called at most every `EVERY` seconds per
stage, plus once at each stage's end (done == total).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

EVERY = 0.25                    # seconds between two reports of one stage

_local = threading.local()


@contextmanager
def reporting(callback):
    """Send this thread's progress reports to `callback(stage, done, total, unit)`."""
    previous = getattr(_local, "callback", None), getattr(_local, "last", None)
    _local.callback, _local.last = callback, {}
    try:
        yield
    finally:
        _local.callback, _local.last = previous


def report(stage: str, done: int, total: int, unit: str) -> None:
    callback = getattr(_local, "callback", None)
    if callback is None:
        return
    now = time.monotonic()
    last = _local.last
    if done < total and now - last.get(stage, -EVERY) < EVERY:
        return
    last[stage] = now
    callback(stage, int(done), int(total), unit)


def describe(stage: str, done: int, total: int, unit: str) -> str:
    """'reading image headers: 40% (400 of 1,000 files)'."""
    share = done / total if total else 1.0
    if unit == "bytes":
        return f"{stage}: {share:.0%} ({done / 2**20:,.1f} of {total / 2**20:,.1f} MB)"
    return f"{stage}: {share:.0%} ({done:,} of {total:,} {unit})"
