"""The bounds a project may have, declared once, and the checks that hold a file to them.

A `.graph` file is data from anywhere: a few hundred bytes can ask for 10^12 migrations, a
block expanded to a million layers or a tensor wider than memory. Every bound is here, as data
(`LIMITS`), and is checked while the file is read, before anything is expanded or allocated:

* the text: its size and how deeply its brackets nest (`check_text`, a scan of the text
  before `json.loads`, whose C decoder recurses once per level);
* the parsed values: numbers a float or a sane int cannot hold (400-digit integers, 1e999,
  NaN) and overlong strings, each named by its JSON path (`decode`);
* the structure: node, edge, block and port counts, id lengths, type versions (the reader in
  `fileformat` asks `LIMITS`);
* what the design asks for: the number of layers its blocks expand to (`expanded_size`),
  tensor dimensions (`LayerType.infer`), and the memory of its weights and of one training
  batch's activations (`memory_problems`, in validation, so that neither backend allocates a
  design that cannot fit).

The numbers are generous for the designs a person draws (the largest sample has ~40 layers);
they exist so that a hostile or corrupt file ends in a sentence, not a hang or a crash.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    file_bytes: int = 64 * 2 ** 20          # a project file (weights live beside it, not in it)
    json_depth: int = 64                     # brackets nested (a project needs about 8)
    string_chars: int = 1_000_000            # any one string (a description, a run's label)
    id_chars: int = 200                      # a node id or a block name
    max_abs_int: int = 2 ** 53               # integers: beyond this a float cannot hold them
    max_abs_coordinate: float = 1e9          # canvas positions
    nodes: int = 20_000                      # layers in the network and in all blocks together
    edges: int = 50_000
    blocks: int = 1_000
    input_ports: int = 1_024                 # the highest input port a wire may feed, plus 1
    expanded_nodes: int = 200_000            # layers after every Block is expanded
    block_nesting: int = 16                  # blocks inside blocks
    dimension: int = 2 ** 31 - 1             # any one tensor dimension
    runs: int = 10_000                       # runs kept in a project
    min_type_version: int = 1                # layer types and the format start at version 1
    bytes_per_value: int = 4                 # float32, as both backends train
    memory_bytes: int | None = None          # None: the machine's physical memory


LIMITS = Limits()


def memory_budget(limits: Limits = LIMITS) -> int:
    """Bytes a design may need: the declared cap, else the machine's physical memory."""
    if limits.memory_bytes is not None:
        return limits.memory_bytes
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):      # not POSIX: assume a modest machine
        return 16 * 2 ** 30


def size_text(n_bytes: float) -> str:
    """1.5 GB, 4.0 TB: sizes as a person reads them."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1024 or unit == "PB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.1f} PB"


class LimitError(ValueError):
    """A value beyond the declared bounds; `json_path` says where (None: the whole file)."""

    def __init__(self, json_path: str | None, message: str):
        super().__init__(message)
        self.json_path = json_path


# -- the text -----------------------------------------------------------------------------------

# A JSON string (so that brackets inside strings do not count), or one bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def check_text(text: str, limits: Limits = LIMITS) -> None:
    """Refuse a text too large, or nested too deeply for the parser, before parsing it."""
    if len(text) > limits.file_bytes:
        raise LimitError(None, f"is {size_text(len(text))}; a project file may be at most "
                               f"{size_text(limits.file_bytes)}")
    # Fast path: a text without that many opening brackets cannot nest that deep.
    if text.count("[") + text.count("{") <= limits.json_depth:
        return
    depth = 0
    for m in _TOKEN.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limits.json_depth:
                line = text.count("\n", 0, m.start()) + 1
                column = m.start() - text.rfind("\n", 0, m.start())
                raise LimitError(f"line {line}, column {column}",
                                 f"brackets nested more than {limits.json_depth} deep; a "
                                 f"project never needs that many")
        elif c in "]}":
            depth -= 1


# -- the parsed values --------------------------------------------------------------------------

class _Refused:
    """A number the parser met that the model cannot hold; reported with its JSON path by
    `check_values` (the parser's hooks do not know where they are)."""
    __slots__ = ("text", "why")

    def __init__(self, text: str, why: str):
        self.text, self.why = text, why


def _parse_int(text: str, limits: Limits = LIMITS):
    # Compare digit counts first: int() of a 100,000-digit string is itself slow.
    if len(text.lstrip("-")) > 20 or abs(int(text)) > limits.max_abs_int:
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} digits)"
        return _Refused(shown, f"the number {shown} is too large (at most "
                               f"{limits.max_abs_int:,} in absolute value)")
    return int(text)


def _parse_float(text: str):
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else f"{text[:12]}...({len(text)} characters)"
        return _Refused(shown, f"the number {shown} is too large for a float")
    return value


def _parse_constant(name: str):
    return _Refused(name, f"{name} is not allowed in a .graph file (only finite numbers are)")


def decode(text: str, limits: Limits = LIMITS):
    """Parse JSON text within the limits: raises LimitError (with line/column or JSON path)
    for a text too large or too deep, a number out of range or a string too long, and
    json.JSONDecodeError for text that is not JSON."""
    check_text(text, limits)
    data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                      parse_constant=_parse_constant)
    check_values(data, limits)
    return data


def check_values(data, limits: Limits = LIMITS) -> None:
    """Walk parsed JSON (iteratively: depth is bounded already, but a walk need not recurse)
    and raise LimitError at the first refused number or overlong string."""
    stack = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Refused):
            raise LimitError(path or None, value.why)
        if isinstance(value, str):
            if len(value) > limits.string_chars:
                raise LimitError(path or None, f"text of {len(value):,} characters; at most "
                                               f"{limits.string_chars:,} are allowed")
        elif isinstance(value, dict):
            for key, item in value.items():
                if len(key) > limits.id_chars:
                    raise LimitError(path or None, f"a key of {len(key):,} characters; at most "
                                                   f"{limits.id_chars} are allowed")
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise LimitError(path or None, "must be a finite number")


# -- what the design asks for -------------------------------------------------------------------

def expanded_size(blocks: dict, nodes, limits: Limits = LIMITS, _stack: tuple = (),
                  _memo: dict | None = None) -> int:
    """How many layers `nodes` (Node objects, or anything with .type and .params) become once
    every Block is expanded, `repeat` copies each. Stops counting past the limit (so that
    1000 x 1000 x ... is not multiplied out) and ignores blocks that contain themselves or are
    missing (validation names those). Raises LimitError for nesting deeper than allowed."""
    memo = {} if _memo is None else _memo
    total = 0
    for node in nodes:
        if node.type != "Block":
            total += 1
            continue
        name = node.params.get("block")
        repeat = node.params.get("repeat", 1)
        block = blocks.get(name) if isinstance(name, str) else None
        if block is None or name in _stack or not isinstance(repeat, int) or repeat < 1:
            total += 1
            continue
        if len(_stack) >= limits.block_nesting:
            raise LimitError(None, f"blocks are nested more than {limits.block_nesting} deep "
                                   f"({' -> '.join(_stack + (name,))})")
        if name not in memo:
            inner = [block.graph.node(n) for n in block.graph.nodes()]
            memo[name] = expanded_size(blocks, inner, limits, _stack + (name,), memo)
        total += repeat * memo[name]
        if total > limits.expanded_nodes:
            return total
    return total


def expansion_problem(blocks: dict, node, limits: Limits = LIMITS) -> str | None:
    """Why one Block node expands to too many layers (or nests too deep), or None."""
    try:
        n = expanded_size(blocks, [node], limits)
    except LimitError as e:
        return f"{e}."
    if n > limits.expanded_nodes:
        return (f"Block {node.params.get('block')!r} repeated {node.params.get('repeat')} times "
                f"expands to more than {limits.expanded_nodes:,} layers, the most a network "
                f"may have: lower `repeat` here or inside the block.")
    return None
