"""The NumPy reference backend: every layer's forward and backward pass, written out in NumPy.

Meant to be read: each layer is a small `forward` / `backward` pair in `layers/`, registered
against its catalog type id in `registry`. `model` compiles a whole graph into a network that
runs them in order (forward and backward over the DAG); `losses`, `optimizers` and `train`
(`fit`, `evaluate`, `predict`) train it; `weights` saves weights and copies them to and from
Keras. Those modules are imported on demand, not by this package.
"""
from . import layers  # noqa: F401  (fills the registry)
from .registry import (KERNELS, NOT_SUPPORTED, Kernel, backward, coverage, forward, get,
                       make_weights, register, updates)

__all__ = ["KERNELS", "NOT_SUPPORTED", "Kernel", "backward", "coverage", "forward", "get",
           "make_weights", "register", "updates"]
