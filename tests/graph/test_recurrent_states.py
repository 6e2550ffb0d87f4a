"""Recurrent states as wires: the initial_h / initial_c input ports of SimpleRNN, LSTM and GRU
(shape-checked against the units) and the state outputs of return_state wired into them."""
import pytest

from netdesigner.graph import CATALOG, Graph, fileformat, validate


def encoder_decoder(cell="LSTM", enc_units=4, dec_units=4, wire_c=True):
    g = Graph()
    src = g.add_node("Input", {"shape": (5, 3)}, node_id="source")
    tgt = g.add_node("Input", {"shape": (4, 2)}, node_id="target_in")
    enc = g.add_node(cell, {"units": enc_units, "return_state": True}, node_id="encoder")
    dec = g.add_node(cell, {"units": dec_units, "return_sequences": True}, node_id="decoder")
    g.connect(src, 0, enc, 0)
    g.connect(tgt, 0, dec, 0)
    g.connect(enc, 1, dec, 1)
    if cell == "LSTM" and wire_c:
        g.connect(enc, 2, dec, 2)
    return g


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_state_outputs_wire_into_the_initial_state_ports(cell):
    g = encoder_decoder(cell)
    a = validate(g)
    assert a.problems() == []
    assert a.output_shapes("encoder")[1:] == [(4,)] * (2 if cell == "LSTM" else 1)
    assert a.output_shapes("decoder") == [(4, 4)]
    ports = CATALOG[cell].input_names
    assert ports == (("input", "initial_h", "initial_c") if cell == "LSTM"
                     else ("input", "initial_h"))
    assert CATALOG[cell].min_inputs == 1               # unwired: starts from zeros, as before


@pytest.mark.parametrize("cell", ["SimpleRNN", "LSTM", "GRU"])
def test_a_state_of_the_wrong_size_names_the_node_and_the_port(cell):
    g = encoder_decoder(cell, enc_units=4, dec_units=6)
    (problem,) = validate(g).problems()
    assert problem.node == "decoder"
    assert "initial_h port" in problem.message and "(6,)" in problem.message
    assert "(4,)" in problem.message and "units=6" in problem.message
    # the wire is refused before it is made, with the same sentence
    g2 = encoder_decoder(cell, enc_units=4, dec_units=6)
    for e in list(g2.in_edges("decoder"))[1:]:
        g2.disconnect(e)
    assert "initial_h port" in validate(g2).wire_problem("encoder", 1, "decoder", 1)


def test_an_lstm_needs_both_h_and_c_but_either_wire_may_be_drawn_first():
    (problem,) = validate(encoder_decoder("LSTM", wire_c=False)).problems()
    assert problem.node == "decoder"
    assert "initial_c port is not wired" in problem.message
    g = encoder_decoder("LSTM", wire_c=False)
    g.disconnect(list(g.in_edges("decoder"))[1])
    a = validate(g)
    assert a.wire_problem("encoder", 1, "decoder", 1) is None      # h first: c comes next
    assert a.wire_problem("encoder", 2, "decoder", 2) is None      # or c first


def test_a_sequence_is_not_a_state():
    g = encoder_decoder("GRU")
    g.disconnect(list(g.in_edges("decoder"))[1])
    g.connect("target_in", 0, "decoder", 1)
    (problem,) = validate(g).problems()
    assert "initial_h port" in problem.message and "(4, 2)" in problem.message


def test_state_wires_survive_the_file_and_files_without_them_load_as_before(tmp_path):
    g = encoder_decoder("LSTM")
    path = tmp_path / "s2s.graph"
    fileformat.save(g, path)
    back = fileformat.load(path)
    assert sorted(map(repr, back.edges())) == sorted(map(repr, g.edges()))
    assert validate(back).problems() == []
    old = fileformat.load("samples/seq2seq_reverse.graph")   # written before the ports
    assert validate(old).errors() == []
