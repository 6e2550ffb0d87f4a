"""The starting weights of a design: one seeded draw that both backends start from.

    weights = initial_weights(flat_graph, seed)        # {"node/name": array}

The NumPy backend allocates its model from them (`backends.numpy.model`) and the Keras backend
loads them into the model it compiles (`backends.keras.compiler.compile_graph`), so the same
design and seed start from the same point on both backends and their curves can be compared
from the first batch. Before, each backend drew its own: Keras's initialisers from Keras's
seeded generator, NumPy's from a NumPy one — same distributions, different numbers.

The weights are drawn by the NumPy kernels' weight factories (`registry.make_weights`), which
follow Keras's default initialisers (`backends/numpy/initializers.py`: Glorot-uniform kernels,
orthogonal recurrent kernels, zero biases, an LSTM's forget bias at 1, ...), from one
`numpy.random.default_rng(seed)` consumed layer by layer in topological order. Every catalog
layer type has a NumPy kernel; one without weights draws nothing.

Pure NumPy: importing this module loads no TensorFlow.
"""
from __future__ import annotations

import numpy as np

from netdesigner.graph import Analysis, Graph

from .numpy import registry


def initial_weights(flat: Graph, seed: int, dtype=np.float32) -> dict:
    """Fresh weights of a flat (blocks expanded), valid design: {"node/name": array}, node by
    node in topological order and, within a node, in the order Keras's `layer.get_weights()`
    lists them (the order both backends load)."""
    analysis = Analysis(flat, live=False)
    rng = np.random.default_rng(int(seed))
    out = {}
    for n in flat.topological_order():
        node = flat.node(n)
        if node.type == "Input":
            continue
        made = registry.make_weights(node.type, node.params, analysis.report(n).inputs or [],
                                     rng, dtype)
        out.update({f"{n}/{name}": w for name, w in made.items()})
    return out
