"""Training modes: how a design trains, evaluates and reports, on either backend.

One module per mode, named after it (`supervised`, `autoencoder`, `vae`, `gan`), each with a
`MODE` object (a `base.Mode`). The modes a project may choose are declared with the training
settings (`graph/training.py`); adding one means declaring its name there and writing its
module here. `backends.jobs` is the only caller.
"""
from __future__ import annotations

import importlib

from netdesigner.graph.training import SETTINGS

from .base import BACKENDS, Mode, Prepared

__all__ = ["BACKENDS", "Mode", "Prepared", "MODE_NAMES", "mode_named"]

MODE_NAMES = tuple(SETTINGS["mode"].choices)


def mode_named(name: str) -> Mode:
    """The mode `name` (a ValueError naming the choices when there is none)."""
    if name not in MODE_NAMES:
        raise ValueError(f"unknown training mode {name!r}: choose one of "
                         f"{', '.join(MODE_NAMES)}")
    return importlib.import_module(f"{__name__}.{name}").MODE
