"""Parameter declarations: one `Param` per knob of a layer type.

A declaration carries everything the rest of the program needs to know about a parameter:
its kind (which widget the property editor shows), its default, its allowed range or choices,
and a help sentence. `Param.check` says, in words, why a value is refused.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .limits import LIMITS

# The kinds a parameter can have. The property editor maps each kind to one widget.
INT = "int"
FLOAT = "float"
BOOL = "bool"
CHOICE = "choice"
TEXT = "text"
INT_TUPLE = "int_tuple"      # fixed-length tuple of ints, e.g. kernel_size (3, 3)
SHAPE = "shape"              # tuple of positive ints or None (unknown length), e.g. (None, 8)
KINDS = (INT, FLOAT, BOOL, CHOICE, TEXT, INT_TUPLE, SHAPE)


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple = ()
    length: int | tuple[int, ...] | None = None   # allowed tuple lengths for INT_TUPLE
    optional: bool = False                          # None is an allowed value
    allow_minus_one: bool = False                   # SHAPE: one entry may be -1 (Reshape)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == CHOICE and not self.choices:
            raise ValueError(f"parameter {self.name!r}: a choice needs choices")
        problem = self.check(self.default)
        if problem:
            raise ValueError(f"parameter {self.name!r}: default {self.default!r} is refused: {problem}")

    # -- values -------------------------------------------------------------------------------
    def coerce(self, value: Any) -> Any:
        """Bring a value read from JSON or typed by a user into canonical form.

        Lists become tuples, an int given for a tuple parameter is repeated, integral floats
        become ints. Values that cannot be brought into form are returned unchanged so that
        `check` can name the fault.
        """
        if value is None:
            return None
        if (self.kind == INT and isinstance(value, float) and value.is_integer()
                and abs(value) <= LIMITS.max_abs_int):
            # 1e300 stays a float (and is refused as not whole): as an int it would have 301
            # digits, which no file may hold
            return int(value)
        if self.kind == FLOAT and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if self.kind == INT_TUPLE:
            if isinstance(value, int) and not isinstance(value, bool):
                n = self.length if isinstance(self.length, int) else (self.length or (1,))[0]
                return (value,) * n
            if isinstance(value, (list, tuple)):
                return tuple(value)
        if self.kind == SHAPE and isinstance(value, (list, tuple)):
            return tuple(value)
        return value

    def check(self, value: Any) -> str | None:
        """None if the value is allowed, else a sentence saying why not."""
        if value is None:
            return None if self.optional else "a value is required"
        kind = self.kind
        if kind == BOOL:
            return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
        if kind == INT:
            if isinstance(value, bool) or not isinstance(value, int):
                return f"must be a whole number, not {value!r}"
            return self._check_range(value)
        if kind == FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"must be a number, not {value!r}"
            if value != value:
                return "must be a number, not NaN"
            return self._check_range(value)
        if kind == CHOICE:
            if value not in self.choices:
                return f"must be one of {', '.join(map(str, self.choices))}; got {value!r}"
            return None
        if kind == TEXT:
            return None if isinstance(value, str) else f"must be text, not {value!r}"
        if kind == INT_TUPLE:
            if not isinstance(value, tuple) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value):
                return f"must be a list of whole numbers, not {value!r}"
            lengths = (self.length,) if isinstance(self.length, int) else self.length
            if lengths and len(value) not in lengths:
                want = " or ".join(str(n) for n in lengths)
                return f"must have {want} entries, not {len(value)}"
            for v in value:
                problem = self._check_range(v)
                if problem:
                    return f"every entry {problem}"
            return None
        if kind == SHAPE:
            if not isinstance(value, tuple) or not all(
                    v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value):
                return f"must be a list of sizes (whole numbers, or null for 'any'), not {value!r}"
            minus_ones = sum(1 for v in value if v == -1)
            if minus_ones > (1 if self.allow_minus_one else 0):
                return ("may contain -1 at most once" if self.allow_minus_one
                        else "sizes must be positive (or null for 'any length')")
            if any(v is not None and v != -1 and v < 1 for v in value):
                return "sizes must be positive"
            if not value and not self.optional:
                return "needs at least one dimension"
            return None
        return None

    def _check_range(self, value) -> str | None:
        lo, hi = self.min, self.max
        if lo is not None and (value < lo or (self.min_exclusive and value == lo)):
            return f"must be {'greater than' if self.min_exclusive else 'at least'} {lo:g}; got {value}"
        if hi is not None and (value > hi or (self.max_exclusive and value == hi)):
            return f"must be {'less than' if self.max_exclusive else 'at most'} {hi:g}; got {value}"
        return None

    def to_json(self, value: Any) -> Any:
        """Plain JSON form of a value (tuples become lists)."""
        if isinstance(value, tuple):
            return list(value)
        return value

    def describe(self) -> dict:
        """The declaration as plain data (for docs, `--json` output and the property editor)."""
        out = {"name": self.name, "kind": self.kind, "default": self.to_json(self.default),
               "help": self.help, "optional": self.optional}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.choices:
            out["choices"] = list(self.choices)
        if self.length is not None:
            out["length"] = self.length
        return out


# -- shared parameter sets -------------------------------------------------------------------
ACTIVATIONS = ("linear", "relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh", "softmax",
               "swish", "gelu")


def activation_param(default: str = "linear", name: str = "activation",
                     help: str = "Non-linearity applied to the output.") -> Param:
    return Param(name, CHOICE, default, help, choices=ACTIVATIONS)


REGULARIZER_PARAMS = (
    Param("l1", FLOAT, 0.0, "L1 penalty on the weights (pushes weights to exactly zero).", min=0),
    Param("l2", FLOAT, 0.0, "L2 penalty on the weights (weight decay: keeps weights small).", min=0),
)

# Every layer type with weights gets this one (the catalog adds it, see `catalog.declare`).
TRAINABLE_PARAM = Param(
    "trainable", BOOL, True, "Train this layer's weights. Off: they keep their values (frozen), "
    "e.g. a pretrained part or the random reservoir of an echo-state network. A frozen "
    "BatchNormalization also uses its moving statistics in training, as Keras does.")


@dataclass(frozen=True)
class ParamSet:
    """An ordered collection of parameter declarations, looked up by name."""
    params: tuple[Param, ...] = field(default_factory=tuple)

    def __post_init__(self):
        names = [p.name for p in self.params]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"parameter declared twice: {', '.join(sorted(dup))}")
        object.__setattr__(self, "_by_name", {p.name: p for p in self.params})

    def __iter__(self):
        return iter(self.params)

    def __contains__(self, name):
        return name in self._by_name

    def __getitem__(self, name) -> Param:
        return self._by_name[name]

    def names(self):
        return [p.name for p in self.params]

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}
