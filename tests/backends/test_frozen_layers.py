"""Frozen layers (the `trainable` parameter): declared once, counted as non-trainable, left
alone by both backends' optimizers in the same way, written to exports and read from imports."""
from __future__ import annotations

import json
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from netdesigner.backends.numpy.model import compile_graph  # noqa: E402
from netdesigner.backends.numpy.train import Trainer  # noqa: E402
from netdesigner.graph import CATALOG, Analysis, Graph, fileformat  # noqa: E402
from netdesigner.graph.params import TRAINABLE_PARAM  # noqa: E402


def test_every_type_with_weights_has_the_one_trainable_param():
    for t in CATALOG:
        if t.type_id == "Block":                # its layers have their own
            assert "trainable" not in t.params
        elif t.has_weights:
            assert t.params["trainable"] is TRAINABLE_PARAM, t.type_id
        else:
            assert "trainable" not in t.params, t.type_id
    assert TRAINABLE_PARAM.default is True


def frozen_mlp(**training) -> Graph:
    """x -> Dense (frozen, with an L2 penalty) -> BatchNormalization (frozen) -> softmax."""
    g = Graph()
    x = g.add_node("Input", {"shape": (6,)}, node_id="x")
    h = g.add_node("Dense", {"units": 5, "activation": "relu", "l2": 0.05, "trainable": False},
                   node_id="hidden")
    bn = g.add_node("BatchNormalization", {"trainable": False}, node_id="bn")
    y = g.add_node("Dense", {"units": 3, "activation": "softmax", "l2": 0.02}, node_id="out")
    g.connect(x, 0, h, 0)
    g.connect(h, 0, bn, 0)
    g.connect(bn, 0, y, 0)
    g.training.update(training)
    return g


def test_frozen_weights_count_as_non_trainable():
    analysis = Analysis(frozen_mlp(), live=False)
    hidden, bn, out = (analysis.report(n) for n in ("hidden", "bn", "out"))
    assert (hidden.params, hidden.trainable) == (35, 0)
    assert (bn.params, bn.trainable) == (20, 0)
    assert (out.params, out.trainable) == (18, 18)
    model = compile_graph(frozen_mlp())
    assert model.flat.size == 18 and model.count_params == 35 + 20 + 18
    assert set(model.grads) == {"out"}
    assert not any(s.regularized for s in model.steps if s.frozen)


def test_a_file_without_the_key_loads_as_trainable():
    g = Graph()
    g.add_node("Input", {"shape": (3,)}, node_id="x")
    g.add_node("Dense", {"units": 2}, node_id="d")
    g.connect("x", 0, "d", 0)
    data = json.loads(fileformat.dumps(g))
    assert data["nodes"][1]["params"].pop("trainable") is True
    loaded = fileformat.loads(json.dumps(data))
    assert loaded.node("d").params["trainable"] is True
    assert fileformat.dumps(loaded) == fileformat.dumps(g)


@pytest.mark.parametrize("optimizer, params", [("adam", {"learning_rate": 0.05}),
                                               ("sgd", {"learning_rate": 0.2, "momentum": 0.9})])
def test_both_backends_train_a_partly_frozen_network_identically(optimizer, params):
    """Three steps on the same batches: the same losses and weights on NumPy and Keras, and
    the frozen layers' weights (BatchNormalization's moving statistics too) as they were."""
    import keras
    from netdesigner.backends.numpy.weights import to_keras
    from tests.backends.numpy.keras_graph import keras_model
    g = frozen_mlp(loss="categorical_crossentropy", optimizer=optimizer,
                   optimizer_params=params)
    model = compile_graph(g)
    rng = np.random.default_rng(3)
    model.weights["bn"]["moving_mean"][...] = rng.normal(size=5)
    model.weights["bn"]["moving_variance"][...] = rng.uniform(0.5, 2.0, 5)
    before = model.get_weights()
    km = keras_model(model)
    to_keras(model, km)
    assert [v.path.split("/")[0] for v in km.trainable_variables] == ["out", "out"]
    cls = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[optimizer]
    km.compile(optimizer=cls(**params), loss="categorical_crossentropy")
    trainer = Trainer(model)
    for step in range(3):
        x = rng.normal(size=(8, 6)).astype(np.float32) * 2
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
        loss, _, _ = trainer.train_batch([x], [y])
        k_loss = km.train_on_batch(x, y)
        assert loss == pytest.approx(float(k_loss), rel=1e-5, abs=1e-6), f"step {step}"
        for node in model.weights:
            for (name, w), k in zip(model.weights[node].items(),
                                    km.get_layer(node).get_weights()):
                np.testing.assert_allclose(w, k, rtol=1e-5, atol=1e-6,
                                           err_msg=f"step {step}: {node}/{name}")
    after = model.get_weights()
    for key, value in before.items():
        if key.startswith(("hidden/", "bn/")):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
        else:
            assert not np.array_equal(after[key], value), f"{key} did not train"


def test_export_writes_and_import_reads_trainable_false():
    from netdesigner.backends.export.script import script_source
    from netdesigner.backends.keras.compiler import compile_graph as keras_compile
    from netdesigner.backends.keras.importer import import_model
    g = frozen_mlp()
    text = script_source(g)

    def statement(node):                  # `node = keras.layers.X(...)(source)`, maybe wrapped
        return re.search(rf"\n    {node} = (.*?)\)\(\w+\)\n", text, re.S).group(1)
    assert "trainable=False" in statement("hidden")
    assert "trainable=False" in statement("bn")
    assert "trainable" not in statement("out")
    imported = import_model(keras_compile(g))
    assert imported.node("hidden").params["trainable"] is False
    assert imported.node("bn").params["trainable"] is False
    assert imported.node("out").params["trainable"] is True


SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "samples")


@pytest.mark.parametrize("backend", ["numpy", "keras"])
def test_the_echo_state_reservoir_keeps_its_weights_while_the_read_out_learns(backend):
    """samples/echo_state_sine.graph: the frozen SimpleRNN reservoir ends training exactly as
    it started; the Dense read-out changes."""
    if backend == "keras":
        from netdesigner.backends.keras.train import fit
    else:
        from netdesigner.backends.numpy.train import fit
    from netdesigner.backends.jobs import prepare
    g = fileformat.load(os.path.join(SAMPLES, "echo_state_sine.graph"))
    reservoir = g.node("reservoir")
    assert reservoir.type == "SimpleRNN" and reservoir.params["trainable"] is False
    assert Analysis(g, live=False).report("reservoir").trainable == 0
    prepared = prepare(g, SAMPLES)
    flat, split = prepared.network, prepared.split
    start = compile_graph(flat).get_weights()          # the seeded random reservoir
    settings = dict(g.training, epochs=2)
    result = fit(flat, split, settings, stats_every=0, initial_weights=start)
    if backend == "keras":                              # in the NumPy backend's names
        from netdesigner.backends.numpy.weights import from_keras
        after = from_keras(result.model, compile_graph(flat))
    else:
        after = result.model.get_weights()
    assert set(after) == set(start)
    for key in start:
        if key.startswith("reservoir/"):
            np.testing.assert_array_equal(after[key], start[key], err_msg=key)
        else:
            assert not np.allclose(after[key], start[key]), f"{key} did not learn"
