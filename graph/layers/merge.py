"""Merge layers: join several branches of a network into one."""
from __future__ import annotations

from ..catalog import declare
from ..params import INT, Param
from ..shapes import ShapeError, broadcast_merge, fmt, known, size

ELEMENTWISE = {
    "Add": "Adds its inputs element by element: the skip connection of a residual block.",
    "Subtract": "Subtracts the second input from the first, element by element.",
    "Multiply": "Multiplies its inputs element by element (gating).",
    "Average": "Averages its inputs element by element (ensembles).",
    "Maximum": "Keeps the element-wise maximum of its inputs.",
}


def _broadcast_advice(type_id):
    def advice(p, inputs, outputs):
        if len({len(s) for s in inputs}) > 1:
            shapes = ", ".join(fmt(s) for s in inputs)
            return [f"{type_id} gets inputs with different numbers of axes ({shapes}): the "
                    f"smaller ones are repeated along the missing leading axes to give "
                    f"{fmt(outputs[0])}. If you meant the shapes to match, add a Reshape."]
        return []
    return advice


def _declare_elementwise(type_id, description):
    binary = type_id == "Subtract"
    declare(
        type_id, category="Merge", description=description,
        input_names=("a", "b") if binary else ("input",),
        min_inputs=2, max_inputs=2 if binary else None,
        shape=lambda p, inputs: [broadcast_merge(type_id, inputs)],
        flops=lambda p, i, o: (len(i) - 1) * known(size(o[0])),
        advice=_broadcast_advice(type_id),
    )


for _type, _text in ELEMENTWISE.items():
    _declare_elementwise(_type, _text)


def _concatenate_shape(p, inputs):
    rank = len(inputs[0])
    axis = p["axis"]
    if not (-rank <= axis <= rank) or axis == 0:
        raise ShapeError(f"Concatenate's axis {axis} does not exist for inputs of shape "
                         f"{fmt(inputs[0])}: use -1 (the last axis) or 1..{rank} (0 is the "
                         f"batch axis, which cannot be joined).")
    at = axis - 1 if axis > 0 else rank + axis     # index into shapes without the batch axis
    out = list(inputs[0])              # as Keras: the other sizes are those of input 0 ...
    known = list(inputs[0])            # ... but every known size must agree
    known_from = [0] * rank
    for i, s in enumerate(inputs[1:], start=1):
        if len(s) != rank:
            raise ShapeError(f"Concatenate needs inputs with the same number of axes, but input "
                             f"0 is {fmt(inputs[0])} and input {i} is {fmt(s)}.")
        for k, (a, b) in enumerate(zip(known, s)):
            if k == at:
                continue
            if a is not None and b is not None and a != b:
                j = known_from[k]
                raise ShapeError(
                    f"Concatenate joins along axis {axis}, so all other sizes must agree, but "
                    f"input {j} is {fmt(inputs[j])} and input {i} is {fmt(s)}.")
            if a is None and b is not None:
                known[k], known_from[k] = b, i
        out[at] = None if out[at] is None or s[at] is None else out[at] + s[at]
    return [tuple(out)]


declare(
    "Concatenate", category="Merge",
    description="Joins its inputs side by side along one axis (the channels by default), as in "
                "Inception modules and U-Net skips.",
    params=[Param("axis", INT, -1, "Axis to join along: -1 is the last; the batch axis (0) "
                  "cannot be used.", min=-8, max=8)],
    min_inputs=2, max_inputs=None,
    shape=_concatenate_shape, flops=lambda p, i, o: 0,
)
