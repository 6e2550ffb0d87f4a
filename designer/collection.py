"""Python's cyclic garbage collector, kept from walking what lives as long as the program.

A full collection walks every object the program holds: after start-up some 120,000 (the
modules, the window, its widgets' wrappers), ~20-50 ms each time, and opening a 500-layer
project allocates enough to start one or two (a sixth of its 0.3 s). `startup_done()` moves
what start-up made into the collector's permanent generation (`gc.freeze`): it is never
garbage, and later collections walk only what came after (the open project). A data check's
thread holds the collector off while it reads (`pause()` ... `resume()`): its pauses, taken in
either thread, stalled the GUI. Pauses nest and may overlap: the collector runs again when
the last one ends, if it ran before the first began.
"""
from __future__ import annotations

import contextlib
import gc

_pauses = 0
_was_enabled = True


def pause() -> None:
    global _pauses, _was_enabled
    if _pauses == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _pauses += 1


def resume() -> None:
    global _pauses
    if _pauses == 0:
        return
    _pauses -= 1
    if _pauses == 0 and _was_enabled:
        gc.enable()


@contextlib.contextmanager
def paused():
    pause()
    try:
        yield
    finally:
        resume()


def startup_done() -> None:
    """The window is up: what start-up made stays for good (collected first, then frozen)."""
    gc.collect()
    gc.freeze()
