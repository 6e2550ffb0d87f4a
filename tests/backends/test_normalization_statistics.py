"""Normalization's statistics: fitted on the training split before training, on both backends,
kept when the starting weights bring them (an imported model's adapted ones)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from netdesigner.backends.statistics import (fit_statistics, given_statistics,  # noqa: E402
                                             moments)
from netdesigner.graph import Graph  # noqa: E402


def design(deep: bool = False, axis=-1) -> Graph:
    """x (4,) -> [Dense(3) ->] Normalization -> Dense(2, softmax)."""
    g = Graph()
    g.add_node("Input", {"shape": (4,)}, node_id="x")
    last = "x"
    if deep:
        g.add_node("Dense", {"units": 3}, node_id="before")
        g.connect("x", 0, "before", 0)
        last = "before"
    g.add_node("Normalization", {"axis": axis}, node_id="norm")
    g.connect(last, 0, "norm", 0)
    g.add_node("Dense", {"units": 2, "activation": "softmax"}, node_id="out")
    g.connect("norm", 0, "out", 0)
    g.training.update({"epochs": 1, "batch_size": 16, "loss": "categorical_crossentropy",
                       "optimizer": "sgd", "optimizer_params": {"learning_rate": 0.0}})
    return g


def data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(0, 1, (n, 4)) * [1, 10, 0.1, 3] + [5, -2, 100, 0]).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, n)]
    return x, y


def test_moments_are_the_population_statistics_per_kept_axis_in_any_chunking():
    rng = np.random.default_rng(1)
    x = rng.normal(3, 2, (37, 5, 4)) + 1e4             # a large offset loses nothing
    for axis, reduce in ((-1, (0, 1)), (1, (0, 2)), (None, None)):
        whole = moments([x], {"axis": axis})
        parts = moments([x[:10], x[10:11], x[11:]], {"axis": axis})
        np.testing.assert_allclose(whole["mean"], x.mean(axis=reduce), rtol=1e-12)
        np.testing.assert_allclose(whole["variance"], x.var(axis=reduce), rtol=1e-7)
        for k in whole:
            np.testing.assert_allclose(parts[k], whole[k], rtol=1e-7)
    assert int(moments([x], {"axis": -1})["count"]) == 37 * 5


def test_statistics_agree_with_keras_adapt():
    x, _ = data()
    layer = keras.layers.Normalization(axis=-1)
    layer.adapt(x)
    ours = fit_statistics(design(), [x])
    np.testing.assert_allclose(ours["norm/mean"], layer.mean.numpy().ravel(), rtol=1e-5)
    np.testing.assert_allclose(ours["norm/variance"], layer.variance.numpy().ravel(),
                               rtol=1e-4)


def test_numpy_training_fits_them_first_and_keeps_given_ones():
    from netdesigner.backends.numpy.train import fit
    x, y = data()
    result = fit(design(), (x, y), stats_every=0)
    w = result.model.get_weights()
    np.testing.assert_allclose(w["norm/mean"], x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(w["norm/variance"], x.var(axis=0), rtol=1e-4)
    # starting weights that bring statistics (an imported model's): kept as they are
    given = dict(w, **{"norm/mean": np.full(4, 7.0, np.float32)})
    assert given_statistics(design(), given) == {"norm"}
    again = fit(design(), (x, y), initial_weights=given, stats_every=0)
    np.testing.assert_array_equal(again.model.get_weights()["norm/mean"], np.full(4, 7.0))


def test_a_normalization_behind_a_layer_sees_that_layers_output_on_both_backends():
    from netdesigner.backends.keras.compiler import compile_graph
    from netdesigner.backends.keras.train import fit_normalizations as keras_fit
    from netdesigner.backends.numpy.model import compile_graph as numpy_compile
    from netdesigner.backends.numpy.train import fit_normalizations as numpy_fit
    x, y = data()
    g = design(deep=True)
    ours = numpy_fit(numpy_compile(g), (x, y))
    model = compile_graph(g, compile=False)
    theirs = keras_fit(model, g, [x])
    w = model.get_layer("before").get_weights()
    hidden = x @ w[0] + w[1]
    np.testing.assert_allclose(ours["norm/mean"], hidden.mean(axis=0), rtol=1e-4, atol=1e-5)
    for k in ours:
        np.testing.assert_allclose(theirs[k], ours[k], rtol=1e-4, atol=1e-5)
    # the Keras layer computes with the loaded statistics
    out = np.asarray(keras.Model(model.inputs, model.get_layer("norm").output)([x]))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)


@pytest.mark.long
def test_keras_training_fits_them_first():
    from netdesigner.backends.keras.train import fit
    from netdesigner.backends.keras.weights import get_weights
    x, y = data()
    result = fit(design(axis=None), (x, y), stats_every=0)
    w = get_weights(result.model)
    np.testing.assert_allclose(w["norm/mean"], x.mean(), rtol=1e-5)
    np.testing.assert_allclose(w["norm/variance"], x.var(), rtol=1e-4)


@pytest.mark.long
def test_the_exported_script_fits_them_before_training_from_scratch(tmp_path):
    import importlib.util

    from netdesigner.backends.export.script import script_source
    g = design(deep=True)
    path = tmp_path / "net.py"
    path.write_text(script_source(g))
    spec = importlib.util.spec_from_file_location("exported_norm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x, y = data()
    model = module.train(x=x, y=y, epochs=1, weights=None)
    # the design trains with learning rate 0: what the layer receives is what it was fitted on
    hidden = keras.Model(model.inputs, model.get_layer("norm").input).predict(x, verbose=0)
    layer = model.get_layer("norm")
    np.testing.assert_allclose(layer.adapt_mean.numpy(), hidden.mean(axis=0), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), hidden.var(axis=0), rtol=1e-3,
                               atol=1e-5)


def test_an_imported_adapted_normalization_keeps_its_statistics(tmp_path):
    from netdesigner.backends.keras.importer import ImportProblem, import_with_weights
    x, _ = data()
    inp = keras.Input((4,), name="x")
    layer = keras.layers.Normalization(name="norm")
    layer.adapt(x)
    graph, values = import_with_weights(keras.Model(inp, keras.layers.Dense(2)(layer(inp))))
    np.testing.assert_allclose(values["norm/mean"], x.mean(axis=0), rtol=1e-5)
    path = tmp_path / "imported.weights.npz"
    np.savez(path, **values)
    # training from the imported weights (the file the designer trains from) keeps them
    assert given_statistics(graph, weights_in=path) == {"norm"}
    assert given_statistics(graph) == set()
    # statistics given in the config (not adapted) become the weights; a one-sided range is
    # refused by name
    given = keras.Model(inp, keras.layers.Normalization(mean=[1.0, 2.0, 3.0, 4.0],
                                                        variance=[4.0] * 4, name="given")(inp))
    graph, values = import_with_weights(given)
    from netdesigner.backends.numpy.model import compile_graph
    model = compile_graph(graph)
    model.set_weights(values)
    np.testing.assert_allclose(model.forward([x])[0], np.asarray(given(x)), rtol=1e-6)
    y = keras.layers.RandomRotation((0.0, 0.2), name="one_way")(keras.layers.Reshape((2, 2, 1))(inp))
    with pytest.raises(ImportProblem) as info:
        import_with_weights(keras.Model(inp, y))
    assert [k.split(" (")[0] for k in info.value.unsupported] == [
        "RandomRotation with factor=(0.0, 0.2)"]
