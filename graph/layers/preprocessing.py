"""Preprocessing inside the network: Normalization (statistics fitted on the training split)
and the image augmentation layers RandomFlip, RandomRotation, RandomTranslation, RandomZoom
(active while training only: at inference and evaluation they pass the image through)."""
from __future__ import annotations

from ..catalog import declare
from ..params import BOOL, CHOICE, FLOAT, INT, Param
from ..shapes import ShapeError, fmt, known, require_rank, size

# -- Normalization --------------------------------------------------------------------------


def normalization_axis(p: dict, rank: int) -> int | None:
    """The kept axis of a Normalization as an index into the input shape without the batch
    axis (Keras counts the batch as axis 0); None when one mean covers every value."""
    axis = p["axis"]
    if axis is None:
        return None
    full = axis if axis >= 0 else axis + rank + 1      # rank + 1: with the batch axis
    return full - 1


def _normalization_shape(p, inputs):
    (x,) = inputs
    if not x:
        raise ShapeError("Normalization needs an input with at least one axis besides the "
                         "batch.")
    axis = p["axis"]
    if axis is not None:
        kept = normalization_axis(p, len(x))
        if axis == 0 or kept < 0 or kept >= len(x):
            raise ShapeError(f"Normalization's axis {axis} is not an axis of its input "
                             f"{fmt(x)} (axis 0 is the batch; -1 is the last axis).")
        if x[kept] is None:
            raise ShapeError(f"Normalization keeps one mean per entry of axis {axis}, whose "
                             f"size is unknown in {fmt(x)}: give the input a fixed size there.")
    return [x]


def _normalization_count(p, inputs, outputs):
    x = inputs[0]
    kept = normalization_axis(p, len(x))
    features = 1 if kept is None else x[kept]
    return 2 * features + 1            # mean, variance per feature, and the sample count


declare(
    "Normalization", category="Preprocessing",
    description="Standardises the data inside the network: (x - mean) / sqrt(variance), one "
                "mean and variance per feature of the chosen axis. The statistics are not "
                "learned: they are fitted on the training split before training starts (as "
                "Keras's adapt() does) and saved, exported and imported with the weights.",
    params=[
        Param("axis", INT, -1, "The axis that keeps its own statistics (Keras counts the batch "
              "as axis 0; -1 is the last axis, the features or channels). Empty: one mean and "
              "variance for all values.", min=-16, max=16, optional=True),
        Param("invert", BOOL, False, "Undo the normalisation instead: mean + x * std (for "
              "outputs predicted in normalised units)."),
    ],
    shape=_normalization_shape, param_count=_normalization_count,
    non_trainable=_normalization_count, has_weights=True,
    flops=lambda p, i, o: 2 * known(size(i[0])),
)

# -- augmentation ----------------------------------------------------------------------------

_IMAGE = "(height, width, channels)"
_IMAGE_HINT = "augmentation layers transform images; put them right after an image Input."


def _image_shape(type_id):
    def shape(p, inputs):
        (x,) = inputs
        require_rank(type_id, x, 3, _IMAGE, _IMAGE_HINT)
        return [x]
    return shape


def _seed_param():
    return Param("seed", INT, None, "Seed of the Keras layer's random draws (empty: from the "
                 "training seed). The NumPy backend draws from the training seed either way: "
                 "runs are reproducible on both.", min=0, max=2**31 - 1, optional=True)


def _resampling_params():
    return [
        Param("fill_mode", CHOICE, "reflect", "How points outside the image are filled: reflect "
              "(mirror at the edge), wrap, constant (fill_value) or nearest (edge pixel).",
              choices=("reflect", "wrap", "constant", "nearest")),
        Param("interpolation", CHOICE, "bilinear", "How a pixel between grid points is read.",
              choices=("bilinear", "nearest")),
        Param("fill_value", FLOAT, 0.0, "The value outside the image with fill_mode constant."),
        _seed_param(),
    ]


declare(
    "RandomFlip", category="Preprocessing",
    description="While training, mirrors each image left-right and/or upside down at random "
                "(each with probability 1/2). At inference it passes the image through.",
    params=[Param("mode", CHOICE, "horizontal_and_vertical", "Which flips may happen.",
                  choices=("horizontal_and_vertical", "horizontal", "vertical")),
            _seed_param()],
    shape=_image_shape("RandomFlip"), flops=lambda p, i, o: 0,
)

declare(
    "RandomRotation", category="Preprocessing",
    description="While training, rotates each image about its centre by a random angle in "
                "[-factor, factor] x 360 degrees. At inference it passes the image through.",
    params=[Param("factor", FLOAT, 0.1, "Largest rotation as a fraction of a full turn "
                  "(0.1: up to 36 degrees either way).", min=0, max=1),
            *_resampling_params()],
    shape=_image_shape("RandomRotation"), flops=lambda p, i, o: 8 * known(size(o[0])),
)

declare(
    "RandomTranslation", category="Preprocessing",
    description="While training, shifts each image by a random fraction of its height and "
                "width. At inference it passes the image through.",
    params=[Param("height_factor", FLOAT, 0.1, "Largest vertical shift as a fraction of the "
                  "height.", min=0, max=1),
            Param("width_factor", FLOAT, 0.1, "Largest horizontal shift as a fraction of the "
                  "width.", min=0, max=1),
            *_resampling_params()],
    shape=_image_shape("RandomTranslation"), flops=lambda p, i, o: 8 * known(size(o[0])),
)

declare(
    "RandomZoom", category="Preprocessing",
    description="While training, zooms each image in or out by a random amount (positive "
                "factors zoom out, negative in). At inference it passes the image through.",
    params=[Param("height_factor", FLOAT, 0.1, "Largest vertical zoom as a fraction "
                  "(0.2: from 20% in to 20% out).", min=0, max=1, max_exclusive=True),
            Param("width_factor", FLOAT, None, "Largest horizontal zoom; empty: the vertical "
                  "draw, so the aspect ratio is kept.", min=0, max=1, max_exclusive=True,
                  optional=True),
            *_resampling_params()],
    shape=_image_shape("RandomZoom"), flops=lambda p, i, o: 8 * known(size(o[0])),
)
