"""Run a training job (`backends.jobs`) in a separate process and stream its events back.

The designer trains through here. The job runs in a fresh ("spawn") process so
that TensorFlow, the GIL and GPU memory never touch the GUI process: the worker writes plain
protocol dicts to a pipe that the caller drains (the designer from a timer), Stop and Pause
are multiprocessing events the training loop polls after every batch, and ending the process
frees everything it held.

A worker may die at any instant (kill -9, the kernel's out-of-memory killer), even halfway
through writing an event. `drain()` therefore never waits: the parent's end of the pipe is
non-blocking and read with plain `os.read` into a buffer, an event is unpickled only once all
its bytes are there, and the parent closes its copy of the write end as soon as the worker has
started, so a dead worker means end-of-file. When the worker has ended without saying it was
done, `drain()` reports how it ended as an `error` event (exit code or signal). A
`multiprocessing.Queue` could not promise this: its reader blocks on a half-written message and
the parent held the write end itself, so that read never ended.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import struct
import threading
import time
from collections import deque
from multiprocessing.connection import wait

from . import protocol
from .jobs import Job, run_job

FRAME = struct.Struct("!Q")          # every event: its pickled size, then the pickle
READ_CHUNK = 1 << 16
DONE = "worker_done"                 # the worker's last event: it ended on purpose


class _Sender:
    """The worker's end of the pipe. Events are pickled at once and written by a thread, so the
    training loop never waits for the GUI to read (what multiprocessing.Queue's feeder did)."""

    def __init__(self, conn):
        self.conn = conn
        self.broken = False                # the parent went away: the run should stop
        self._pending: deque = deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._write_all, daemon=True)
        self._thread.start()

    def put(self, event: dict) -> None:
        data = pickle.dumps(event, protocol=pickle.HIGHEST_PROTOCOL)
        with self._ready:
            self._pending.append(FRAME.pack(len(data)) + data)
            self._ready.notify()

    def close(self) -> None:
        """Write everything still pending, then end the thread."""
        with self._ready:
            self._pending.append(None)
            self._ready.notify()
        self._thread.join()
        self.conn.close()

    def _write_all(self) -> None:
        fd = self.conn.fileno()
        while True:
            with self._ready:
                while not self._pending:
                    self._ready.wait()
                frame = self._pending.popleft()
            if frame is None:
                return
            if self.broken:
                continue                    # nobody reads any more; drop, but keep draining
            view = memoryview(frame)
            try:
                while view:
                    view = view[os.write(fd, view):]
            except OSError:                 # the reading end is closed: the parent is gone
                self.broken = True


def _worker(job: Job, conn, stop, pause) -> None:
    from .quiet_tf import quiet_if_inherited
    quiet_if_inherited()            # before this fresh process imports TensorFlow
    sender = _Sender(conn)

    def should_stop() -> bool:
        while pause.is_set() and not stop.is_set() and not sender.broken:
            time.sleep(0.05)
        return stop.is_set() or sender.broken
    run_job(job, sender.put, should_stop)
    sender.put({"event": DONE})
    sender.close()


def how_it_ended(exitcode: int, what: str = "the training process") -> str:
    """A sentence for a worker (`what`) that ended without finishing: its exit code, or the
    signal."""
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            # the kernel's out-of-memory killer sends SIGKILL; so does `kill -9`
            return f"{what} was killed ({name}) — out of memory?"
        return f"{what} was killed by {name}"
    return f"{what} ended unexpectedly (exit code {exitcode})"


class TrainingProcess:
    """Start, pause, resume and stop a training job; `drain()` returns the events so far.

    `drain()` never blocks, and once the worker has died it returns an `error` event saying
    how (then `done` is true)."""

    def __init__(self, job: Job):
        ctx = mp.get_context("spawn")
        self._reader, self._writer = ctx.Pipe(duplex=False)
        self._stop, self._pause = ctx.Event(), ctx.Event()
        self.process = ctx.Process(target=_worker, args=(job, self._writer, self._stop,
                                                         self._pause), daemon=True)
        self.done = False
        self.ended = None                  # how the worker ended, when it did not finish
        self._buffer = bytearray()         # bytes read, not yet a whole event
        self._eof = False
        self._finished = False             # the worker's own DONE event arrived

    def start(self) -> None:
        self.process.start()
        # the child has its own copy now; ours would keep the pipe open after the child died
        self._writer.close()
        os.set_blocking(self._reader.fileno(), False)

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def _read(self, max_bytes: int | None = None) -> None:
        """Move what the pipe holds now into the buffer; never waits."""
        got = 0
        while not self._eof and (max_bytes is None or got < max_bytes):
            try:
                chunk = os.read(self._reader.fileno(), READ_CHUNK)
            except BlockingIOError:
                return
            except (OSError, ValueError):        # closed under us: treat as the end
                self._eof = True
                return
            if not chunk:
                self._eof = True
                return
            self._buffer += chunk
            got += len(chunk)

    def _next_event(self) -> dict | None:
        """The next whole event in the buffer, or None while its bytes are still missing."""
        if len(self._buffer) < FRAME.size:
            return None
        (size,) = FRAME.unpack_from(self._buffer)
        end = FRAME.size + size
        if len(self._buffer) < end:
            return None
        event = pickle.loads(bytes(self._buffer[FRAME.size:end]))
        del self._buffer[:end]
        return event

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the loop to stop at the next batch; kill the process if it does not end in time.

        While waiting, the pipe keeps being read (the bytes kept for `drain`): a worker cannot
        exit before its last events are written, and a small network streams thousands of
        batch events a second."""
        self._stop.set()
        self._pause.clear()
        deadline = time.perf_counter() + timeout
        if self.process.pid is not None:
            while self.process.is_alive() and time.perf_counter() < deadline:
                self._read()
                wait([self.process.sentinel, self._reader] if not self._eof
                     else [self.process.sentinel], timeout=0.02)
            self.process.join(max(0.0, deadline - time.perf_counter()))
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(1.0)
            self._read()
        self.done = True

    def drain(self, limit: int = 10_000, budget_s: float | None = None) -> list[dict]:
        """The events that arrived, at most `limit` or as many as `budget_s` seconds allow.

        Never blocks. When the worker has died without finishing, the last event returned is
        an `error` saying how (exit code or signal)."""
        out: list[dict] = []
        if self.process.pid is None:
            return out                                 # not started
        # whether it had ended is looked at first: all it ever wrote is in the pipe by now
        ended = self.process.exitcode is not None
        deadline = None if budget_s is None else time.perf_counter() + budget_s
        complete = False                       # everything readable now has been read
        while len(out) < limit:
            if deadline is not None and time.perf_counter() > deadline:
                break
            event = self._next_event()
            if event is None:
                if self._eof:
                    complete = True
                    break
                before = len(self._buffer)
                self._read(max_bytes=4 * READ_CHUNK)
                if len(self._buffer) == before and not self._eof:
                    complete = True
                    break
                continue
            if event.get("event") == DONE:
                self._finished = True
                self.done = True
                continue
            out.append(event)
        if complete and ended and not self._finished and not self.done:
            self.done = True
            self.ended = how_it_ended(self.process.exitcode)
            # a half-written last event (the worker died writing it) is dropped
            self._buffer.clear()
            out.append(protocol.error(self.ended))
        if self.done and complete:
            self._close()
        return out

    def _close(self) -> None:
        if not self._reader.closed:
            self._reader.close()
        self._eof = True

    @property
    def running(self) -> bool:
        return self.process.is_alive() and not self.done
