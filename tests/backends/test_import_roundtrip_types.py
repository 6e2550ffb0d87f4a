"""Round trip per layer type: design -> Keras -> `.keras` -> import -> the same design.

For every catalog type the Keras backend builds, a few fixed parameter draws: the one-layer
design is built in Keras, given random weights, saved as `.keras`, loaded back (safe mode) and
imported; the import must validate, give the node the same parameters, the same weights, a
Keras layer with the same configuration, and the same outputs on a batch (1e-5). A catalog type
without draws here (a new type, or one the importer cannot read) fails
`test_every_catalog_type_round_trips_or_is_excluded_with_a_reason`.
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from netdesigner.graph import CATALOG, Analysis, Graph  # noqa: E402

#: catalog types with no round trip of their own, and why (the test checks this is exactly the
#: set of types without draws)
EXCLUDED = {
    "Block": "a design-only grouping: the compiler expands it into its layers, so a Keras model "
             "never holds one (its layers round-trip under their own types)",
    "Input": "no layer to convert: every draw below starts from one and checks its shape and "
             "dtype come back",
}

F, I = "float32", "int32"

#: type -> draws of (input shapes [(shape, dtype)], params)
DRAWS: dict[str, list] = {
    "Dense": [([((6,), F)], {"units": 3, "activation": "relu"}),
              ([((4, 5), F)], {"units": 2, "use_bias": False, "l2": 0.01,
                               "activation": "swish"})],
    "Activation": [([((5,), F)], {"activation": a}) for a in
                   ("relu6", "prelu", "softmax", "gelu", "sigmoid", "tanh")]
    + [([((5,), F)], {"activation": "leaky_relu", "negative_slope": 0.1}),
       ([((5,), F)], {"activation": "elu", "alpha": 0.5})],
    "Dropout": [([((5,), F)], {"rate": 0.3})],
    "GaussianNoise": [([((5,), F)], {"stddev": 0.2})],
    "SpatialDropout1D": [([((5, 3), F)], {"rate": 0.3})],
    "SpatialDropout2D": [([((4, 4, 3), F)], {"rate": 0.25})],
    "Rescaling": [([((5,), F)], {"scale": 0.5, "offset": -1.0}),
                  ([((3, 2), F)], {"scale": 1 / 255})],
    "ActivityRegularization": [([((5,), F)], {"l1": 0.01, "l2": 0.001})],
    "Flatten": [([((3, 4, 2), F)], {})],
    "Reshape": [([((3, 4), F)], {"target_shape": (4, 3)}),
                ([((12,), F)], {"target_shape": (2, -1)})],
    "Permute": [([((3, 4, 2), F)], {"dims": (2, 3, 1)})],
    "RepeatVector": [([((4,), F)], {"n": 3})],
    "TimeDistributed": [([((5, 4), F)], {"units": 3, "activation": "tanh"})],
    "Embedding": [([((6,), I)], {"input_dim": 10, "output_dim": 4}),
                  ([((6,), I)], {"input_dim": 7, "output_dim": 3, "l2": 0.001})],
    "Sampling": [([((4,), F), ((4,), F)], {"kl_weight": 0.5})],
    "PositionEmbedding": [([((5, 4), F)], {"kind": "learned"}),
                          ([((6, 3), F)], {"kind": "sinusoidal", "max_wavelength": 100.0})],
    "Conv1D": [([((8, 3), F)], {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"}),
               ([((8, 3), F)], {"filters": 2, "kernel_size": 2, "dilation_rate": 2,
                                "padding": "causal", "activation": "relu"})],
    "Conv2D": [([((8, 8, 3), F)], {"filters": 4, "kernel_size": (3, 3), "strides": (2, 2),
                                   "padding": "same", "activation": "relu"}),
               ([((8, 7, 2), F)], {"filters": 2, "kernel_size": (2, 3),
                                   "dilation_rate": (2, 1), "use_bias": False})],
    "Conv2DTranspose": [([((4, 4, 3), F)], {"filters": 2, "kernel_size": (3, 3),
                                            "strides": (2, 2), "padding": "same"}),
                        ([((3, 5, 2), F)], {"filters": 3, "kernel_size": (2, 3),
                                            "padding": "valid", "activation": "sigmoid"})],
    "Conv1DTranspose": [([((5, 3), F)], {"filters": 2, "kernel_size": 3, "strides": 2,
                                         "padding": "same"}),
                        ([((4, 2), F)], {"filters": 3, "kernel_size": 4, "strides": 3,
                                         "padding": "valid", "activation": "tanh",
                                         "l2": 0.01})],
    "Conv3D": [([((5, 4, 4, 2), F)], {"filters": 3, "kernel_size": (2, 3, 2),
                                      "strides": (2, 1, 1), "padding": "same"}),
               ([((5, 5, 4, 2), F)], {"filters": 2, "kernel_size": (2, 2, 2),
                                      "dilation_rate": (2, 1, 1), "activation": "relu",
                                      "use_bias": False, "l2": 0.01})],
    "ConvLSTM2D": [([((3, 5, 4, 2), F)], {"filters": 2, "kernel_size": (3, 3),
                                          "padding": "same"}),
                   ([((3, 6, 5, 2), F)], {"filters": 3, "kernel_size": (2, 3), "strides": (2, 1),
                                          "padding": "valid", "return_sequences": True,
                                          "go_backwards": True, "l1": 0.01})],
    "DepthwiseConv2D": [([((8, 8, 3), F)], {"kernel_size": (3, 3), "depth_multiplier": 2}),
                        ([((7, 7, 2), F)], {"kernel_size": (2, 2), "strides": (2, 2),
                                            "padding": "same", "use_bias": False})],
    "SeparableConv2D": [([((8, 8, 3), F)], {"filters": 4, "kernel_size": (3, 3), "l2": 0.01}),
                        ([((6, 6, 2), F)], {"filters": 3, "kernel_size": (2, 2),
                                            "depth_multiplier": 2, "padding": "same"})],
    "ZeroPadding2D": [([((4, 4, 2), F)], {"padding": (1, 2)}),
                      ([((4, 4, 2), F)], {"padding": (1, 0, 2, 1)})],
    "Cropping1D": [([((6, 2), F)], {"cropping": (1, 2)}),
                   ([((5, 3), F)], {"cropping": (0, 1)})],
    "Cropping2D": [([((5, 6, 2), F)], {"cropping": (1, 2)}),
                   ([((5, 6, 2), F)], {"cropping": (0, 2, 1, 0)})],
    "UpSampling2D": [([((3, 3, 2), F)], {"size": (2, 2)}),
                     ([((3, 3, 2), F)], {"size": (2, 3), "interpolation": "bilinear"})],
    "BatchNormalization": [([((5,), F)], {"momentum": 0.9}),
                           ([((4, 3), F)], {"epsilon": 0.01, "center": False})],
    "LayerNormalization": [([((4, 5), F)], {"epsilon": 1e-5}),
                           ([((5,), F)], {"scale": False})],
    # after the sequence, Inputs wired into the initial-state ports: initial_state=[...]
    "SimpleRNN": [([((5, 3), F)], {"units": 4, "return_sequences": True}),
                  ([((5, 3), F), ((4,), F)], {"units": 4, "return_state": True})],
    "LSTM": [([((5, 3), F)], {"units": 4, "return_state": True}),
             ([((5, 3), F)], {"units": 2, "go_backwards": True, "return_sequences": True}),
             ([((5, 3), F), ((3,), F), ((3,), F)], {"units": 3, "return_sequences": True,
                                                    "return_state": True}),
             ([((5, 3), F), ((2,), F), ((2,), F)], {"units": 2, "go_backwards": True})],
    "GRU": [([((5, 3), F)], {"units": 4, "reset_after": False}),
            ([((5, 3), F)], {"units": 3, "return_state": True, "activation": "relu"}),
            ([((5, 3), F), ((2,), F)], {"units": 2, "reset_after": False,
                                        "return_sequences": True})],
    "Bidirectional": [([((5, 3), F)], {"layer": "LSTM", "units": 3}),
                      ([((5, 3), F)], {"layer": "GRU", "units": 2, "merge_mode": "none",
                                       "return_sequences": True})],
    "Attention": [([((4, 3), F), ((5, 3), F)], {"use_scale": True}),
                  ([((4, 3), F), ((5, 3), F)], {"score_mode": "concat"})],
    "AdditiveAttention": [([((4, 3), F), ((5, 3), F)], {}),
                          ([((4, 3), F), ((5, 3), F)], {"use_scale": False})],
    "MultiHeadAttention": [([((4, 6), F), ((5, 6), F)], {"num_heads": 2, "key_dim": 3}),
                           ([((4, 6), F), ((5, 6), F), ((5, 2), F)],
                            {"num_heads": 1, "key_dim": 2, "value_dim": 3})],
    "Concatenate": [([((4, 2), F), ((4, 3), F)], {"axis": -1}),
                    ([((4, 2), F), ((3, 2), F)], {"axis": 1})],
    "RBF": [([((3,), F)], {"units": 4, "gamma": 0.5}),
            ([((2,), F)], {"units": 3, "learn_gamma": True})],
}
for _merge in ("Add", "Subtract", "Multiply", "Average", "Maximum"):
    DRAWS[_merge] = [([((4,), F), ((4,), F)], {})]
    if _merge != "Subtract":
        DRAWS[_merge].append(([((2, 3), F)] * 3, {}))
for _kind in ("Max", "Average"):
    DRAWS[f"{_kind}Pooling1D"] = [([((8, 3), F)], {"pool_size": 2}),
                                  ([((7, 2), F)], {"pool_size": 3, "strides": 1,
                                                   "padding": "same"})]
    DRAWS[f"{_kind}Pooling2D"] = [([((6, 6, 2), F)], {"pool_size": (2, 2)}),
                                  ([((7, 6, 2), F)], {"pool_size": (3, 2), "strides": (2, 1),
                                                      "padding": "same"})]
    DRAWS[f"Global{_kind}Pooling1D"] = [([((5, 3), F)], {}),
                                        ([((5, 3), F)], {"keepdims": True})]
    DRAWS[f"Global{_kind}Pooling2D"] = [([((4, 4, 2), F)], {}),
                                        ([((4, 4, 2), F)], {"keepdims": True})]
    DRAWS[f"{_kind}Pooling3D"] = [([((4, 4, 6, 2), F)], {"pool_size": (2, 2, 3)}),
                                  ([((5, 4, 4, 2), F)], {"pool_size": (3, 2, 2),
                                                         "strides": (2, 1, 2),
                                                         "padding": "same"})]
    DRAWS[f"Global{_kind}Pooling3D"] = [([((3, 4, 4, 2), F)], {}),
                                        ([((3, 4, 4, 2), F)], {"keepdims": True})]
# channels-first pooling (the data_format parameter); GlobalAveragePooling1D's in make test
DRAWS["GlobalAveragePooling1D"].insert(0, ([((3, 5), F)], {"data_format": "channels_first"}))
DRAWS["MaxPooling2D"].append(([((2, 6, 4), F)], {"pool_size": (2, 2), "strides": (2, 1),
                                                  "data_format": "channels_first"}))
DRAWS["AveragePooling1D"].append(([((3, 7), F)], {"pool_size": 2, "padding": "same",
                                                  "data_format": "channels_first"}))
DRAWS["GlobalMaxPooling2D"].append(([((2, 4, 3), F)], {"keepdims": True,
                                                       "data_format": "channels_first"}))
DRAWS["AveragePooling3D"].append(([((2, 4, 4, 4), F)], {"pool_size": (2, 2, 2),
                                                         "data_format": "channels_first"}))

# preprocessing: Normalization's adapted statistics travel as its weights; the augmentation
# layers are identities at inference, so their outputs compare exactly
DRAWS.update({
    "Normalization": [([((5,), F)], {}), ([((4, 3, 2), F)], {"axis": 1, "invert": True}),
                      ([((3, 4), F)], {"axis": None})],
    "RandomFlip": [([((4, 5, 2), F)], {}), ([((4, 5, 2), F)], {"mode": "horizontal", "seed": 3})],
    "RandomRotation": [([((5, 5, 2), F)], {"factor": 0.2}),
                       ([((5, 4, 1), F)], {"factor": 0.5, "fill_mode": "constant",
                                           "fill_value": 1.0, "interpolation": "nearest"})],
    "RandomTranslation": [([((5, 5, 2), F)], {"height_factor": 0.2, "width_factor": 0.1}),
                          ([((5, 6, 1), F)], {"height_factor": 0.0, "fill_mode": "wrap",
                                              "seed": 7})],
    "RandomZoom": [([((5, 5, 2), F)], {"height_factor": 0.2}),
                   ([((6, 5, 1), F)], {"height_factor": 0.3, "width_factor": 0.1,
                                       "fill_mode": "nearest"})],
})

#: every draw (type, index); the first of each type runs in `make test`, the rest under long
FIRST = [(t, 0) for t in sorted(DRAWS)]
MORE = [(t, i) for t in sorted(DRAWS) for i in range(1, len(DRAWS[t]))]

#: Keras config keys that do not describe the computation (names, initialisers: the weights
#: come with the file), or that the builder writes differently with the same meaning
IGNORED_KEYS = {"name", "dtype", "trainable", "seed", "kernel_initializer",
                "bias_initializer", "recurrent_initializer", "embeddings_initializer",
                "depthwise_initializer", "pointwise_initializer", "beta_initializer",
                "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
                "alpha_initializer", "centers_initializer", "build_config"}


def design(type_id: str, draw: int) -> Graph:
    inputs, params = DRAWS[type_id][draw]
    g = Graph()
    node = g.add_node(type_id, params, node_id="layer")
    for port, (shape, dtype) in enumerate(inputs):
        src = g.add_node("Input", {"shape": shape, "dtype": dtype}, node_id=f"in_{port}")
        g.connect(src, 0, node, port)
    return g


def _batch(graph: Graph, rng) -> list:
    xs = []
    for n in graph.inputs():
        p = graph.node(n).params
        shape = (3,) + tuple(p["shape"])
        if p["dtype"] == "int32":
            xs.append(rng.integers(0, 7, shape).astype(np.int32))
        else:
            xs.append(rng.normal(0, 1, shape).astype(np.float32))
    return xs


def _outputs(model, xs) -> list:
    out = model(xs if len(xs) > 1 else xs[0], training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _plain(value):
    """A config value with tuples as lists and regularisers as (l1, l2), for comparing."""
    if isinstance(value, dict):
        if value.get("class_name") in ("L1", "L2", "L1L2"):
            c = value.get("config", {})
            return ("penalty", float(c.get("l1", 0.0)), float(c.get("l2", 0.0)))
        return {k: _plain(v) for k, v in value.items() if k not in IGNORED_KEYS}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def layer_config(layer) -> dict:
    return _plain(layer.get_config())


def round_trip(type_id: str, draw: int, tmp_path):
    import keras

    from netdesigner.backends.keras.compiler import build_model
    from netdesigner.backends.keras.importer import import_file
    from netdesigner.backends.keras.weights import get_weights, read_npz, set_weights
    from netdesigner.graph import fileformat

    g = design(type_id, draw)
    assert Analysis(g, live=False).errors() == [], "the draw itself is not a valid design"
    model = build_model(g)
    rng = np.random.default_rng(draw)
    model.set_weights([(rng.uniform(0.5, 1.5, w.shape) if "variance" in v.path
                        else rng.normal(0, 0.5, w.shape)).astype(w.dtype)
                       for v, w in zip(model.weights, model.get_weights())])
    for layer in model.layers:      # Normalization reads its statistics into tensors when built
        getattr(layer, "finalize_state", lambda: None)()
    path = tmp_path / f"{type_id}_{draw}.keras"
    model.save(path)

    imported, written = import_file(path, tmp_path / f"{type_id}_{draw}.graph")
    back = fileformat.load(written[0])
    assert Analysis(back, live=False).errors() == []
    # the same design: nodes, types, parameters, wires
    assert sorted(back.nodes()) == sorted(g.nodes())
    for n in g.nodes():
        assert back.node(n).type == g.node(n).type, n
        assert back.node(n).params == g.node(n).params, n
    assert sorted((e.source, e.source_port, e.target, e.target_port) for e in back.edges()) == \
        sorted((e.source, e.source_port, e.target, e.target_port) for e in g.edges())
    # the same weights
    saved = read_npz(written[1]) if len(written) > 1 else {}
    original = get_weights(model)
    assert sorted(saved) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(saved[key], value, err_msg=key)
    # a Keras layer with the same configuration, and the same outputs
    again = build_model(back)
    set_weights(again, saved)
    assert layer_config(again.get_layer("layer")) == layer_config(model.get_layer("layer"))
    xs = _batch(g, rng)
    loaded = keras.models.load_model(path, safe_mode=True)
    for a, b, c in zip(_outputs(model, xs), _outputs(loaded, xs), _outputs(again, xs)):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(c, a, atol=1e-5, rtol=1e-5)
    return back


def test_every_catalog_type_round_trips_or_is_excluded_with_a_reason():
    from netdesigner.backends.keras.layers import KERAS_BUILDERS
    types = set(CATALOG.ids())
    assert set(DRAWS) | set(EXCLUDED) == types, \
        f"no round trip for {sorted(types - set(DRAWS) - set(EXCLUDED))}"
    assert set(DRAWS).isdisjoint(EXCLUDED)
    assert all(len(reason) > 40 for reason in EXCLUDED.values())
    assert set(DRAWS) <= set(KERAS_BUILDERS)
    assert all(len(d) >= 1 for d in DRAWS.values())


@pytest.mark.parametrize("type_id,draw", FIRST, ids=[f"{t}-{i}" for t, i in FIRST])
def test_round_trip(type_id, draw, tmp_path):
    round_trip(type_id, draw, tmp_path)


@pytest.mark.long
@pytest.mark.parametrize("type_id,draw", MORE, ids=[f"{t}-{i}" for t, i in MORE])
def test_round_trip_more_draws(type_id, draw, tmp_path):
    round_trip(type_id, draw, tmp_path)


def test_strides_left_empty_come_back_empty(tmp_path):
    back = round_trip("MaxPooling2D", 0, tmp_path)
    assert back.node("layer").params["strides"] is None


SAMPLES = sorted((Path(__file__).resolve().parents[2] / "samples").glob("*.graph"))


@pytest.mark.parametrize("path", [
    pytest.param(p, id=p.stem, marks=() if p.stem == "sparse_autoencoder" else (pytest.mark.long,))
    for p in SAMPLES])
def test_every_sample_exported_as_keras_comes_back(path, tmp_path):
    """The `.keras` export of every sample imports as the same (block-expanded) design and
    passes `check` on the exported weights (sparse_autoencoder's ActivityRegularization had
    no converter)."""
    from netdesigner.backends import parity
    from netdesigner.backends.export import export
    from netdesigner.backends.keras.importer import import_file
    from netdesigner.graph import fileformat
    from netdesigner.graph.expand import expand_blocks
    design = expand_blocks(fileformat.load(path))
    keras_file = export(design, "keras", tmp_path / f"{path.stem}.keras")[0]
    back, written = import_file(keras_file, tmp_path / f"{path.stem}.graph")
    assert sorted(back.nodes()) == sorted(design.nodes())
    for n in design.nodes():
        assert (back.node(n).type, back.node(n).params) == \
            (design.node(n).type, design.node(n).params), n
    report = parity.check(back, weights=str(written[1]) if len(written) > 1 else None)
    assert report.ok, "\n" + report.table()
