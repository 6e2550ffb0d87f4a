"""graph.gan.split_gan finds a GAN design's generator and discriminator, or says what is wrong."""
import pytest

from netdesigner.graph import BlockDef, Graph
from netdesigner.graph.gan import GanError, split_gan


def gan_graph(noise=4, sample=2, d_units=1, d_activation="sigmoid", noise_id="noise",
              g_out=None) -> Graph:
    """noise -> dense -> (sample values)   and   sample -> dense -> d_units."""
    g = Graph()
    z = g.add_node("Input", {"shape": (noise,)}, node_id=noise_id)
    h = g.add_node("Dense", {"units": 8, "activation": "relu"}, node_id="g_hidden")
    o = g.add_node("Dense", {"units": g_out or sample}, node_id="g_out")
    g.connect(z, 0, h, 0)
    g.connect(h, 0, o, 0)
    x = g.add_node("Input", {"shape": (sample,)}, node_id="sample")
    dh = g.add_node("Dense", {"units": 8, "activation": "relu"}, node_id="d_hidden")
    do = g.add_node("Dense", {"units": d_units, "activation": d_activation}, node_id="d_out")
    g.connect(x, 0, dh, 0)
    g.connect(dh, 0, do, 0)
    g.training.update(mode="gan")
    return g


def test_the_two_parts_are_found_with_their_shapes():
    parts = split_gan(gan_graph())
    assert parts.generator.nodes() == ["noise", "g_hidden", "g_out"]
    assert parts.discriminator.nodes() == ["sample", "d_hidden", "d_out"]
    assert (parts.noise_input, parts.generator_output) == ("noise", "g_out")
    assert (parts.sample_input, parts.discriminator_output) == ("sample", "d_out")
    assert parts.noise_shape == (4,) and parts.sample_shape == (2,)
    assert parts.logits is False
    assert parts.generator.training["mode"] == "gan"
    assert [(e.source, e.target) for e in parts.discriminator.edges()] == [
        ("sample", "d_hidden"), ("d_hidden", "d_out")]


def test_the_order_of_the_parts_on_the_canvas_does_not_matter():
    g = Graph()
    x = g.add_node("Input", {"shape": (3,)}, node_id="x")
    d = g.add_node("Dense", {"units": 1}, node_id="critic")
    g.connect(x, 0, d, 0)
    z = g.add_node("Input", {"shape": (5,)}, node_id="input_2")
    o = g.add_node("Dense", {"units": 3}, node_id="make")
    g.connect(z, 0, o, 0)
    parts = split_gan(g)
    assert (parts.noise_input, parts.sample_input, parts.logits) == ("input_2", "x", True)


def test_blocks_are_expanded_first():
    inner = Graph()
    a = inner.add_node("Input", {"shape": (8,)}, node_id="a")
    b = inner.add_node("Dense", {"units": 8, "activation": "relu"}, node_id="b")
    inner.connect(a, 0, b, 0)
    g = gan_graph()
    g.define_block(BlockDef("hidden", inner, ["a"], [("b", 0)]))
    blk = g.add_node("Block", {"block": "hidden", "repeat": 2}, node_id="blk")
    g.disconnect(g.in_edges("g_out")[0])
    g.connect("g_hidden", 0, blk, 0)
    g.connect(blk, 0, "g_out", 0)
    parts = split_gan(g)
    assert "blk__2__b" in parts.generator.nodes()


def test_one_network_is_not_a_gan():
    single = Graph()
    i = single.add_node("Input", {"shape": (2,)}, node_id="only")
    d = single.add_node("Dense", {"units": 1}, node_id="dense_1")
    single.connect(i, 0, d, 0)
    with pytest.raises(GanError, match=r"two separate networks.*1 connected part.*only"):
        split_gan(single)


def test_the_discriminator_must_end_in_one_unit():
    with pytest.raises(GanError, match=r"neither part ends in one unit.*d_out gives \(2,\)"):
        split_gan(gan_graph(d_units=2))


def test_generator_output_must_fit_the_discriminator_input():
    with pytest.raises(GanError, match=r"g_out makes samples of shape \(3,\).*sample takes "
                                       r"\(2,\)"):
        split_gan(gan_graph(g_out=3))


def test_the_discriminator_output_must_be_sigmoid_or_linear():
    with pytest.raises(GanError, match=r"d_out: .* not relu"):
        split_gan(gan_graph(d_activation="relu"))
    assert split_gan(gan_graph(d_activation="linear")).logits is True


def test_ambiguous_parts_are_told_apart_by_the_noise_input_name():
    parts = split_gan(gan_graph(noise=1, sample=1, noise_id="latent_z"))
    assert parts.noise_input == "latent_z"
    with pytest.raises(GanError, match=r"not clear which is the generator.*input_1 or sample"):
        split_gan(gan_graph(noise=1, sample=1, noise_id="input_1"))


def test_a_part_with_two_inputs_is_refused():
    g = gan_graph()
    extra = g.add_node("Input", {"shape": (2,)}, node_id="extra")
    add = g.add_node("Add", {}, node_id="add_1")
    g.disconnect(g.in_edges("d_hidden")[0])
    g.connect("sample", 0, add, 0)
    g.connect(extra, 0, add, 1)
    g.connect(add, 0, "d_hidden", 0)
    with pytest.raises(GanError, match=r"2 Inputs \(sample, extra\)"):
        split_gan(g)


def test_design_problems_come_first():
    g = gan_graph()
    g.add_node("Dense", {"units": 3}, node_id="loose")
    with pytest.raises(GanError, match="loose"):
        split_gan(g)
