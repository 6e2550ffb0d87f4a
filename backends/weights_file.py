"""The `.npz` weights file both backends read and write.

One array per weight under `node/weight_name` (`dense_1/kernel`, `block_1__2__bn_a/moving_mean`),
layer by layer in the order Keras's `layer.get_weights()` lists them, so a file written by
either backend loads into the other.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def write_npz(weights: dict, path) -> Path:
    """Write {"node/name": array} atomically: a temporary file, then a rename over `path`."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **weights)
    tmp.replace(path)
    return path


#: a recurrent layer's weight as files written before the names were settled held it: Keras's
#: variable path flattened (`gru/gru_cell_kernel`, from an import or a Keras run); both
#: backends name it `gru/kernel`
_LEGACY_RECURRENT = re.compile(r"^(?P<node>.+)/(?:simple_rnn|lstm|gru)_cell_"
                               r"(?P<name>kernel|recurrent_kernel|bias)$")


def current_name(key: str) -> str:
    """The weight key as both backends name it today (`gru/gru_cell_kernel` -> `gru/kernel`)."""
    m = _LEGACY_RECURRENT.match(key)
    return f"{m['node']}/{m['name']}" if m else key


def read_npz(path) -> dict:
    """{"node/name": array} from an `.npz` file (older recurrent names read as today's); a
    clear error for anything else."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            out = {current_name(k): data[k] for k in data.files}
            if len(out) != len(data.files):
                raise ValueError("it holds a weight under both its old and its new name")
            return out
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read weights ({e})") from None


def weights_path(project: str | Path) -> Path:
    """Trained weights live beside the project: net.graph -> net.weights.npz."""
    project = Path(project)
    return project.with_name(project.stem + ".weights.npz")

