"""Small graphs that several tests share."""
from netdesigner.graph import Graph


def chain(specs, graph=None, y=0.0) -> tuple[Graph, list[str]]:
    """A straight line of layers: [(type, params), ...] wired output 0 -> input 0."""
    graph = graph or Graph()
    ids, prev = [], None
    for i, (type_id, params) in enumerate(specs):
        node = graph.add_node(type_id, params, (200.0 * i, y))
        if prev is not None:
            graph.connect(prev, 0, node, 0)
        ids.append(node)
        prev = node
    return graph, ids


def mlp(*units, inputs=64) -> tuple[Graph, list[str]]:
    return chain([("Input", {"shape": (inputs,)})]
                 + [("Dense", {"units": u, "activation": "relu"}) for u in units])


def seq2seq_states() -> Graph:
    """Encoder states as wires: an LSTM's h and c start a decoder LSTM (initial_h/initial_c),
    a Dense of the encoder's h starts a GRU, and a SimpleRNN starts from the GRU's state."""
    g = Graph()
    src = g.add_node("Input", {"shape": (5, 3)}, node_id="source")
    tgt = g.add_node("Input", {"shape": (4, 2)}, node_id="target_in")
    enc = g.add_node("LSTM", {"units": 4, "return_state": True}, node_id="encoder")
    dec = g.add_node("LSTM", {"units": 4, "return_sequences": True}, node_id="decoder")
    bridge = g.add_node("Dense", {"units": 3, "activation": "tanh"}, node_id="bridge")
    gru = g.add_node("GRU", {"units": 3, "return_state": True, "go_backwards": True},
                     node_id="gru")
    rnn = g.add_node("SimpleRNN", {"units": 3, "return_sequences": True}, node_id="rnn")
    out = g.add_node("TimeDistributed", {"units": 2}, node_id="out_seq")
    cat = g.add_node("Concatenate", {}, node_id="cat")
    for a, ap, b, bp in [(src, 0, enc, 0), (tgt, 0, dec, 0), (enc, 1, dec, 1), (enc, 2, dec, 2),
                         (dec, 0, out, 0), (enc, 1, bridge, 0), (tgt, 0, gru, 0),
                         (bridge, 0, gru, 1), (tgt, 0, rnn, 0), (gru, 1, rnn, 1),
                         (out, 0, cat, 0), (rnn, 0, cat, 1)]:
        g.connect(a, ap, b, bp)
    return g
