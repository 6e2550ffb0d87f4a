"""The Block layer type: a node that stands for a named sub-graph, applied `repeat` times.

A block (say a residual unit) is defined once in the file (`Graph.blocks`) and used by any
number of Block nodes. Shape rules and parameter counts apply through it: each repetition is a
fresh copy with its own weights, fed by the previous repetition's outputs.
"""
from __future__ import annotations

from dataclasses import dataclass

from .catalog import CATALOG, Inferred, LayerType
from .params import INT, TEXT, Param, ParamSet
from .shapes import ShapeError


def _unused_shape_rule(p, inputs):      # Block overrides `infer`; see BlockType.infer
    raise ShapeError("Block shapes need the block definitions")


@dataclass(frozen=True, eq=False)
class BlockType(LayerType):
    def _block(self, params, graph):
        blocks = getattr(graph, "blocks", {})
        name = params.get("block")
        # a file may give a list or an object here (validation names it): not a key
        return blocks.get(name) if isinstance(name, str) else None

    def output_count(self, params, ctx=None) -> int:
        graph = getattr(ctx, "graph", ctx)
        block = self._block(params, graph)
        return len(block.outputs) if block is not None else 1

    def accepts_input_port(self, port, ctx=None, params=None) -> bool:
        block = self._block(params or {}, ctx)
        if block is None:
            return port >= 0
        return 0 <= port < len(block.inputs)

    def infer(self, params, inputs, ctx=None) -> Inferred:
        if ctx is None or not hasattr(ctx, "infer_block"):
            raise ShapeError("A Block can only be checked inside its network.")
        shapes, total, trainable, flops = list(inputs), 0, 0, 0
        for i in range(params["repeat"]):
            if i and len(shapes) != len(inputs):
                raise ShapeError(f"Block {params['block']!r} has {len(inputs)} inputs but "
                                 f"{len(shapes)} outputs, so it cannot be repeated.")
            step = ctx.infer_block(params["block"], shapes)
            shapes = step.outputs
            total, trainable, flops = (total + step.params, trainable + step.trainable,
                                       flops + step.flops)
        return Inferred(shapes, total, trainable, flops)


BLOCK = CATALOG.register(BlockType(
    type_id="Block", category="Blocks",
    description="A named group of layers defined once and reused (a residual unit, a "
                "Transformer encoder layer), applied `repeat` times in a row.",
    params=ParamSet((
        Param("block", TEXT, "", "Name of the block definition to use."),
        Param("repeat", INT, 1, "How many copies to chain, each with its own weights.", min=1,
              max=1000),
    )),
    shape=_unused_shape_rule, input_names=("input",), min_inputs=1, max_inputs=None,
    has_weights=True,
))
