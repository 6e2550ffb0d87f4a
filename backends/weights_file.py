"""The `.npz` weights file both backends read and write.

One array per weight under `node/weight_name` (`dense_1/kernel`, `block_1__2__bn_a/moving_mean`),
layer by layer in the order Keras's `layer.get_weights()` lists them, so a file written by
either backend loads into the other.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_npz(weights: dict, path) -> Path:
    """Write {"node/name": array} atomically: a temporary file, then a rename over `path`."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **weights)
    tmp.replace(path)
    return path


def read_npz(path) -> dict:
    """{"node/name": array} from an `.npz` file; a clear error for anything else."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read weights ({e})") from None


def weights_path(project: str | Path) -> Path:
    """Trained weights live beside the project: net.graph -> net.weights.npz."""
    project = Path(project)
    return project.with_name(project.stem + ".weights.npz")
