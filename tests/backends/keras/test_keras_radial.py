"""The custom RBF layer on the Keras side: saved and loaded, imported back, written as code."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from netdesigner.backends.keras.compiler import compile_graph
from netdesigner.backends.keras.importer import import_with_weights
from netdesigner.backends.keras.radial import RBF
from netdesigner.graph import Graph


def rbf_design():
    g = Graph()
    x = g.add_node("Input", {"shape": (3,)}, node_id="points")
    rbf = g.add_node("RBF", {"units": 5, "gamma": 0.5, "learn_gamma": True,
                             "centers_initializer": "normal"}, node_id="bumps")
    out = g.add_node("Dense", {"units": 2, "activation": "softmax"}, node_id="out")
    g.connect(x, 0, rbf, 0)
    g.connect(rbf, 0, out, 0)
    return g


def _moved(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.uniform(0.1, 0.3, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    return model


def test_rbf_is_exp_of_minus_gamma_times_the_squared_distance():
    layer = RBF(2, gamma=0.5)
    x = np.array([[0.0, 0.0], [1.0, 2.0]], np.float32)
    layer.build(x.shape)
    layer.set_weights([np.array([[0.0, 0.0], [1.0, 0.0]], np.float32)])
    y = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(y, np.exp(-0.5 * np.array([[0.0, 1.0], [5.0, 4.0]])), rtol=1e-6)
    assert keras.saving.get_registered_object("netdesigner>RBF") is RBF
    with pytest.raises(ValueError, match="batch, features"):
        RBF(2)(keras.Input((4, 3)))


def test_a_saved_rbf_model_loads_and_imports_back(tmp_path):
    design = rbf_design()
    model = _moved(compile_graph(design))
    path = tmp_path / "rbf.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)

    graph, weights = import_with_weights(loaded)
    assert graph.node("bumps").type == "RBF"
    assert graph.node("bumps").params == design.node("bumps").params
    again = compile_graph(graph)
    from netdesigner.backends.keras.weights import set_weights
    set_weights(again, weights)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-6)


def test_the_exported_script_carries_the_rbf_class():
    from netdesigner.backends.export.script import script_source
    design = rbf_design()
    text = script_source(design)
    assert "class RBF(keras.layers.Layer):" in text
    assert "from backends" not in text and "import backends" not in text
    namespace = {"__name__": "exported"}
    registry = keras.saving.get_custom_objects()
    registered = dict(registry)
    try:        # the script registers its own RBF class under our name: put ours back after
        exec(compile(text, "exported.py", "exec"), namespace)
    finally:
        registry.clear()
        registry.update(registered)
    model = namespace["build_model"]()
    assert model.count_params() == compile_graph(design).count_params() == 5 * 3 + 5 + 12
    layer = model.get_layer("bumps")
    assert (layer.units, layer.gamma, layer.learn_gamma) == (5, 0.5, True)
