"""A Keras functional model of a flat graph, for comparing whole networks (tests only).

Built layer by layer with the Keras backend's per-layer builders (`build_layer`, `call_layer`),
the layers named after the nodes, so `backends.numpy.weights.to_keras` can copy weights in.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from netdesigner.backends.keras.layers import build_layer, call_layer  # noqa: E402


def keras_model(model) -> keras.Model:
    """The Keras twin of a compiled NumPy model (same layers, names, inputs and outputs)."""
    flat = model.graph
    tensors = {}
    for step in model.steps:
        node = flat.node(step.id)
        layer = build_layer(node.type, node.params, step.id)
        ins = [tensors[(e.source, e.source_port)] for e in flat.in_edges(step.id)]
        for port, t in enumerate(call_layer(layer, node.type, ins)):
            tensors[(step.id, port)] = t
    return keras.Model([tensors[(n, 0)] for n in model.inputs],
                       [tensors[ref] for ref in model.outputs])
