"""Block expansion gives the flat network the backends compile."""
from pathlib import Path

from netdesigner.graph import BlockDef, Graph, fileformat, validate
from netdesigner.graph.expand import expand_blocks

ROOT = Path(__file__).resolve().parents[2]


def test_expanded_residual_network_has_the_same_shapes_and_parameters():
    g = fileformat.load(ROOT / "samples/resnet_digits.graph")
    flat = expand_blocks(g)
    assert not any(flat.node(n).type == "Block" for n in flat.nodes())
    a, b = validate(g), validate(flat)
    assert b.errors() == []
    assert b.total_params() == a.total_params() and b.total_trainable() == a.total_trainable()
    assert "block_1__1__conv_a" in flat and "block_1__2__skip" in flat
    # copy 2 reads copy 1's output, and the skip of copy 1 reads the block's input
    assert [e.source for e in flat.in_edges("block_1__2__conv_a")] == ["block_1__1__relu_out"]
    assert [e.source for e in flat.in_edges("block_1__1__skip")] == ["block_1__1__bn_b",
                                                                      "conv2d_1"]
    assert [e.source for e in flat.in_edges("global_average_pooling2d_1")] == [
        "block_1__2__relu_out"]
    assert "block_1" in g, "the design itself is unchanged"


def test_nested_blocks_and_pass_through_outputs():
    inner = Graph()
    x = inner.add_node("Input", {"shape": (4,)}, node_id="x")
    d = inner.add_node("Dense", {"units": 4}, node_id="d")
    inner.connect(x, 0, d, 0)
    outer = Graph()
    y = outer.add_node("Input", {"shape": (4,)}, node_id="y")
    b = outer.add_node("Block", {"block": "lin", "repeat": 2}, node_id="b")
    outer.connect(y, 0, b, 0)
    g = Graph()
    g.define_block(BlockDef("lin", inner, ["x"], [("d", 0)]))
    g.define_block(BlockDef("pair", outer, ["y"], [("b", 0), ("y", 0)]))   # y passes through
    i = g.add_node("Input", {"shape": (4,)})
    p = g.add_node("Block", {"block": "pair"})
    add = g.add_node("Add")
    g.connect(i, 0, p, 0)
    g.connect(p, 0, add, 0)
    g.connect(p, 1, add, 1)
    assert validate(g).ok
    flat = expand_blocks(g)
    assert sorted(flat.nodes()) == sorted(["input_1", "block_1__1__b__1__d", "block_1__1__b__2__d",
                                           "add_1"])
    assert [e.source for e in flat.in_edges("add_1")] == ["block_1__1__b__2__d", "input_1"]
    assert validate(flat).total_params() == validate(g).total_params() == 2 * (16 + 4)
