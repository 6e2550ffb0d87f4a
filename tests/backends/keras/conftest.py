"""Shared set-up for the Keras backend tests: quiet TensorFlow, the samples, small designs."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples"


def load_sample(name: str):
    from netdesigner.graph import fileformat
    return fileformat.load(SAMPLES / f"{name}.graph")


@pytest.fixture(scope="session")
def digits_mlp():
    """(design, flat design, prepared split) of samples/mlp_digits.graph."""
    from netdesigner.backends.jobs import prepare
    graph = load_sample("mlp_digits")
    prepared = prepare(graph, str(SAMPLES))
    flat, split = prepared.network, prepared.split
    return graph, flat, split


def two_heads():
    """Two inputs, a shared trunk, two outputs (a multi-input / multi-output design)."""
    from netdesigner.graph import Graph
    g = Graph()
    a = g.add_node("Input", {"shape": (6,)}, node_id="features")
    b = g.add_node("Input", {"shape": (4,)}, node_id="extra")
    cat = g.add_node("Concatenate", {}, node_id="joined")
    g.connect(a, 0, cat, 0)
    g.connect(b, 0, cat, 1)
    trunk = g.add_node("Dense", {"units": 8, "activation": "relu", "l2": 0.01}, node_id="trunk")
    g.connect(cat, 0, trunk, 0)
    h1 = g.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="head_a")
    h2 = g.add_node("Dense", {"units": 3, "activation": "softmax"}, node_id="head_b")
    g.connect(trunk, 0, h1, 0)
    g.connect(trunk, 0, h2, 0)
    return g


def sequence_design():
    """Tokens -> Embedding -> LSTM (with its states) -> Bidirectional GRU -> attention ->
    pooling -> softmax: recurrent layers, several output ports and multi-input layers."""
    from netdesigner.graph import Graph
    g = Graph()
    tok = g.add_node("Input", {"shape": (12,), "dtype": "int32"}, node_id="tokens")
    emb = g.add_node("Embedding", {"input_dim": 50, "output_dim": 8}, node_id="embed")
    g.connect(tok, 0, emb, 0)
    lstm = g.add_node("LSTM", {"units": 8, "return_sequences": True, "return_state": True},
                      node_id="lstm")
    g.connect(emb, 0, lstm, 0)
    bi = g.add_node("Bidirectional", {"layer": "GRU", "units": 4, "return_sequences": True},
                    node_id="bigru")
    g.connect(lstm, 0, bi, 0)
    mha = g.add_node("MultiHeadAttention", {"num_heads": 2, "key_dim": 4}, node_id="mha")
    g.connect(bi, 0, mha, 0)
    g.connect(bi, 0, mha, 1)
    pool = g.add_node("GlobalAveragePooling1D", {}, node_id="pool")
    g.connect(mha, 0, pool, 0)
    state = g.add_node("Add", {}, node_id="with_state")
    g.connect(lstm, 1, state, 0)
    g.connect(lstm, 2, state, 1)
    cat = g.add_node("Concatenate", {}, node_id="cat")
    g.connect(pool, 0, cat, 0)
    g.connect(state, 0, cat, 1)
    out = g.add_node("Dense", {"units": 2, "activation": "softmax"}, node_id="out")
    g.connect(cat, 0, out, 0)
    return g
