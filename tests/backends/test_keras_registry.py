"""The Keras builder registry covers the catalog, maps every parameter, and applies layers."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from netdesigner.backends.keras.layers import (KERAS_BUILDERS, NOT_BUILT, Sampling, build_layer,  # noqa: E402
                                   builds, call_layer, regularizer)
from netdesigner.graph import CATALOG  # noqa: E402
from netdesigner.graph.params import BOOL, CHOICE, FLOAT, INT, INT_TUPLE, SHAPE  # noqa: E402

BUILT = sorted(KERAS_BUILDERS)


def test_registry_covers_the_catalog():
    assert set(KERAS_BUILDERS) | set(NOT_BUILT) == set(CATALOG.ids())
    assert not set(KERAS_BUILDERS) & set(NOT_BUILT)
    assert all(reason.strip() for reason in NOT_BUILT.values())


def test_registering_a_type_twice_raises():
    before = KERAS_BUILDERS["Dense"]
    with pytest.raises(ValueError, match="twice"):
        builds("Dense")(lambda p, name: None)
    assert KERAS_BUILDERS["Dense"] is before


def test_registering_an_unknown_or_unbuilt_type_raises():
    with pytest.raises(ValueError, match="not a layer type"):
        builds("NoSuchLayer")
    with pytest.raises(ValueError, match="not built"):
        builds("Block")
    with pytest.raises(KeyError, match="expanded by the compiler"):
        build_layer("Block", {"block": "res", "repeat": 1}, "block_1")


@pytest.mark.parametrize("type_id", BUILT)
def test_every_builder_accepts_the_default_params(type_id):
    layer = KERAS_BUILDERS[type_id](CATALOG[type_id].default_params(), "node_1")
    assert isinstance(layer, keras.layers.Layer)
    assert layer.name == "node_1"
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer)


# -- every parameter reaches Keras ------------------------------------------------------------

# parameters that only matter together with another setting
CONTEXT = {
    ("Activation", "negative_slope"): {"activation": "leaky_relu"},
    ("Activation", "alpha"): {"activation": "elu"},
    ("Bidirectional", "reset_after"): {"layer": "GRU"},
}


def _other_value(spec, value):
    """An allowed value different from `value`."""
    if value is None:
        if spec.kind == INT:
            candidates = [int(spec.min or 1), int(spec.min or 1) + 1]
        elif spec.kind == FLOAT:
            candidates = [0.1, 0.5]
        else:
            n = spec.length if isinstance(spec.length, int) else (spec.length or (1,))[0]
            candidates = [(1,) * n, (3,) * n]
    elif spec.kind == BOOL:
        candidates = [not value]
    elif spec.kind == CHOICE:
        candidates = [c for c in spec.choices if c != value]
    elif spec.kind == INT:
        candidates = [value + 1, value - 1]
    elif spec.kind == FLOAT:
        candidates = [value / 2, value * 2, 0.1, 0.5, 0.0]
    elif spec.kind == INT_TUPLE:
        candidates = [value[::-1], tuple(v + 1 for v in value), tuple(v - 1 for v in value)]
    elif spec.kind == SHAPE:
        candidates = [(1,) + tuple(value), tuple(value) + (1,)]
    else:
        candidates = []
    for c in candidates:
        if c != value and spec.check(c) is None:
            return c
    raise AssertionError(f"no other value for {spec.name}")


def _config(layer):
    return (type(layer).__name__, keras.saving.serialize_keras_object(layer))


PARAMS = [(t, spec.name) for t in BUILT for spec in CATALOG[t].params]


@pytest.mark.parametrize("type_id, name", PARAMS, ids=[f"{t}.{n}" for t, n in PARAMS])
def test_every_parameter_changes_the_keras_layer(type_id, name):
    """A builder that ignored a parameter would build the same layer for two values."""
    spec = CATALOG[type_id].params[name]
    base = {**CATALOG[type_id].default_params(), **CONTEXT.get((type_id, name), {})}
    if type_id == "Bidirectional" and name == "recurrent_activation":
        assert base["layer"] != "SimpleRNN"
    changed = {**base, name: _other_value(spec, base[name])}
    def build(params, name):              # as the compiler builds (it applies `trainable`)
        return build_layer(type_id, params, name)
    assert _config(build(base, "n")) != _config(build(changed, "n")), \
        f"{type_id}: changing {name} from {base[name]!r} to {changed[name]!r} changes nothing"


# -- the mapping of particular parameters -----------------------------------------------------

def _build(type_id, **changes):
    return KERAS_BUILDERS[type_id]({**CATALOG[type_id].default_params(), **changes}, "n")


def test_regularizer_is_none_without_penalties():
    assert regularizer({"l1": 0.0, "l2": 0.0}) is None
    r = regularizer({"l1": 0.01, "l2": 0.0})
    assert isinstance(r, keras.regularizers.L1L2)
    assert r.get_config() == pytest.approx({"l1": 0.01, "l2": 0.0})
    assert _build("Dense").kernel_regularizer is None
    assert isinstance(_build("Dense", l2=0.1).kernel_regularizer, keras.regularizers.L1L2)
    assert isinstance(_build("DepthwiseConv2D", l1=0.1).depthwise_regularizer,
                      keras.regularizers.L1L2)
    assert isinstance(_build("Embedding", l1=0.1).embeddings_regularizer,
                      keras.regularizers.L1L2)


def test_activation_layers():
    assert isinstance(_build("Activation", activation="prelu"), keras.layers.PReLU)
    leaky = _build("Activation", activation="leaky_relu", negative_slope=0.05)
    assert isinstance(leaky, keras.layers.LeakyReLU)
    assert leaky.negative_slope == pytest.approx(0.05)
    elu = _build("Activation", activation="elu", alpha=0.7)
    assert isinstance(elu, keras.layers.ELU) and elu.alpha == pytest.approx(0.7)
    assert isinstance(_build("Activation", activation="gelu"), keras.layers.Activation)


def test_wrappers_and_special_values():
    td = _build("TimeDistributed", units=5)
    assert isinstance(td, keras.layers.TimeDistributed)
    assert isinstance(td.layer, keras.layers.Dense) and td.layer.units == 5
    bi = _build("Bidirectional", layer="GRU", merge_mode="none")
    assert bi.merge_mode is None and isinstance(bi.forward_layer, keras.layers.GRU)
    assert _build("ZeroPadding2D", padding=(1, 2)).padding == ((1, 1), (2, 2))
    assert _build("ZeroPadding2D", padding=(1, 2, 3, 4)).padding == ((1, 2), (3, 4))
    assert _build("MaxPooling2D", pool_size=(3, 3), strides=None).strides == (3, 3)


# -- applying layers --------------------------------------------------------------------------

def _shapes(outputs):
    return [tuple(t.shape[1:]) for t in outputs]


def test_call_layer_returns_one_tensor_per_output_port():
    seq = keras.Input((5, 3))
    assert _shapes(call_layer(_build("LSTM", units=4, return_state=True), "LSTM", [seq])) \
        == [(4,), (4,), (4,)]
    outs = call_layer(_build("Bidirectional", units=4, merge_mode="none", return_state=True),
                      "Bidirectional", [seq])
    assert _shapes(outs) == [(4,)] * 6
    assert _shapes(call_layer(_build("Dense", units=2), "Dense", [seq])) == [(5, 2)]
    assert _shapes(call_layer(_build("Input", shape=(None, 7)), "Input", [])) == [(None, 7)]


def test_call_layer_passes_inputs_as_each_layer_wants():
    q, v, k = keras.Input((5, 8)), keras.Input((6, 4)), keras.Input((6, 8))
    mha = _build("MultiHeadAttention", num_heads=2, key_dim=4)
    assert _shapes(call_layer(mha, "MultiHeadAttention", [q, v])) == [(5, 8)]
    assert _shapes(call_layer(_build("Attention"), "Attention", [q, v, k])) == [(5, 4)]
    assert _shapes(call_layer(_build("Concatenate"), "Concatenate", [v, k])) == [(6, 12)]
    assert _shapes(call_layer(_build("Add"), "Add", [q, q, q])) == [(5, 8)]
    mean, log_var = keras.Input((3,)), keras.Input((3,))
    assert _shapes(call_layer(_build("Sampling"), "Sampling", [mean, log_var])) == [(3,)]


def test_sampling_draws_around_the_mean():
    layer = Sampling(seed=1, name="z")
    mean = keras.ops.ones((1000, 2))
    log_var = keras.ops.full((1000, 2), -4.0)
    z = keras.ops.convert_to_numpy(layer([mean, log_var], training=True))
    assert abs(z.mean() - 1.0) < 0.05                       # std = exp(-2) = 0.135
    assert 0.1 < z.std() < 0.17
    z = keras.ops.convert_to_numpy(layer([mean, log_var]))    # inference: the mean
    np.testing.assert_array_equal(z, 1.0)
    assert keras.saving.get_registered_object("netdesigner>Sampling") is Sampling
    with pytest.raises(ValueError):
        layer([keras.Input((3,)), keras.Input((4,))])


def test_the_keras_pipeline_applies_every_sample_step():
    """Streamed samples' element-wise steps (data.SAMPLE_STEPS) run in the Keras backend's
    tf.data pipeline: a step added to data.py without its TensorFlow form fails here."""
    from netdesigner.backends import data
    from netdesigner.backends.keras.data import sample_steps
    assert set(sample_steps()) == set(data.SAMPLE_STEPS)
