"""Generated data for the streaming tests and bench/data_pipeline.py: an image folder of small
grey PNGs (one sub-folder per class) and a CSV file, written with NumPy and Pillow."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from netdesigner.graph import Graph


def image_folder(root: Path, n: int, classes: int = 10, size: int = 16, seed: int = 0,
                 colour: bool = False) -> Path:
    """`n` size x size PNGs (grey, or RGB with `colour`) in `classes` sub-folders: class k
    is a bright bar at row position k (learnable), plus noise."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    labels = rng.integers(0, classes, n)
    for k in range(classes):
        (root / f"class_{k}").mkdir(exist_ok=True)
    shape = (size, size, 3) if colour else (size, size)
    for i, k in enumerate(labels):
        img = rng.integers(0, 60, shape, dtype=np.uint8)
        row = int(k) * size // classes
        img[row:row + max(1, size // classes), :] = 255
        Image.fromarray(img, "RGB" if colour else "L").save(root / f"class_{k}" / f"{i:06d}.png")
    return root


def csv_file(path: Path, rows: int, features: int = 8, classes: int = 3, seed: int = 0,
             chunk: int = 100_000) -> Path:
    """A CSV file of `rows` rows: small whole-number features and a text label (c0, c1, ...)
    that depends on the first two of them."""
    rng = np.random.default_rng(seed)
    with path.open("w") as f:
        f.write(",".join(f"f{j}" for j in range(features)) + ",label\n")
        for start in range(0, rows, chunk):
            k = min(chunk, rows - start)
            x = rng.integers(0, 10, (k, features))
            y = (x[:, 0] + x[:, 1]) % classes
            cells = np.char.add(x.astype("U1"), ",")
            lines = ["".join(r) + f"c{c}\n" for r, c in zip(cells, y)]
            f.writelines(lines)
    return path


def mlp(input_shape: tuple, classes: int, settings: dict, hidden: int = 16) -> Graph:
    """Input -> (Flatten) -> Dense(hidden, relu) -> Dense(classes, softmax)."""
    g = Graph()
    last = g.add_node("Input", {"shape": list(input_shape)})
    if len(input_shape) > 1:
        flat = g.add_node("Flatten")
        g.connect(last, 0, flat, 0)
        last = flat
    for units, act in ((hidden, "relu"), (classes, "softmax")):
        node = g.add_node("Dense", {"units": units, "activation": act})
        g.connect(last, 0, node, 0)
        last = node
    g.training.update(settings)
    return g


def cnn(input_shape: tuple, classes: int, settings: dict, filters: int = 32) -> Graph:
    """Input -> Conv2D(filters, 3x3, relu) -> MaxPooling2D -> Conv2D -> MaxPooling2D ->
    Flatten -> Dense(classes, softmax): a model whose steps cost more than reading a batch."""
    g = Graph()
    last = g.add_node("Input", {"shape": list(input_shape)})
    for kind, params in (("Conv2D", {"filters": filters, "kernel_size": [3, 3],
                                     "padding": "same", "activation": "relu"}),
                         ("MaxPooling2D", {}),
                         ("Conv2D", {"filters": filters, "kernel_size": [3, 3],
                                     "padding": "same", "activation": "relu"}),
                         ("MaxPooling2D", {}), ("Flatten", {}),
                         ("Dense", {"units": classes, "activation": "softmax"})):
        node = g.add_node(kind, params)
        g.connect(last, 0, node, 0)
        last = node
    g.training.update(settings)
    return g

