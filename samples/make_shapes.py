"""Writes samples/shapes/: 16x16 grey PNGs of circles, squares and triangles (200 of each, one
sub-folder per class), the image folder `image_folder_shapes.graph` trains on. The folder is
kept in the repository (about 150 KB); this script makes it again, byte for byte (seeded;
`tests/test_samples.py` checks that it does).

    python samples/make_shapes.py [FOLDER]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SIZE, PER_CLASS = 16, 200
CLASSES = ("circle", "square", "triangle")


def shape_image(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One picture: a bright filled shape of random size and place on a dark, noisy ground."""
    r = rng.uniform(4.5, 7.0)
    cy, cx = rng.uniform(r, SIZE - r, 2)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    if kind == "circle":
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2
    elif kind == "square":
        inside = (np.abs(yy - cy) <= r * 0.8) & (np.abs(xx - cx) <= r * 0.8)
    else:                                   # a triangle pointing up
        top, bottom = cy - r, cy + r * 0.8
        half = (yy - top) / (bottom - top) * r
        inside = (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
    image = rng.integers(0, 50, (SIZE, SIZE))
    image[inside] = rng.integers(180, 256)
    return image.astype(np.uint8)


def make(folder: Path, seed: int = 0) -> Path:
    from PIL import Image
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for i in range(PER_CLASS):
            Image.fromarray(shape_image(kind, rng), "L").save(folder / kind / f"{i:03d}.png",
                                                              optimize=False)
    return folder


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "shapes")
