"""Pure shape arithmetic shared by several layer types (as Keras's `operation_utils`).

Shapes leave out the batch dimension and are channels-last, as in Keras. A dimension is a
positive int, or None when its size is not known until data arrives (a sequence length).
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

Dim = Optional[int]
Shape = tuple  # tuple[Dim, ...]


class ShapeError(ValueError):
    """A layer cannot accept the shapes it is given. The message is meant for a student."""


class MissingInput(ShapeError):
    """The wired shapes are right, but a port that must go with them is not wired yet (an
    LSTM's initial_c with its initial_h): a problem of the design, not a reason to refuse the
    wire being drawn."""


def fmt(shape: Shape) -> str:
    """(28, 28, 1) / (None, 8) / (10,) — how shapes are written in every message."""
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def size(shape: Shape) -> Optional[int]:
    """Number of elements, or None if any dimension is unknown."""
    n = 1
    for d in shape:
        if d is None:
            return None
        n *= d
    return n


def known(n: Optional[int], default: int = 1) -> int:
    """A size for estimates (FLOPs) when a dimension is unknown."""
    return default if n is None else n


def effective_kernel(kernel: int, dilation: int) -> int:
    return kernel + (kernel - 1) * (dilation - 1)


def conv_length(length: Dim, kernel: int, stride: int, padding: str, dilation: int = 1) -> Dim:
    """Output length of a convolution along one axis, following Keras's rounding."""
    if length is None:
        return None
    if padding == "valid":
        out = (length - effective_kernel(kernel, dilation)) // stride + 1
    else:  # same, causal
        out = (length - 1) // stride + 1
    return out


def pool_length(length: Dim, pool: int, stride: int, padding: str) -> Dim:
    if length is None:
        return None
    if padding == "valid":
        return (length - pool) // stride + 1
    return (length - 1) // stride + 1


def deconv_length(length: Dim, kernel: int, stride: int, padding: str, dilation: int = 1) -> Dim:
    """Output length of a transposed convolution (Keras, output_padding=None)."""
    if length is None:
        return None
    k = effective_kernel(kernel, dilation)
    if padding == "valid":
        return length * stride + max(k - stride, 0)
    return length * stride


def require_rank(layer: str, shape: Shape, rank: int | Iterable[int], what: str,
                 hint: str = "") -> None:
    """Raise a ShapeError unless the input has the given rank (batch dimension excluded)."""
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    if len(shape) not in ranks:
        if len(ranks) > 4 and ranks == tuple(range(ranks[0], ranks[-1] + 1)):
            want = f"at least {ranks[0]}-D"         # range(2, 16): "at least 2-D"
        else:
            want = " or ".join(f"{r}-D" for r in ranks)
        msg = f"{layer} expects a {want} input {what} but gets {fmt(shape)}"
        raise ShapeError(msg + (f": {hint}" if hint else "."))


def require_known(layer: str, shape: Shape, axis: int, what: str) -> int:
    """The size of one axis, which a layer needs to create its weights."""
    d = shape[axis]
    if d is None:
        raise ShapeError(f"{layer} needs to know the size of the {what} axis of its input, "
                         f"but it is None in {fmt(shape)}: give the Input layer a fixed size there.")
    return d


def check_positive(layer: str, out: Shape, inp: Shape, why: str) -> Shape:
    """A computed output shape must have positive sizes; otherwise explain what to change."""
    if any(d is not None and d < 1 for d in out):
        raise ShapeError(f"{layer} would produce an empty output from {fmt(inp)}: {why}")
    return out


def broadcast_merge(layer: str, shapes: list[Shape]) -> Shape:
    """Element-wise merge shape (Add, Multiply, ...), as Keras computes it.

    Size-1 axes broadcast; a None axis (unknown size) gives None. Inputs with fewer axes are
    lined up with the others from the right (Keras inserts the missing axes after the batch
    axis), so (3, 4) and (4,) merge to (3, 4), as in NumPy.
    """
    out = shapes[0]
    for i, s in enumerate(shapes[1:], start=1):
        longer, shorter = (out, s) if len(out) >= len(s) else (s, out)
        lead = len(longer) - len(shorter)
        merged = list(longer[:lead])
        for a, b in zip(longer[lead:], shorter):
            if a is None or b is None:
                merged.append(None)
            elif a == 1 or a == b:
                merged.append(b)
            elif b == 1:
                merged.append(a)
            else:
                raise ShapeError(f"{layer} needs all inputs to have the same shape, but input 0 "
                                 f"is {fmt(shapes[0])} and input {i} is {fmt(s)}: make the "
                                 f"sizes agree (e.g. with a Dense or Reshape on one branch).")
        out = tuple(merged)
    return out


def prod(values: Iterable[int]) -> int:
    return math.prod(values)
