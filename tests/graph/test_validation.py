"""Validation: every problem names its node and says what to do; re-validation is incremental."""
import pytest
from hypothesis import given, settings, strategies as st

from netdesigner.graph import Analysis, BlockDef, Graph, validate
from netdesigner.graph.events import Edge
from tests.graph.builders import chain, mlp


def codes(analysis):
    return sorted((p.node, p.code) for p in analysis.problems())


def test_valid_network_has_shapes_counts_and_no_problems():
    g, (i, c, p, f, d) = chain([
        ("Input", {"shape": (28, 28, 1)}), ("Conv2D", {"filters": 8}), ("MaxPooling2D", {}),
        ("Flatten", {}), ("Dense", {"units": 10, "activation": "softmax"})])
    a = validate(g)
    assert a.problems() == []
    assert a.output_shapes(c) == [(26, 26, 8)]
    assert a.output_shapes(p) == [(13, 13, 8)]
    assert a.output_shapes(f) == [(1352,)]
    assert a.report(c).params == 3 * 3 * 1 * 8 + 8
    assert a.total_params() == 80 + 1352 * 10 + 10
    assert a.total_flops() > 0
    for edge in g.edges():           # every wire's shape is known
        assert a.edge_shape(edge) is not None
    assert a.edge_shape(Edge(f, 0, d, 0)) == (1352,)


def test_dense_on_an_image_explains_itself():
    g, (i, d) = chain([("Input", {"shape": (28, 28, 1)}), ("Dense", {"units": 10})])
    (warning,) = validate(g).problems()
    assert warning.node == d and warning.severity == "warning"
    assert "(28, 28, 1)" in warning.message and "add a Flatten before it" in warning.message


def test_convolution_on_a_vector_says_what_to_add():
    g, (i, c) = chain([("Input", {"shape": (784,)}), ("Conv2D", {})])
    (problem,) = validate(g).problems()
    assert problem.node == c and problem.code == "shape"
    assert "Conv2D expects a 3-D input" in problem.message
    assert "(784,)" in problem.message and "Reshape" in problem.message


def test_kernel_larger_than_the_input():
    g, (i, c) = chain([("Input", {"shape": (4, 4, 1)}), ("Conv2D", {"kernel_size": (5, 5)})])
    (problem,) = validate(g).problems()
    assert problem.node == c and "empty" in problem.message and "padding='same'" in problem.message


def test_merge_mismatch_names_both_shapes():
    g = Graph()
    x = g.add_node("Input", {"shape": (8,)})
    a = g.add_node("Dense", {"units": 4})
    b = g.add_node("Dense", {"units": 5})
    add = g.add_node("Add")
    for src, dst, port in [(x, a, 0), (x, b, 0), (a, add, 0), (b, add, 1)]:
        g.connect(src, 0, dst, port)
    (problem,) = validate(g).problems()
    assert problem.node == add and "(4,)" in problem.message and "(5,)" in problem.message


def test_unconnected_inputs_are_named_by_port():
    g = Graph()
    x = g.add_node("Input", {"shape": (10, 8)})
    att = g.add_node("Attention")
    g.connect(x, 0, att, 0)
    (problem,) = validate(g).problems()
    assert (problem.node, problem.code, problem.port) == (att, "unconnected", 1)
    assert "value" in problem.message


def test_missing_input_layer():
    g = Graph()
    g.add_node("Dense")
    a = validate(g)
    assert ("no_input" in {p.code for p in a.problems()})
    assert any(p.node is None and "no Input layer" in p.message for p in a.problems())


def test_out_of_range_and_wrongly_typed_parameters():
    g, (i, d) = mlp(8)
    g.set_param(d, "units", 0)
    g.set_param(d, "activation", "relu7")
    g.set_param(d, "use_bias", "yes")
    problems = validate(g).problems()
    assert {(p.node, p.param) for p in problems} == {(d, "units"), (d, "activation"),
                                                     (d, "use_bias")}
    assert all(p.code == "param" for p in problems)


def test_cycles_from_a_file_are_reported_not_looped_on():
    g, (i, a, b) = chain([("Input", {"shape": (4,)}), ("Dense", {"units": 4}),
                          ("Add", {})])
    # a loop a -> add -> a, made the way a loaded file can make it
    g.disconnect(g.in_edges(a)[0])
    g.restore_edge(Edge(b, 0, a, 0))
    g.connect(i, 0, b, 1)
    a_ = validate(g)
    cyc = {p.node for p in a_.problems() if p.code == "cycle"}
    assert cyc == {a, b}


def test_too_many_inputs_from_a_file():
    g, (i, d) = mlp(4)
    g.restore_edge(Edge(i, 0, d, 1))
    problems = validate(g).problems()
    assert [(p.node, p.code) for p in problems] == [(d, "arity")]


def test_problems_do_not_cascade_downstream():
    g, (i, c, f, d) = chain([("Input", {"shape": (10,)}), ("Conv2D", {}), ("Flatten", {}),
                             ("Dense", {})])
    assert [p.node for p in validate(g).problems()] == [c]
    assert validate(g).output_shapes(d) is None


def test_stale_state_port_after_turning_return_state_off():
    g = Graph()
    x = g.add_node("Input", {"shape": (10, 3)})
    lstm = g.add_node("LSTM", {"return_state": True})
    d = g.add_node("Dense")
    g.connect(x, 0, lstm, 0)
    g.connect(lstm, 2, d, 0)
    a = Analysis(g)
    assert a.ok
    g.set_param(lstm, "return_state", False)
    (problem,) = a.problems()
    assert problem.node == d and "output 2 of lstm_1" in problem.message


# -- incremental re-validation ------------------------------------------------------------------

def test_editing_the_last_layer_recomputes_one_node():
    g, ids = mlp(*([16] * 50))
    a = Analysis(g)
    assert a.recomputed == 51
    g.set_param(ids[-1], "activation", "tanh")
    a.refresh()
    assert a.recomputed == 1


def test_a_shape_change_stops_spreading_where_shapes_stop_changing():
    g, ids = mlp(*([16] * 50))
    a = Analysis(g)
    g.set_param(ids[10], "units", 7)       # changes ids[10] and the weights of ids[11] only
    a.refresh()
    assert a.recomputed == 2
    assert a.report(ids[11]).params == 7 * 16 + 16


def test_input_shape_change_reaches_the_whole_chain():
    g, ids = chain([("Input", {"shape": (8, 4)})] + [("Dropout", {})] * 20)
    a = Analysis(g)
    g.set_param(ids[0], "shape", (9, 4))
    a.refresh()
    assert a.recomputed == 21 and a.output_shapes(ids[-1]) == [(9, 4)]


EDITS = st.lists(st.tuples(st.sampled_from(["units", "connect", "disconnect", "remove", "add",
                                            "shape"]),
                           st.integers(0, 10_000), st.integers(0, 10_000)), max_size=25)


@settings(max_examples=60)
@given(EDITS)
def test_incremental_analysis_equals_a_fresh_one(edits):
    g = Graph()
    x = g.add_node("Input", {"shape": (6,)})
    prev = x
    for k in range(6):
        n = g.add_node("Dense", {"units": 6})
        g.connect(prev, 0, n, 0)
        prev = n
    live = Analysis(g)
    for kind, r1, r2 in edits:
        nodes = g.nodes()
        a, b = nodes[r1 % len(nodes)], nodes[r2 % len(nodes)]
        if kind == "units" and g.node(a).type == "Dense":
            g.set_param(a, "units", 1 + r2 % 4)
        elif kind == "shape":
            g.set_param(x, "shape", (1 + r2 % 7,))
        elif kind == "connect" and g.connection_problem(a, 0, b, 0) is None:
            g.connect(a, 0, b, 0)
        elif kind == "disconnect" and g.edges():
            g.disconnect(g.edges()[r1 % len(g.edges())])
        elif kind == "remove" and a != x:
            g.remove_node(a)
        elif kind == "add":
            n = g.add_node("Add" if r1 % 2 else "Dense", {} if r1 % 2 else {"units": 6})
            if g.connection_problem(b, 0, n, 0) is None:
                g.connect(b, 0, n, 0)
        if r1 % 3 == 0:
            live.refresh()
    fresh = validate(g)
    assert codes(live) == codes(fresh)
    for n in g.nodes():
        assert live.report(n).outputs == fresh.report(n).outputs
        assert live.report(n).params == fresh.report(n).params


# -- blocks -------------------------------------------------------------------------------------

def residual_block(channels=8):
    b = Graph()
    x = b.add_node("Input", {"shape": (6, 6, channels)}, node_id="x")
    c = b.add_node("Conv2D", {"filters": channels, "padding": "same"}, node_id="conv")
    bn = b.add_node("BatchNormalization", node_id="bn")
    add = b.add_node("Add", node_id="add")
    b.connect(x, 0, c, 0)
    b.connect(c, 0, bn, 0)
    b.connect(bn, 0, add, 0)
    b.connect(x, 0, add, 1)
    return BlockDef("res", b, ["x"], [("add", 0)], "a residual unit")


def test_block_shapes_and_parameter_counts_apply_through_it():
    g = Graph()
    g.define_block(residual_block())
    x = g.add_node("Input", {"shape": (12, 12, 8)})
    blk = g.add_node("Block", {"block": "res", "repeat": 3})
    g.connect(x, 0, blk, 0)
    a = Analysis(g)
    assert a.problems() == []
    assert a.output_shapes(blk) == [(12, 12, 8)], "a block adapts to its caller's shapes"
    one = (3 * 3 * 8 * 8 + 8) + 4 * 8
    assert a.report(blk).params == 3 * one
    assert a.report(blk).trainable == 3 * (one - 2 * 8)


def test_editing_a_block_revalidates_its_users():
    g = Graph()
    g.define_block(residual_block())
    x = g.add_node("Input", {"shape": (12, 12, 8)})
    blk = g.add_node("Block", {"block": "res"})
    g.connect(x, 0, blk, 0)
    a = Analysis(g)
    g.blocks["res"].graph.set_param("conv", "filters", 4)    # no longer matches the skip
    problems = a.problems()
    assert any(p.node == blk and "Inside block 'res'" in p.message for p in problems)
    assert any(p.node is None and "Block 'res'" in p.message for p in problems)


def test_unknown_and_self_referencing_blocks():
    g = Graph()
    x = g.add_node("Input", {"shape": (4,)})
    blk = g.add_node("Block", {"block": "nope"})
    g.connect(x, 0, blk, 0)
    (problem,) = validate(g).problems()
    assert problem.node == blk and "no block named 'nope'" in problem.message

    inner = Graph()
    i = inner.add_node("Input", {"shape": (4,)}, node_id="i")
    me = inner.add_node("Block", {"block": "loop"}, node_id="me")
    inner.connect(i, 0, me, 0)
    g.define_block(BlockDef("loop", inner, ["i"], [("me", 0)]))
    g.set_param(blk, "block", "loop")
    assert any("contains itself" in p.message for p in validate(g).problems())


def test_wire_problems_explain_refusals_before_the_wire_exists():
    g = Graph()
    img = g.add_node("Input", {"shape": (28, 28, 1)})
    vec = g.add_node("Input", {"shape": (10,)})
    conv = g.add_node("Conv2D")
    add = g.add_node("Add")
    d = g.add_node("Dense", {"units": 4})
    g.connect(img, 0, conv, 0)
    g.connect(vec, 0, d, 0)
    a = Analysis(g)
    assert "already fed by input_1" in a.wire_problem(vec, 0, conv, 0)
    g.disconnect(g.in_edges(conv)[0])
    assert "Conv2D expects a 3-D input" in a.wire_problem(vec, 0, conv, 0)
    assert a.wire_problem(img, 0, conv, 0) is None
    g.connect(d, 0, add, 0)
    assert "(4,)" in a.wire_problem(vec, 0, add, 1) and "(10,)" in a.wire_problem(vec, 0, add, 1)
    assert "loop" in a.wire_problem(add, 0, d, 0)
    assert g.edges() == a.graph.edges() and len(g.edges()) == 2, "asking changes nothing"
