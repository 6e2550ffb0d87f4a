"""The NumPy reference backend: every layer's forward and backward pass, written out in NumPy.

Meant to be read: each layer is a small `forward` / `backward` pair in `layers/`, registered
against its catalog type id in `registry`. A whole network is run by chaining them (that is the
compiler's job, not this package's).
"""
from . import layers  # noqa: F401  (fills the registry)
from .registry import (KERNELS, NOT_SUPPORTED, Kernel, backward, coverage, forward, get,
                       make_weights, register, updates)

__all__ = ["KERNELS", "NOT_SUPPORTED", "Kernel", "backward", "coverage", "forward", "get",
           "make_weights", "register", "updates"]
