"""Normalisation layers."""
from __future__ import annotations

from ..catalog import declare
from ..params import BOOL, FLOAT, Param
from ..shapes import known, require_known, size


def _per_channel(layer, weights_per_channel):
    """Parameter count of a layer holding a few weights per channel (last axis)."""
    def count(p, inputs, outputs):
        per_channel = weights_per_channel(p)
        if per_channel == 0:        # nothing to create, so the channel count may be unknown
            return 0
        return per_channel * require_known(layer, inputs[0], -1, "last (channels)")
    return count


def _bn_weights(p):       # gamma, beta (learned) + moving mean, moving variance (statistics)
    return int(p["center"]) + int(p["scale"]) + 2


declare(
    "BatchNormalization", category="Normalization",
    description="Normalises each channel with the batch's mean and variance while training "
                "(running averages at inference), then scales and shifts it. Speeds up and "
                "steadies training of deep networks.",
    params=[
        Param("momentum", FLOAT, 0.99, "How slowly the running statistics follow the batches.",
              min=0, max=1),
        Param("epsilon", FLOAT, 1e-3, "Small number added to the variance to avoid dividing "
              "by zero.", min=0, min_exclusive=True),
        Param("center", BOOL, True, "Learn a shift (beta)."),
        Param("scale", BOOL, True, "Learn a scale (gamma)."),
    ],
    shape=lambda p, inputs: [inputs[0]],
    param_count=_per_channel("BatchNormalization", _bn_weights),
    non_trainable=lambda p, i, o: 2 * i[0][-1],
    flops=lambda p, i, o: 2 * known(size(o[0])), has_weights=True,
)

declare(
    "LayerNormalization", category="Normalization",
    description="Normalises each sample over its last axis (used in Transformers and RNNs; "
                "does not depend on the batch).",
    params=[
        Param("epsilon", FLOAT, 1e-3, "Small number added to the variance.", min=0,
              min_exclusive=True),
        Param("center", BOOL, True, "Learn a shift (beta)."),
        Param("scale", BOOL, True, "Learn a scale (gamma)."),
    ],
    shape=lambda p, inputs: [inputs[0]],
    param_count=_per_channel("LayerNormalization", lambda p: int(p["center"]) + int(p["scale"])),
    flops=lambda p, i, o: 5 * known(size(o[0])), has_weights=True,
)
