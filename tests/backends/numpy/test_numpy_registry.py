"""The registry, weight creation, and agreement with the catalog's shape and parameter rules."""
from __future__ import annotations

import math

import numpy as np
import pytest

import netdesigner.backends.numpy as nb
from netdesigner.backends.numpy import initializers as init
from netdesigner.backends.numpy import registry
from netdesigner.graph import CATALOG
from tests.backends.numpy.numpy_backend_cases import CASES, TRAINING_CASES


def test_every_catalog_type_has_a_kernel_or_a_reason():
    missing = [t for t in CATALOG.ids() if t not in registry.KERNELS
               and t not in registry.NOT_SUPPORTED]
    assert missing == []
    assert set(registry.KERNELS).isdisjoint(registry.NOT_SUPPORTED)
    assert set(registry.NOT_SUPPORTED) <= set(CATALOG.ids())
    assert "Block" in registry.NOT_SUPPORTED
    assert all(reason.strip() for reason in registry.NOT_SUPPORTED.values())
    assert set(nb.coverage().values()) <= {"kernel"} | set(registry.NOT_SUPPORTED.values())


def test_every_kernel_is_tested_against_keras_and_finite_differences():
    tested = {c.type_id for c in CASES}
    assert set(registry.KERNELS) - tested == {"Input"}        # Input is tested below


def test_registering_twice_is_refused():
    class Again:
        def forward(x, weights, params, training):
            return x, None

        def backward(dy, cache):
            return dy, {}

    before = registry.KERNELS["Dense"]
    with pytest.raises(ValueError, match="twice"):
        registry.register("Dense")(Again)
    assert registry.KERNELS["Dense"] is before


def test_registering_a_not_supported_type_is_refused():
    with pytest.raises(ValueError, match="not supported"):
        registry.register("Block")(type("Block", (), {"forward": None, "backward": None}))


def test_unknown_types_are_refused():
    with pytest.raises(KeyError, match="unknown"):
        registry.register("Conv4D")
    with pytest.raises(KeyError, match="unknown"):
        registry.get("Conv4D")
    with pytest.raises(KeyError, match="Block"):
        registry.get("Block")
    with pytest.raises(KeyError):
        registry.forward("Conv4D", [np.zeros((1, 2))], {}, {})


@pytest.mark.parametrize("case", CASES + TRAINING_CASES, ids=str)
def test_shapes_and_weight_counts_agree_with_the_catalog(case):
    """Our output shapes are the catalog's inferred shapes; our weights hold as many numbers
    as the catalog's parameter count, the non-trainable ones as many as it says."""
    layer = CATALOG[case.type_id]
    inferred = layer.infer(case.full_params(), [s[1:] for s in case.shapes])
    rng = np.random.default_rng(0)
    weights = case.weights(rng, np.float32)
    outs, _ = registry.forward(case.type_id, case.inputs(rng, np.float32), weights,
                               case.params, case.training, rng=0)
    assert [o.shape[1:] for o in outs] == [tuple(s) for s in inferred.outputs]
    assert len(outs) == layer.output_count(case.full_params())
    assert sum(w.size for w in weights.values()) == inferred.params
    state = registry.get(case.type_id).state
    assert sum(weights[n].size for n in state) == inferred.params - inferred.trainable


def test_input_passes_the_batch_through_in_its_dtype():
    x = np.arange(6).reshape(2, 3)
    (y,), cache = registry.forward("Input", [x], {}, {"shape": (3,), "dtype": "float32"})
    assert y.dtype == np.float32 and np.array_equal(y, x)
    (dx,), grads = registry.backward([np.ones((2, 3), np.float32)], cache)
    assert np.array_equal(dx, np.ones((2, 3))) and grads == {}
    (ids,), _ = registry.forward("Input", [x.astype(float)], {}, {"shape": (3,),
                                                                  "dtype": "int32"})
    assert ids.dtype == np.int32


def test_missing_params_take_the_catalog_defaults():
    x = np.ones((2, 5), np.float32)
    w = registry.make_weights("Dense", {}, [(5,)], rng=0)
    assert w["kernel"].shape == (5, 32)                        # units defaults to 32
    (y,), _ = registry.forward("Dense", [x], w, {})
    assert y.shape == (2, 32)


# -- initialisers -----------------------------------------------------------------------------

def test_weights_are_float32_by_default_and_float64_on_request():
    w32 = registry.make_weights("Conv2D", {"filters": 4}, [(8, 8, 3)], rng=0)
    w64 = registry.make_weights("Conv2D", {"filters": 4}, [(8, 8, 3)], rng=0, dtype=np.float64)
    assert {w.dtype for w in w32.values()} == {np.dtype(np.float32)}
    assert {w.dtype for w in w64.values()} == {np.dtype(np.float64)}
    np.testing.assert_allclose(w32["kernel"], w64["kernel"], rtol=1e-6)


def test_same_seed_same_weights():
    a = registry.make_weights("LSTM", {"units": 4}, [(5, 3)], rng=7)
    b = registry.make_weights("LSTM", {"units": 4}, [(5, 3)], rng=7)
    c = registry.make_weights("LSTM", {"units": 4}, [(5, 3)], rng=8)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["kernel"], c["kernel"])


def test_glorot_uniform_limits():
    w = registry.make_weights("Conv2D", {"filters": 8, "kernel_size": (3, 3)}, [(9, 9, 4)],
                              rng=0)
    limit = math.sqrt(6 / (9 * 4 + 9 * 8))
    assert w["kernel"].shape == (3, 3, 4, 8)
    assert np.abs(w["kernel"]).max() <= limit
    assert np.abs(w["kernel"]).max() > 0.9 * limit
    assert not w["bias"].any()


def test_recurrent_weights_follow_keras():
    lstm = registry.make_weights("LSTM", {"units": 3}, [(5, 4)], rng=0)
    assert [(k, v.shape) for k, v in lstm.items()] == [
        ("kernel", (4, 12)), ("recurrent_kernel", (3, 12)), ("bias", (12,))]
    np.testing.assert_array_equal(lstm["bias"], [0] * 3 + [1] * 3 + [0] * 6)  # forget gate: 1
    u = lstm["recurrent_kernel"]
    np.testing.assert_allclose(u @ u.T, np.eye(3), atol=1e-5)                   # orthogonal
    gru = registry.make_weights("GRU", {"units": 3}, [(5, 4)], rng=0)
    assert gru["bias"].shape == (2, 9)
    gru_before = registry.make_weights("GRU", {"units": 3, "reset_after": False}, [(5, 4)], rng=0)
    assert gru_before["bias"].shape == (9,)
    rnn = registry.make_weights("SimpleRNN", {"units": 6}, [(5, 2)], rng=0)
    np.testing.assert_allclose(rnn["recurrent_kernel"].T @ rnn["recurrent_kernel"], np.eye(6),
                               atol=1e-5)


def test_orthogonal_tall_and_wide():
    rng = np.random.default_rng(0)
    tall = init.orthogonal((6, 3), rng)
    np.testing.assert_allclose(tall.T @ tall, np.eye(3), atol=1e-5)
    wide = init.orthogonal((3, 6), rng)
    np.testing.assert_allclose(wide @ wide.T, np.eye(3), atol=1e-5)


def test_normalization_and_embedding_weights():
    bn = registry.make_weights("BatchNormalization", {}, [(4, 4, 3)], rng=0)
    assert list(bn) == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert (bn["gamma"] == 1).all() and (bn["moving_variance"] == 1).all()
    assert not bn["beta"].any() and not bn["moving_mean"].any()
    assert list(registry.make_weights("BatchNormalization", {"scale": False}, [(3,)])) == [
        "beta", "moving_mean", "moving_variance"]
    emb = registry.make_weights("Embedding", {"input_dim": 50, "output_dim": 4}, [(7,)], rng=0)
    assert emb["embeddings"].shape == (50, 4) and np.abs(emb["embeddings"]).max() <= 0.05
    prelu = registry.make_weights("Activation", {"activation": "prelu"}, [(3, 4)])
    assert prelu["alpha"].shape == (3, 4) and not prelu["alpha"].any()
    assert registry.make_weights("Activation", {"activation": "relu"}, [(3, 4)]) == {}
    assert registry.make_weights("Flatten", {}, [(3, 4)]) == {}


def test_mask_zero_is_refused_by_name_rather_than_ignored():
    from netdesigner.backends.numpy.model import CompileError, compile_graph
    from netdesigner.graph.model import Graph
    g = Graph()
    i = g.add_node("Input", {"shape": (5,), "dtype": "int32"})
    e = g.add_node("Embedding", {"input_dim": 10, "output_dim": 3, "mask_zero": True})
    r = g.add_node("LSTM", {"units": 2})
    g.connect(i, 0, e, 0)
    g.connect(e, 0, r, 0)
    with pytest.raises(CompileError, match=rf"{e}: mask_zero is not supported"):
        compile_graph(g)
    g.set_param(e, "mask_zero", False)
    compile_graph(g)
