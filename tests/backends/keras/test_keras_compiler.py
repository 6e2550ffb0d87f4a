"""A design compiles into the Keras functional model it describes."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from netdesigner.backends.keras.compiler import CompileError, compile_graph, output_refs
from netdesigner.graph import Analysis
from netdesigner.graph.expand import expand_blocks

from .conftest import SAMPLES, load_sample, sequence_design, two_heads

SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.graph"))


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_sample_compiles_with_the_parameter_count_of_graph(name):
    graph = load_sample(name)
    model = compile_graph(graph)
    assert model.count_params() == Analysis(graph, live=False).total_params()
    flat = expand_blocks(graph)
    assert sorted(layer.name for layer in model.layers) == sorted(flat.nodes())
    assert model.compiled


def test_layer_names_are_the_node_ids_of_the_expanded_blocks():
    model = compile_graph(load_sample("resnet_digits"))
    names = {layer.name for layer in model.layers}
    assert {"block_1__1__conv_a", "block_1__2__skip", "block_1__2__relu_out"} <= names


def test_multi_input_multi_output():
    graph = two_heads()
    model = compile_graph(graph)
    assert [t.name for t in model.inputs] == ["features", "extra"]
    assert model.output_names == ["head_a", "head_b"]
    assert model.count_params() == Analysis(graph, live=False).total_params()
    out = model.predict([np.zeros((5, 6)), np.ones((5, 4))], verbose=0)
    assert [o.shape for o in out] == [(5, 3), (5, 3)]
    assert len(model.losses) == 1              # the l2 penalty of the trunk


def test_layers_with_several_ports_and_inputs():
    graph = sequence_design()
    model = compile_graph(graph)
    assert model.count_params() == Analysis(graph, live=False).total_params()
    lstm = model.get_layer("lstm")
    assert lstm.return_state and lstm.return_sequences
    x = np.random.default_rng(0).integers(0, 50, (3, 12))
    assert model.predict(x, verbose=0).shape == (3, 2)


def test_outputs_are_every_port_of_the_output_nodes():
    from netdesigner.graph import Graph
    g = Graph()
    i = g.add_node("Input", {"shape": (5, 3)})
    lstm = g.add_node("LSTM", {"units": 4, "return_state": True})
    g.connect(i, 0, lstm, 0)
    assert output_refs(g) == [(lstm, 0), (lstm, 1), (lstm, 2)]
    model = compile_graph(g)
    assert len(model.outputs) == 3


def test_the_seed_fixes_the_initial_weights():
    graph = load_sample("cnn_digits")
    a = compile_graph(graph).get_weights()
    b = compile_graph(graph).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    other = dict(graph.training, seed=1)
    c = compile_graph(graph, other).get_weights()
    assert not np.array_equal(a[0], c[0])


def test_training_set_up_follows_the_settings():
    graph = load_sample("mlp_digits")
    settings = dict(graph.training, optimizer="sgd", clip_norm=1.5,
                    optimizer_params={"learning_rate": 0.05, "momentum": 0.5,
                                      "nesterov": True},
                    loss="huber", loss_params={"delta": 2.0}, metrics=["accuracy", "mae"])
    model = compile_graph(graph, settings)
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.SGD)
    assert opt.clipnorm == 1.5 and opt.nesterov and float(opt.momentum) == 0.5
    assert float(opt.learning_rate) == pytest.approx(0.05)
    assert isinstance(model.loss, keras.losses.Huber)
    # an error of 1.5 is still quadratic with delta 2 (it would be linear with delta 1)
    value = float(model.loss(np.array([[0.0]]), np.array([[1.5]])))
    assert value == pytest.approx(0.5 * 1.5 ** 2)


def test_a_design_with_problems_is_refused_with_every_problem():
    from netdesigner.graph import Graph
    g = Graph()
    i = g.add_node("Input", {"shape": (28, 28, 1)})
    d = g.add_node("Dense", {"units": 10})
    g.connect(i, 0, d, 0)
    d2 = g.add_node("Dense", {"units": 0})
    g.connect(d, 0, d2, 0)
    with pytest.raises(CompileError, match="dense_2"):
        compile_graph(g)


def test_mixed_precision_keeps_the_outputs_in_float32():
    model = compile_graph(load_sample("cnn_digits"), dtype_policy="mixed_bfloat16")
    assert model.get_layer("conv2d_1").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("conv2d_1").compute_dtype == "bfloat16"
    assert model.get_layer("dense_2").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"       # the global policy is restored
    assert model.output.dtype == "float32"
