"""Radial-basis layers: RBF, the Gaussian hidden layer of an RBF network."""
from __future__ import annotations

from ..catalog import declare
from ..params import BOOL, CHOICE, FLOAT, INT, Param
from ..shapes import known, require_known, require_rank

#: how the centres start: uniform in [-1, 1] or standard normal (per coordinate); both suit
#: inputs scaled to about that range (min-max or standardised)
CENTER_INITIALIZERS = ("uniform", "normal")


def _rbf_shape(p, inputs):
    (x,) = inputs
    require_rank("RBF", x, 1, "(features,)",
                 "it measures distances between feature vectors; add a Flatten before it.")
    require_known("RBF", x, -1, "last (features)")
    return [(p["units"],)]


def _rbf_params(p, inputs, outputs):
    return p["units"] * inputs[0][-1] + (p["units"] if p["learn_gamma"] else 0)


declare(
    "RBF", category="Core",
    description="Gaussian radial-basis units: unit j outputs exp(-gamma * |x - c_j|^2), 1 at "
                "its centre c_j and falling towards 0 with the distance from it.",
    params=[
        Param("units", INT, 16, "Number of centres (radial-basis units).", min=1,
              max=1_000_000),
        Param("gamma", FLOAT, 1.0, "Sharpness: 1 / (2 * width^2). Larger values make each "
              "unit respond only close to its centre.", min=0, min_exclusive=True),
        Param("learn_gamma", BOOL, False, "Learn one gamma per unit (starting from the value "
              "above) instead of keeping it fixed."),
        Param("centers_initializer", CHOICE, "uniform", "How the centres start: uniform in "
              "[-1, 1] or standard normal. Scale the data to about that range.",
              choices=CENTER_INITIALIZERS),
    ],
    shape=_rbf_shape, param_count=_rbf_params, has_weights=True,
    flops=lambda p, i, o: (3 * known(i[0][-1]) + 2) * p["units"],
    doc="An RBF network classifies by closeness to learned prototypes: each unit is a bump "
        "around its centre, and a Dense layer after it weighs the bumps. The centres move "
        "during training like any other weight.",
)
