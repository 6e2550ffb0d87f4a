"""Mode "supervised": a network learns the data set's targets (classes or values)."""
from __future__ import annotations

from .base import Mode

MODE = Mode()
