"""Weight initialisers, as Keras defines them, drawing from a seeded numpy Generator.

Each takes (shape, rng, dtype) and returns a new array.
"""
from __future__ import annotations

import math

import numpy as np


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras computes them: a conv kernel (..., in, out) counts its window."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(shape, rng, dtype=np.float32):
    """Uniform in [-limit, limit] with limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def orthogonal(shape, rng, dtype=np.float32, gain=1.0):
    """A random orthogonal matrix (rows or columns orthonormal), for recurrent kernels."""
    rows, cols = math.prod(shape[:-1]), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))          # make the decomposition unique
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


def uniform(shape, rng, dtype=np.float32, low=-0.05, high=0.05):
    """Keras's RandomUniform default (used by Embedding)."""
    return rng.uniform(low, high, size=shape).astype(dtype)


def zeros(shape, rng=None, dtype=np.float32):
    return np.zeros(shape, dtype)


def ones(shape, rng=None, dtype=np.float32):
    return np.ones(shape, dtype)
