"""Import: Keras models (keras.applications among them) become .graph designs."""
from __future__ import annotations

import sys

import keras
import numpy as np
import pytest

from netdesigner.backends.keras.compiler import compile_graph
from netdesigner.backends.keras.importer import (ImportProblem, import_file, import_model,
                                     import_with_weights)
from netdesigner.graph import Analysis, fileformat

from .conftest import load_sample, sequence_design, two_heads


def _round_trip(model):
    graph = import_model(model)
    analysis = Analysis(graph, live=False)
    assert analysis.problems() == []
    compiled = compile_graph(graph, compile=False)
    assert compiled.count_params() == model.count_params()
    assert analysis.total_params() == model.count_params()
    return graph, compiled


def test_resnet50_round_trip():
    original = keras.applications.ResNet50(weights=None)
    graph, compiled = _round_trip(original)
    assert len(graph) == len(original.layers)
    assert graph.node("conv1_pad").type == "ZeroPadding2D"
    assert graph.node("conv2_block1_add").type == "Add"
    assert graph.node("predictions").params["activation"] == "softmax"
    # laid out top-down by depth (a network this deep would be far wider than a view)
    (image,) = graph.inputs()            # named input_layer[_N] by Keras's global counter
    assert graph.node(image).position[1] < graph.node("conv1_conv").position[1] < \
        graph.node("predictions").position[1]
    # and it exports: every layer written as code builds the same layer
    from netdesigner.backends.export.script import script_source
    text = script_source(graph, model=compiled)
    assert "conv5_block3_out = keras.layers.Activation(" in text


def test_mobilenet_v2_round_trip():
    """MobileNetV2 caps its ReLUs at 6 (ReLU(max_value=6.0)): they import as the catalog's
    relu6 activation, and the model round-trips like ResNet50."""
    _round_trip(keras.applications.MobileNetV2(weights=None))


@pytest.mark.long
def test_densenet121_round_trip():
    _round_trip(keras.applications.DenseNet121(weights=None))


@pytest.mark.long
def test_efficientnet_b0_lists_what_the_catalog_lacks():
    with pytest.raises(ImportProblem) as info:
        import_model(keras.applications.EfficientNetB0(weights=None))
    # Rescaling and Normalization import now (the preprocessing layers of the catalog)
    assert set(info.value.unsupported) == {"Dropout with noise_shape=(None, 1, 1, 1)"}


@pytest.mark.parametrize("make", [lambda: load_sample("resnet_digits"), two_heads,
                                  sequence_design], ids=["blocks", "two_heads", "sequence"])
def test_designs_survive_compile_and_import(make):
    from netdesigner.graph.expand import expand_blocks
    design = expand_blocks(make())
    model = compile_graph(design)
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype)
                       for w in model.get_weights()])
    graph, weights = import_with_weights(model)
    assert sorted(graph.nodes()) == sorted(design.nodes())
    for n in design.nodes():
        assert graph.node(n).type == design.node(n).type
        assert graph.node(n).params == design.node(n).params, n
    assert sorted((e.source, e.source_port, e.target, e.target_port) for e in graph.edges()) == \
        sorted((e.source, e.source_port, e.target, e.target_port) for e in design.edges())
    again = compile_graph(graph)
    from netdesigner.backends.keras.weights import set_weights
    set_weights(again, weights)
    xs = [rng.integers(0, 50, (3,) + tuple(t.shape[1:])) if "int" in t.dtype
          else rng.normal(size=(3,) + tuple(t.shape[1:])).astype("float32")
          for t in model.inputs]
    a = model(xs if len(xs) > 1 else xs[0], training=False)
    b = again(xs if len(xs) > 1 else xs[0], training=False)
    for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-6)


def test_a_keras_file_becomes_a_design_with_its_weights(tmp_path):
    from netdesigner.backends.export import export
    from netdesigner.backends.keras.weights import get_weights, read_npz
    design = load_sample("cnn_digits")
    model = compile_graph(design)
    path = export(design, "keras", tmp_path / "cnn.keras", model=model)[0]
    graph, written = import_file(path, tmp_path / "cnn.graph")
    assert written == [tmp_path / "cnn.graph", tmp_path / "cnn.weights.npz"]
    loaded = fileformat.load(tmp_path / "cnn.graph")
    assert loaded.nodes() == design.nodes()
    assert loaded.training["loss"] == "categorical_crossentropy"
    assert loaded.training["optimizer"] == "adam"
    assert loaded.training["optimizer_params"]["learning_rate"] == pytest.approx(0.001)
    saved = read_npz(tmp_path / "cnn.weights.npz")
    for key, value in get_weights(model).items():
        np.testing.assert_array_equal(saved[key], value)


def test_sequential_and_nested_models():
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(8, activation="swish", name="second")],
                             name="trunk")
    x = keras.Input((4,), name="x")
    y = keras.layers.Dense(2, activation="softmax", name="head")(inner(x))
    outer = keras.Model(x, y)
    graph = import_model(outer)
    assert [graph.node(n).type for n in graph.nodes()] == ["Input", "Dense", "Dense", "Dense"]
    assert graph.node("trunk__second").params["activation"] == "swish"
    compiled = compile_graph(graph, compile=False)
    assert compiled.count_params() == outer.count_params()
    seq = import_model(inner)
    assert len(seq) == 3


def test_every_unsupported_layer_is_listed_once_not_skipped():
    x = keras.Input((8, 8, 3), name="image")
    a = keras.layers.AlphaDropout(0.1, name="noise")(x)
    b = keras.layers.Conv2D(4, 3, groups=1, activation="hard_sigmoid", name="conv")(a)
    c = keras.layers.Conv2D(4, 3, kernel_constraint="non_neg", name="conv_c")(b)
    shared = keras.layers.Dense(3, name="shared")
    d = keras.layers.Flatten(name="flat")(c)
    out = keras.layers.Add(name="sum")([shared(d), shared(d)])
    with pytest.raises(ImportProblem) as info:
        import_model(keras.Model(x, out))
    assert info.value.unsupported == {
        "AlphaDropout": ["noise"], "Conv2D with activation='hard_sigmoid'": ["conv"],
        "Conv2D with kernel_constraint=NonNeg": ["conv_c"],
        "Dense shared between 2 calls": ["shared"]}


def test_arguments_the_design_cannot_hold_are_refused_by_name():
    """Nothing is dropped silently: an initial state, a mask, training=True on dropout, and
    arithmetic the catalog cannot express are each refused naming the layer and argument."""
    s = keras.Input((5, 3), name="seq")
    out, h, c = keras.layers.LSTM(4, return_state=True, name="enc")(s)
    dec = keras.layers.LSTM(4, name="dec")(s, initial_state=[h])       # Keras wants [h, c]
    bi = keras.layers.Bidirectional(keras.layers.GRU(2), name="bi")(
        s, initial_state=[h[:, :2], h[:, 2:]])
    drop = keras.layers.Dropout(0.5, name="mc")(dec, training=True)
    square = keras.ops.square(drop)
    inverse = 1.0 / drop
    masked = keras.layers.GlobalAveragePooling1D(name="gap")(
        s, mask=keras.ops.greater(keras.ops.sum(s, axis=-1), 0.0))
    with pytest.raises(ImportProblem) as info:
        import_model(keras.Model(s, [square, inverse, masked, bi]))
    text = str(info.value)
    assert "LSTM called with initial_state of 1 tensor (LSTM starts from 2 state tensors " \
        "[h, c]" in text and "dec" in text
    assert "Bidirectional called with initial_state (the catalog's Bidirectional takes no " \
        "initial states" in text and "bi" in text
    assert "Dropout called with training=True" in text and "mc" in text
    assert "keras.ops.Square" in text
    assert "keras.ops.TrueDivide of a number by a tensor" in text
    assert "GlobalAveragePooling1D called with mask=" in text and "gap" in text


def test_initial_states_import_as_wires_into_the_state_ports():
    """The classic seq2seq: the decoder starts from the encoder's h and c (ports 1 and 2); a
    GRU started from a Dense of h takes it on its initial_h port."""
    enc_in = keras.Input((None, 6), name="enc_in")
    dec_in = keras.Input((None, 5), name="dec_in")
    _, h, c = keras.layers.LSTM(8, return_state=True, name="enc")(enc_in)
    dec = keras.layers.LSTM(8, return_sequences=True, name="dec")(dec_in, initial_state=[h, c])
    bridge = keras.layers.Dense(3, name="bridge")(h)
    gru = keras.layers.GRU(3, name="gru")(dec_in, initial_state=bridge)
    graph = import_model(keras.Model([enc_in, dec_in], [dec, gru]))
    wires = {(e.source, e.source_port, e.target_port) for e in graph.in_edges("dec")}
    assert wires == {("dec_in", 0, 0), ("enc", 1, 1), ("enc", 2, 2)}
    assert {(e.source, e.target_port) for e in graph.in_edges("gru")} == {
        ("dec_in", 0), ("bridge", 1)}
    assert graph.node("enc").params["return_state"] is True
    assert Analysis(graph, live=False).errors() == []


def test_unused_recurrent_states_are_not_extra_outputs():
    s = keras.Input((5, 3), name="seq")
    out, h, c = keras.layers.LSTM(4, return_state=True, name="enc")(s)
    model = keras.Model(s, out)
    graph = import_model(model)
    assert graph.node("enc").params["return_state"] is False
    assert compile_graph(graph, compile=False).outputs[0].shape == model.outputs[0].shape
    assert len(compile_graph(graph, compile=False).outputs) == 1
    # the states as the model's outputs, the sequence output unused: a design cannot
    states = keras.Model(s, [h, c])
    with pytest.raises(ImportProblem, match="enc port 0: the model does not output"):
        import_model(states)


def test_an_embeddings_padding_mask_imports_and_other_masks_are_refused(tmp_path):
    """Keras 3 records mask_zero's mask as not_equal(ids, 0) handed on as mask=: the design's
    Embedding makes the same mask, so it imports (and computes the same in Keras)."""
    ids = keras.Input((7,), dtype="int32", name="ids")
    e = keras.layers.Embedding(10, 4, mask_zero=True, name="emb")(ids)
    seq = keras.layers.LSTM(3, return_sequences=True, name="rnn")(e)
    out = keras.layers.Dense(2, name="out")(keras.layers.GlobalAveragePooling1D(name="gap")(seq))
    model = keras.Model(ids, out)
    graph, weights = import_with_weights(model)
    assert [graph.node(n).type for n in graph.nodes()] == [
        "Input", "Embedding", "LSTM", "GlobalAveragePooling1D", "Dense"]
    again = compile_graph(graph, compile=False)
    from netdesigner.backends.keras.weights import set_weights
    set_weights(again, weights)
    x = np.array([[1, 2, 3, 0, 0, 0, 0], [4, 5, 0, 0, 0, 0, 0]], "int32")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-6)
    # a mask of the author's own making is refused
    own = keras.ops.greater(keras.ops.sum(e, axis=-1), 0.5)
    other = keras.layers.LSTM(3, name="rnn2")(e, mask=own)
    with pytest.raises(ImportProblem, match="LSTM called with mask="):
        import_model(keras.Model(ids, other))


def test_a_config_key_no_converter_reads_is_refused_not_dropped():
    """The layer the design would build is compared with the model's, key by key."""
    s = keras.Input((5, 3), name="seq")
    a = keras.layers.LSTM(4, zero_output_for_mask=True, return_sequences=True, name="a")(s)
    b = keras.layers.LSTM(4, unroll=True, name="b")(a)        # same computation: imported
    with pytest.raises(ImportProblem) as info:
        import_model(keras.Model(s, b))
    assert info.value.unsupported == {
        "LSTM with zero_output_for_mask=True (the catalog's LSTM cannot hold it)": ["a"]}


def test_arithmetic_with_a_number_becomes_rescaling():
    x = keras.Input((4,), name="x")
    y = keras.layers.Dense(3, name="d")(x)
    z = keras.layers.Add(name="sum")([1.0 - y * 2.0, keras.ops.add(y, 1) / 4])
    model = keras.Model(x, -z)
    graph, weights = import_with_weights(model)
    kinds = {n: (graph.node(n).type, graph.node(n).params) for n in graph.nodes()}
    rescales = sorted((p["scale"], p["offset"]) for t, p in kinds.values() if t == "Rescaling")
    assert rescales == [(-1.0, 0.0), (-1.0, 1.0), (0.25, 0.0), (1.0, 1.0), (2.0, 0.0)]
    assert Analysis(graph, live=False).errors() == []
    again = compile_graph(graph, compile=False)
    from netdesigner.backends.keras.weights import set_weights
    set_weights(again, weights)
    xs = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(again(xs)), np.asarray(model(xs)), atol=1e-6)


def test_ops_concatenate_and_reshape_become_layers():
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    joined = keras.ops.concatenate([a, b], axis=-1)
    model = keras.Model([a, b], keras.ops.reshape(joined, (-1, 5, 1)))
    graph = import_model(model)
    types = sorted(graph.node(n).type for n in graph.nodes())
    assert types == ["Concatenate", "Input", "Input", "Reshape"]
    assert Analysis(graph, live=False).errors() == []
    xs = [np.ones((2, 3), "float32"), np.zeros((2, 2), "float32")]
    again = compile_graph(graph, compile=False)
    np.testing.assert_array_equal(np.asarray(again(xs)), np.asarray(model(xs)))
    with pytest.raises(ImportProblem, match="keras.ops.concatenate along axis 0"):
        import_model(keras.Model([a, b], keras.ops.concatenate([a, a])))
    with pytest.raises(ImportProblem, match=r"keras.ops.reshape to \(4, -1\)"):
        import_model(keras.Model(a, keras.ops.reshape(a, (4, -1))))


def test_a_file_with_its_authors_classes_is_refused_in_one_line(tmp_path):
    @keras.saving.register_keras_serializable(package="h4_test")
    class Jitter(keras.layers.Layer):
        def call(self, x):
            return x

    @keras.saving.register_keras_serializable(package="h4_test")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    x = keras.Input((3,))
    model = keras.Model(x, Twice()(Jitter()(keras.layers.Dense(2)(x))))
    model.save(tmp_path / "mine.keras")
    # a Keras user loading the file elsewhere has not imported the classes
    from keras.src.saving import object_registration
    for key in ("h4_test>Jitter", "h4_test>Twice"):
        object_registration.GLOBAL_CUSTOM_OBJECTS.pop(key, None)
    with pytest.raises(ValueError) as info:
        import_file(tmp_path / "mine.keras", tmp_path / "mine.graph")
    first = str(info.value).splitlines()[0]
    assert "Jitter, Twice" in first
    assert "'h4_test>Jitter'" in str(info.value)
    assert "register_keras_serializable" in first and "rebuilt from catalog layers" in first
    assert "could not be deserialized" not in str(info.value)
    assert not (tmp_path / "mine.graph").exists()
    # registered (its module imported), it loads, but the importer still refuses it by name
    with pytest.raises(ImportProblem, match="Twice .the model author's own layer class"):
        import_model(model)


def test_inputs_of_strings_or_sparse_tensors_are_refused_by_name():
    text = keras.Input((1,), dtype="string", name="text")
    with pytest.raises(ImportProblem, match=r"InputLayer with dtype='string'.*text"):
        import_model(keras.Model(text, text))
    sparse = keras.Input((5,), sparse=True, name="bag")
    with pytest.raises(ImportProblem, match=r"InputLayer with sparse=True.*bag"):
        import_model(keras.Model(sparse, keras.layers.Dense(2)(sparse)))


def test_a_loss_of_the_authors_leaves_the_architecture_importable(tmp_path):
    def my_loss(y, p):
        return keras.ops.mean((y - p) ** 2)

    def my_act(x):
        return x * 2

    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss=my_loss)
    model.save(tmp_path / "loss.keras")
    graph, _ = import_file(tmp_path / "loss.keras", tmp_path / "loss.graph")
    assert "Its training set-up uses my_loss of its author's" in graph.metadata["description"]
    assert [graph.node(n).type for n in graph.nodes()] == ["Input", "Dense"]
    # an activation of the author's is part of the model: refused, named
    acted = keras.Model(x, keras.layers.Dense(1, activation=my_act)(x))
    acted.save(tmp_path / "act.keras")
    with pytest.raises(ValueError, match="function.s. of its author: my_act"):
        import_file(tmp_path / "act.keras", tmp_path / "act.graph")


def test_unbuilt_sequential_is_refused_with_advice():
    with pytest.raises(ImportProblem, match="not built"):
        import_model(keras.Sequential([keras.layers.Dense(3)]))


def test_a_missing_file_is_named_before_tensorflow_loads(monkeypatch, tmp_path):
    # `import keras` fails here: the sentence must come before it (it took 8-20 s to say)
    from netdesigner.backends.keras.importer import load_keras_model
    monkeypatch.setitem(sys.modules, "keras", None)
    missing = tmp_path / "net.keras"
    with pytest.raises(ValueError, match=r"net\.keras: no such file"):
        load_keras_model(missing)


def test_conv_lstm_arguments_the_catalog_lacks_are_refused_by_name():
    x = keras.Input((3, 8, 8, 1))
    a = keras.layers.ConvLSTM2D(2, 3, dropout=0.2, padding="same", return_sequences=True,
                                name="drop")(x)
    b = keras.layers.ConvLSTM2D(2, 3, dilation_rate=2, padding="same", return_sequences=True,
                                name="dilated")(a)
    y, _, _ = keras.layers.ConvLSTM2D(2, 1, return_state=True, name="states")(b)
    with pytest.raises(ImportProblem) as info:
        import_model(keras.Model(x, y))
    assert info.value.unsupported == {
        "ConvLSTM2D with dropout=0.2": ["drop"],
        "ConvLSTM2D with dilation_rate=(2, 2)": ["dilated"],
        "ConvLSTM2D with return_state=True": ["states"]}
