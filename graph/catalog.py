"""The layer catalog: every layer type is declared here once.

A declaration (`LayerType`) holds the type id, category, description, parameter declarations,
input ports, the shape rule, the parameter count and a FLOPs estimate. The palette, the property
editor, validation, file loading and both backends' registries are generated from or checked
against `CATALOG`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .limits import LIMITS
from .params import TRAINABLE_PARAM, Param, ParamSet
from .shapes import Shape, ShapeError, fmt, known, size

ShapeRule = Callable[[dict, list], list]            # (params, input shapes) -> output shapes
CountRule = Callable[[dict, list, list], int]       # (params, input shapes, output shapes) -> n


def _elementwise_flops(p, inputs, outputs) -> int:
    """Default estimate: one operation per output element."""
    return sum(known(size(s)) for s in outputs)


def _no_params(p, inputs, outputs) -> int:
    return 0


@dataclass(slots=True)
class Inferred:
    """What shape inference finds out about one node."""
    outputs: list            # output shapes, one per output port
    params: int              # all weights, as Keras's count_params()
    trainable: int           # the trainable ones
    flops: int               # per sample, forward pass
    advice: tuple = ()       # warnings: valid, but probably not what the student meant


@dataclass(frozen=True, eq=False)
class LayerType:
    type_id: str
    category: str
    description: str
    params: ParamSet
    shape: ShapeRule
    input_names: tuple[str, ...] = ("input",)
    min_inputs: int = 1
    max_inputs: int | None = 1                   # None: any number (Add, Concatenate)
    outputs: int | Callable[[dict], int] = 1     # number of output ports
    output_names: Callable[[dict], list] | None = None
    param_count: CountRule = _no_params
    non_trainable: CountRule = _no_params
    flops: CountRule = _elementwise_flops
    advice: Callable[[dict, list, list], list] | None = None
    version: int = 1
    aliases: tuple[str, ...] = ()
    has_weights: bool = False
    doc: str = ""                                # a longer explanation for the help panel

    # -- ports ----------------------------------------------------------------------------------
    def output_count(self, params: dict, ctx: Any = None) -> int:
        return self.outputs(params) if callable(self.outputs) else self.outputs

    def output_port_names(self, params: dict, ctx: Any = None) -> list[str]:
        if self.output_names is not None:
            return list(self.output_names(params))
        n = self.output_count(params, ctx)
        return ["output"] if n == 1 else [f"output {i}" for i in range(n)]

    def input_port_name(self, port: int) -> str:
        if port < len(self.input_names):
            return self.input_names[port]
        return f"{self.input_names[-1] if self.input_names else 'input'} {port}"

    def accepts_input_port(self, port: int, ctx: Any = None, params: dict | None = None) -> bool:
        return port >= 0 and (self.max_inputs is None or port < self.max_inputs)

    def arity_text(self) -> str:
        if self.max_inputs is None:
            return f"at least {self.min_inputs} inputs"
        if self.min_inputs == self.max_inputs:
            return f"{self.min_inputs} input{'s' if self.min_inputs != 1 else ''}"
        return f"{self.min_inputs} to {self.max_inputs} inputs"

    # -- parameters -----------------------------------------------------------------------------
    def default_params(self) -> dict:
        return self.params.defaults()

    # -- inference ------------------------------------------------------------------------------
    def infer(self, params: dict, inputs: list[Shape], ctx: Any = None) -> Inferred:
        """Output shapes, parameter count and FLOPs, or a ShapeError saying what is wrong."""
        outputs = [tuple(s) for s in self.shape(params, inputs)]
        for s in outputs:
            if any(d is not None and d < 1 for d in s):
                raise ShapeError(f"{self.type_id} would produce an empty output {s} from "
                                 f"{', '.join(map(str, inputs))}.")
            if any(d is not None and d > LIMITS.dimension for d in s):
                # beyond this no tensor can be allocated, and the numbers only grow from here
                # (a block that doubles a width, repeated, reaches 2^1000)
                big = max(d for d in s if d is not None)
                raise ShapeError(f"{self.type_id} would produce an output with a dimension of "
                                 f"{big:.3g} (from {', '.join(fmt(i) for i in inputs)}); at "
                                 f"most {LIMITS.dimension:,} is possible.")
        total = self.param_count(params, inputs, outputs)
        frozen = (total if params.get("trainable") is False
                  else self.non_trainable(params, inputs, outputs))
        advice = tuple(self.advice(params, inputs, outputs)) if self.advice else ()
        return Inferred(outputs, total, total - frozen, self.flops(params, inputs, outputs),
                        advice)

    def describe(self) -> dict:
        """The declaration as plain data (used by `netdesigner layers --json` and the docs)."""
        return {
            "type": self.type_id, "version": self.version, "category": self.category,
            "description": self.description, "inputs": list(self.input_names),
            "min_inputs": self.min_inputs, "max_inputs": self.max_inputs,
            "params": [p.describe() for p in self.params], "aliases": list(self.aliases),
        }


class Catalog:
    """Type id -> declaration. Registering a type (or alias) twice is an error."""

    def __init__(self):
        self._types: dict[str, LayerType] = {}
        self._aliases: dict[str, str] = {}

    def register(self, layer_type: LayerType) -> LayerType:
        for name in (layer_type.type_id, *layer_type.aliases):
            if name in self._types or name in self._aliases:
                raise ValueError(f"layer type {name!r} is declared twice")
        self._types[layer_type.type_id] = layer_type
        for alias in layer_type.aliases:
            self._aliases[alias] = layer_type.type_id
        return layer_type

    def resolve(self, type_id: str) -> str:
        """The current id of a type, following aliases of renamed types."""
        return self._aliases.get(type_id, type_id)

    def __contains__(self, type_id: str) -> bool:
        return self.resolve(type_id) in self._types

    def __getitem__(self, type_id: str) -> LayerType:
        try:
            return self._types[self.resolve(type_id)]
        except KeyError:
            raise KeyError(f"unknown layer type {type_id!r}") from None

    def __iter__(self):
        return iter(self._types.values())

    def __len__(self):
        return len(self._types)

    def ids(self) -> list[str]:
        return list(self._types)

    def categories(self) -> dict[str, list[LayerType]]:
        """Palette order: categories in order of first declaration, types in declaration order."""
        out: dict[str, list[LayerType]] = {}
        for t in self._types.values():
            out.setdefault(t.category, []).append(t)
        return out


CATALOG = Catalog()


def declare(type_id: str, *, category: str, description: str, params: Sequence[Param] = (),
            shape: ShapeRule, **kwargs) -> LayerType:
    """Declare a layer type and register it in the catalog. A type with weights gets the
    `trainable` parameter (frozen layers) after its own."""
    params = tuple(params)
    if kwargs.get("has_weights") and TRAINABLE_PARAM.name not in {p.name for p in params}:
        params += (TRAINABLE_PARAM,)
    return CATALOG.register(LayerType(type_id=type_id, category=category,
                                      description=description, params=ParamSet(params),
                                      shape=shape, **kwargs))
