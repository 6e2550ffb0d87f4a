"""A seeded mutator of `.graph` projects: hostile and broken variants of the samples.

`mutants(seed, count)` yields (name, text) pairs: each a sample with one to three mutations,
some on the parsed JSON (keys deleted or duplicated, values of another type, huge or
non-finite numbers, long strings, bad ids and ports, unknown types, deep nesting) and some on
the text itself (truncated, a number token replaced by one JSON allows but a float cannot hold).
The same seed always gives the same files, so a failure names a reproducible file.
"""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"

HUGE_INT = 10 ** 400
# Values that JSON can carry and that have broken the loader or validation at some point.
ODD_VALUES = [
    None, True, False, 0, -1, 1, 2, -(10 ** 12), 10 ** 9, 2 ** 31, 2 ** 63, HUGE_INT, -HUGE_INT,
    0.5, -0.0, 1e300, -1e300, 1e-320, "", "x", "adam", "Dense", "Input", "Block", "ghost",
    "a\n", "x" * 5000, "\u0000", "\ud7ff\ue000", [], [None], [1, 2], [[[]]], {}, {"x": 1},
    {"shape": [4]}, list(range(64)),
]
TEXT_TOKENS = ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1" * 400, "1.0e400",
               "-" + "9" * 500, "0." + "0" * 400 + "1"]


def sample_data() -> list[tuple[str, dict]]:
    return [(p.stem, json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(SAMPLES.glob("*.graph"))]


def _containers(data, path=()):
    """(path, container) of every dict and list in the data, the root included."""
    out, stack = [], [(path, data)]
    while stack:
        p, value = stack.pop()
        if isinstance(value, (dict, list)):
            out.append((p, value))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((p + (k,), v) for k, v in items)
    return out


def _odd_value(rng: random.Random, old):
    roll = rng.random()
    if roll < 0.5:
        return copy.deepcopy(rng.choice(ODD_VALUES))
    if roll < 0.6:
        # deepcopy and json.dumps recurse (two frames a level): text mutations go deeper
        depth = rng.choice([20, 100, 250])
        value = []
        for _ in range(depth):
            value = [value]
        return value
    if roll < 0.7:
        return "y" * rng.choice([10_000, 200_000, 2_000_000])
    if isinstance(old, (int, float)) and not isinstance(old, bool):
        pick = rng.randrange(5)
        try:                             # an earlier mutation may have made `old` huge
            return [lambda: old * 10 ** rng.randint(1, 30), lambda: -old, lambda: old + 0.5,
                    lambda: int(old) + 1, lambda: old * 1e300 if isinstance(old, float)
                    else old * 2 ** 40][pick]()
        except (OverflowError, ValueError):
            return HUGE_INT
    if isinstance(old, list):
        return old * rng.choice([2, 50]) if len(old) < 200 else []
    if isinstance(old, dict):
        return {k: v for k, v in old.items() if rng.random() < 0.5}
    return copy.deepcopy(rng.choice(ODD_VALUES))


def mutate_data(data: dict, rng: random.Random) -> dict:
    """One mutation of the parsed project, in place; returns it."""
    containers = _containers(data)
    path, target = rng.choice(containers)
    kind = rng.random()
    if isinstance(target, dict) and target:
        key = rng.choice(list(target))
        if kind < 0.2:
            del target[key]
        elif kind < 0.3:
            target[key + rng.choice(["", "_x", "\n"])] = copy.deepcopy(target[key])
        elif kind < 0.4 and key in ("id", "source", "target", "node", "block", "type", "name"):
            target[key] = rng.choice(["ghost", "a\n", "1abc", "", "x" * 300, "Dense", "Block",
                                      "NoSuchLayer", "input_1", f"{target[key]}\n"])
        elif kind < 0.5 and key in ("target_port", "source_port", "port", "repeat", "units",
                                    "type_version", "version", "batch_size", "epochs"):
            target[key] = rng.choice([-1, 0, 1, 7, 1000, 10 ** 6, 10 ** 9, 2 ** 63, HUGE_INT,
                                      -(10 ** 12), 1.5, "1"])
        else:
            target[key] = _odd_value(rng, target[key])
    elif isinstance(target, list) and target:
        i = rng.randrange(len(target))
        if kind < 0.25:
            del target[i]
        elif kind < 0.45:
            target.insert(rng.randrange(len(target) + 1), copy.deepcopy(target[i]))
        elif kind < 0.55:
            rng.shuffle(target)
        else:
            target[i] = _odd_value(rng, target[i])
    else:
        # an empty container: give it something
        if isinstance(target, dict):
            target[rng.choice(["x", "id", "type", "params", "nodes"])] = _odd_value(rng, None)
        else:
            target.append(_odd_value(rng, None))
    return data


def mutate_text(text: str, rng: random.Random) -> str:
    """A mutation JSON parsers see: truncation, odd number tokens, duplicated keys, nesting."""
    kind = rng.random()
    if kind < 0.15:
        return text[:rng.randrange(len(text))]
    if kind < 0.6:
        # replace one number token by one that JSON allows (or Python's json accepts)
        spots = [i for i, c in enumerate(text) if c.isdigit() and text[i - 1] in " [:-"]
        if spots:
            i = rng.choice(spots)
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] in ".eE+-"):
                j += 1
            return text[:i] + rng.choice(TEXT_TOKENS) + text[j:]
        return text
    if kind < 0.8:
        # a duplicated key: the last one wins in Python's json
        i = text.find('"', rng.randrange(len(text)))
        if i < 0:
            return text
        j = text.find('"', i + 1)
        key = text[i:j + 1]
        if text[j + 1:j + 2] == ":":
            return text[:i] + f"{key}: null, " + text[i:]
        return text
    depth = rng.choice([100, 3000, 100_000])
    i = text.find("{", 1)
    return text[:i] + '"deep": ' + "[" * depth + "]" * depth + ", " + text[i + 1:] \
        if i > 0 else text


def mutants(seed: int, count: int):
    """`count` mutated projects; a file's name says its seed and number (to reproduce it)."""
    samples = sample_data()
    rng = random.Random(seed)
    for k in range(count):
        name, data = rng.choice(samples)
        data = copy.deepcopy(data)
        for _ in range(rng.choice([1, 1, 2, 3])):
            before = copy.deepcopy(data)
            try:
                mutate_data(data, rng)
                json.dumps(data)
            except (TypeError, ValueError, OverflowError, RecursionError):
                # the mutator's own limits (a value it cannot combine or serialise), not the
                # program's: drop that one mutation, keep the file
                data = before
        text = json.dumps(data, indent=1)
        if rng.random() < 0.25:
            text = mutate_text(text, rng)
        yield f"{name}-s{seed}-n{k}", text
