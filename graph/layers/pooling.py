"""Pooling layers: local (max, average) and global."""
from __future__ import annotations

from ..catalog import declare
from ..params import BOOL, CHOICE, INT, INT_TUPLE, Param
from ..shapes import ShapeError, fmt, known, pool_length, prod, require_rank
from .convolution import HINTS, SPATIAL_RANK

HOW = {"Max": "keeps the largest value of each window",
       "Average": "keeps the mean of each window"}
WHAT = {1: "sequence", 2: "image", 3: "volume"}

DATA_FORMAT = Param("data_format", CHOICE, "channels_last", "Where the channels are: last "
                    "(steps/rows/columns, then channels, as everywhere in the catalog) or first "
                    "(as PyTorch and some Keras models keep them).",
                    choices=("channels_last", "channels_first"))


def _channels_last(p, x):
    """The shape with its channels last (a channels_first input's channels moved)."""
    return x[1:] + x[:1] if p.get("data_format") == "channels_first" else x


def _as_stored(p, shape):
    """An output shape with channels last, as the data_format stores it."""
    return shape[-1:] + shape[:-1] if p.get("data_format") == "channels_first" else shape


def _declare_pooling(kind, rank):
    type_id = f"{kind}Pooling{rank}D"
    kernel_kind = INT if rank == 1 else INT_TUPLE
    length = None if rank == 1 else rank

    def shape(p, inputs):
        (x,) = inputs
        require_rank(type_id, x, rank + 1, SPATIAL_RANK[rank], HINTS[rank])
        x = _channels_last(p, x)
        pools = (p["pool_size"],) if rank == 1 else p["pool_size"]
        strides = p["strides"] if p["strides"] is not None else p["pool_size"]
        strides = (strides,) if rank == 1 else strides
        out = tuple(pool_length(n, k, s, p["padding"]) for n, k, s in zip(x[:rank], pools, strides))
        if any(n is not None and n < 1 for n in out):
            raise ShapeError(f"{type_id} with pool size {fmt(pools)} does not fit in the input "
                             f"{fmt(x)}: the output would be empty. Use a smaller pool or "
                             f"padding='same'.")
        return [_as_stored(p, out + (x[-1],))]

    def flops(p, inputs, outputs):
        pools = (p["pool_size"],) if rank == 1 else p["pool_size"]
        return prod(known(n) for n in outputs[0]) * prod(pools)

    declare(
        type_id, category="Pooling",
        description=f"Shrinks the {WHAT[rank]}: {HOW[kind]}.",
        params=[
            Param("pool_size", kernel_kind, 2 if rank == 1 else (2,) * rank, "Size of the window.",
                  min=1, max=1024, length=length),
            Param("strides", kernel_kind, None, "Step between windows (empty: the pool size).",
                  min=1, max=1024, length=length, optional=True),
            Param("padding", CHOICE, "valid", "'valid': drop what does not fill a window; "
                  "'same': pad so every value is used.", choices=("valid", "same")),
            DATA_FORMAT,
        ],
        shape=shape, flops=flops,
    )


def _declare_global_pooling(kind, rank):
    type_id = f"Global{kind}Pooling{rank}D"

    def shape(p, inputs):
        (x,) = inputs
        require_rank(type_id, x, rank + 1, SPATIAL_RANK[rank], HINTS[rank])
        x = _channels_last(p, x)
        return [_as_stored(p, (1,) * rank + (x[-1],)) if p["keepdims"] else (x[-1],)]

    declare(
        type_id, category="Pooling",
        description=f"Reduces each channel to one number over the whole "
                    f"{WHAT[rank]} ({kind.lower()}); a light "
                    f"replacement for Flatten before the classifier.",
        params=[Param("keepdims", BOOL, False, "Keep the spatial axes with size 1."),
                DATA_FORMAT],
        shape=shape, flops=lambda p, i, o: known(prod(known(n) for n in i[0])),
    )


for _kind in ("Max", "Average"):
    for _rank in (1, 2, 3):
        _declare_pooling(_kind, _rank)
for _kind in ("Max", "Average"):
    for _rank in (1, 2, 3):
        _declare_global_pooling(_kind, _rank)
