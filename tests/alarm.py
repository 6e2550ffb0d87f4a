"""A time limit for code that may hang: a blocked read or an endless loop never returns by
itself, so no timeout of pytest's or Qt's could end the test; SIGALRM interrupts it."""
from __future__ import annotations

import signal
from contextlib import contextmanager


class TooSlow(BaseException):
    """A hang. A BaseException, so that no `except Exception` in the code under test swallows
    it."""


@contextmanager
def time_limit(seconds: float, what: str = "the code", repeat: float = 0.0):
    """Raise TooSlow in the main thread after `seconds`, then every `repeat` seconds when given
    (Qt swallows an exception raised in a slot: repeating reaches the waiting test code)."""
    def on_alarm(signum, frame):
        raise TooSlow(f"{what} still blocked after {seconds} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, repeat)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
