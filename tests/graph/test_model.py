"""The graph model: the one place a network changes, announcing every change."""
import pytest

from netdesigner.graph import Edge, Graph, WiringError
from netdesigner.graph.events import (EdgeAdded, EdgeRemoved, NodeAdded, NodeMoved, NodeRemoved,
                          ParamChanged)
from tests.graph.builders import chain


def recorder(graph):
    events = []
    graph.subscribe(events.append)
    return events


def test_ids_are_readable_and_stable():
    g = Graph()
    assert g.add_node("Conv2D") == "conv2d_1"
    assert g.add_node("Conv2D") == "conv2d_2"
    assert g.add_node("BatchNormalization") == "batch_normalization_1"
    assert g.add_node("SimpleRNN") == "simple_rnn_1"
    assert g.add_node("Conv2DTranspose") == "conv2d_transpose_1"
    g.remove_node("conv2d_2")
    assert g.add_node("Conv2D") == "conv2d_3", "a deleted id is not handed out again"
    assert g.add_node("Dense", node_id="head") == "head"
    with pytest.raises(ValueError, match="already"):
        g.add_node("Dense", node_id="head")
    with pytest.raises(ValueError, match="must start"):
        g.add_node("Dense", node_id="3rd layer")


def test_unknown_types_and_params_are_refused_by_name():
    g = Graph()
    with pytest.raises(KeyError, match="Dense2"):
        g.add_node("Dense2")
    with pytest.raises(KeyError, match="unitz"):
        g.add_node("Dense", {"unitz": 3})
    n = g.add_node("Dense")
    with pytest.raises(KeyError, match="unitz"):
        g.set_param(n, "unitz", 3)


def test_every_change_is_announced():
    g = Graph()
    events = recorder(g)
    a = g.add_node("Input", {"shape": [4]})
    b = g.add_node("Dense")
    edge = g.connect(a, 0, b, 0)
    old = g.set_param(b, "units", 7)
    g.move_node(b, (10, 20))
    g.remove_node(b)
    assert events == [NodeAdded(a), NodeAdded(b), EdgeAdded(edge),
                      ParamChanged(b, "units", 32, 7), NodeMoved(b, (0.0, 0.0), (10.0, 20.0)),
                      EdgeRemoved(edge), NodeRemoved(b)]
    assert old == 32
    assert g.node(a).params["shape"] == (4,), "lists are stored as tuples"


def test_setting_the_same_value_announces_nothing():
    g = Graph()
    n = g.add_node("Dense")
    events = recorder(g)
    g.set_param(n, "units", 32)
    g.move_node(n, (0, 0))
    assert events == []


def test_remove_returns_what_undo_needs():
    g, (i, d1, d2) = chain([("Input", {"shape": (3,)}), ("Dense", {}), ("Dense", {})])
    node, edges = g.remove_node(d1)
    assert node.type == "Dense" and node.id == d1
    assert edges == [Edge(i, 0, d1, 0), Edge(d1, 0, d2, 0)]
    assert g.in_edges(d2) == [] and g.out_edges(i) == []


def test_a_node_may_feed_several_ports_of_one_target():
    """Self-attention wires the same tensor into query and value."""
    g = Graph()
    x = g.add_node("Input", {"shape": (10, 8)})
    att = g.add_node("MultiHeadAttention")
    g.connect(x, 0, att, 0)
    g.connect(x, 0, att, 1)
    assert [e.target_port for e in g.in_edges(att)] == [0, 1]


@pytest.mark.parametrize("wire, reason", [
    (("dense_2", 0, "dense_1", 0), "loop"),
    (("dense_1", 0, "dense_1", 0), "cannot feed itself"),
    (("input_1", 0, "dense_2", 0), "already fed by dense_1"),
    (("dense_1", 1, "dense_2", 0), "no output port 1"),
    (("dense_1", 0, "dense_2", 1), "takes 1 input; there is no input port 1"),
    (("dense_1", 0, "input_1", 0), "Input layer"),
    (("dense_1", 0, "nowhere", 0), "no node 'nowhere'"),
])
def test_refused_wires_say_why_and_change_nothing(wire, reason):
    g, _ = chain([("Input", {"shape": (3,)}), ("Dense", {}), ("Dense", {})])
    before = g.edges()
    events = recorder(g)
    assert reason in g.connection_problem(*wire)
    with pytest.raises(WiringError, match=reason):
        g.connect(*wire)
    assert g.edges() == before and events == []


def test_variadic_merges_take_any_number_of_inputs():
    g = Graph()
    x = g.add_node("Input", {"shape": (4,)})
    add = g.add_node("Add")
    for port in range(5):
        d = g.add_node("Dense", {"units": 4})
        g.connect(x, 0, d, 0)
        g.connect(d, 0, add, port)
    assert len(g.in_edges(add)) == 5


def test_recurrent_state_outputs_are_ports():
    g = Graph()
    x = g.add_node("Input", {"shape": (10, 3)})
    lstm = g.add_node("LSTM", {"return_state": True})
    g.connect(x, 0, lstm, 0)
    assert g.output_count(lstm) == 3
    d = g.add_node("Dense")
    g.connect(lstm, 2, d, 0)     # the cell state
    assert g.outputs() == [d]
    assert g.inputs() == [x]
