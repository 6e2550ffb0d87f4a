"""Writes seq2seq_attention_additive.graph and seq2seq_attention_dot.graph (and, with --baseline
FILE, the RepeatVector seq2seq of seq2seq_reverse.graph retargeted to the same longer data set,
the measured "no attention" comparison in README.md).

    python samples/make_attention_samples.py

The two samples differ only in the attention layer: the encoder LSTM's output at every step is
the value (and key) sequence; its final state, repeated for every output step, drives a decoder
LSTM whose outputs are the queries; the attention's context (the weighted sum of encoder steps)
is joined to the decoder's output and a softmax per step names the digit.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from netdesigner.graph import Graph, fileformat

HERE = Path(__file__).resolve().parent
STEPS = 16

TRAINING = {"dataset": "reverse_long", "loss": "sparse_categorical_crossentropy",
            "optimizer": "adam", "batch_size": 64, "epochs": 20, "seed": 0,
            "validation_split": 0.15, "test_split": 0.15, "normalize": "none",
            "optimizer_params": {"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999,
                                 "epsilon": 1e-07},
            "metrics": ["accuracy"]}

KINDS = {
    "additive": ("AdditiveAttention", {},
                 "Seq2seq with additive (Bahdanau) attention",
                 "Additive (Bahdanau) attention: score(query, key) = sum(scale * tanh(query + "
                 "key))."),
    "dot": ("Attention", {"use_scale": True},
            "Seq2seq with dot-product (Luong) attention",
            "Dot-product (Luong) attention: score(query, key) = scale * (query . key)."),
}


def attention_graph(kind: str) -> Graph:
    layer, params, title, how = KINDS[kind]
    g = Graph()
    x = g.add_node("Input", {"shape": [STEPS], "dtype": "int32"}, (0, 0))
    emb = g.add_node("Embedding", {"input_dim": 10, "output_dim": 16}, (280, 0))
    enc = g.add_node("LSTM", {"units": 64, "return_sequences": True, "return_state": True},
                     (560, 0))
    rep = g.add_node("RepeatVector", {"n": STEPS}, (840, 160))
    dec = g.add_node("LSTM", {"units": 64, "return_sequences": True}, (1120, 160))
    att = g.add_node(layer, params, (1400, 0))
    query = dec
    if kind == "dot":                  # Luong's "general" score: query W . key
        query = g.add_node("Dense", {"units": 64, "activation": "linear", "use_bias": False},
                           (1260, 160))
        g.connect(dec, 0, query, 0)
    cat = g.add_node("Concatenate", {"axis": -1}, (1680, 80))
    out = g.add_node("TimeDistributed", {"units": 10, "activation": "softmax"}, (1960, 80))
    g.connect(x, 0, emb, 0)
    g.connect(emb, 0, enc, 0)
    g.connect(enc, 1, rep, 0)          # the encoder's final hidden state
    g.connect(rep, 0, dec, 0)
    g.connect(query, 0, att, 0)        # query: the decoder's step
    g.connect(enc, 0, att, 1)          # value (and key): every encoder step
    g.connect(att, 0, cat, 0)
    g.connect(dec, 0, cat, 1)
    g.connect(cat, 0, out, 0)
    g.metadata["title"] = title
    g.metadata["description"] = (
        f"Reversing {STEPS} digits (reverse_long), too many for one encoder vector. The encoder "
        "LSTM keeps its output at every step; a decoder LSTM, started from the encoder's final "
        "state, gives one query per output step, and the attention layer looks up the encoder "
        f"step it needs. {how} Trace a test sample and open the Attention tab (or netdesigner "
        f"trace FILE --layer {att}): the weights form an anti-diagonal, output step t reads "
        f"input step {STEPS - 1}-t.")
    g.training.update(TRAINING)
    if kind == "dot":
        # the dot-product scores are unbounded: without clipping, Keras's run (same weights and
        # batches) blew up at epoch 18 (validation accuracy 79% -> 20%) and ended at 49%
        g.training["clip_norm"] = 1.0
    return g


def baseline_graph() -> Graph:
    """seq2seq_reverse.graph (no attention) on reverse_long, with the samples' settings."""
    g = fileformat.load(HERE / "seq2seq_reverse.graph")
    for n in g.nodes():
        node = g.node(n)
        if node.type == "Input":
            node.params["shape"] = [STEPS]
        elif node.type == "RepeatVector":
            node.params["n"] = STEPS
    g.training.update(TRAINING)
    return g


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="also write the no-attention comparison here")
    a = ap.parse_args()
    for kind in KINDS:
        fileformat.save(attention_graph(kind), HERE / f"seq2seq_attention_{kind}.graph")
    if a.baseline:
        fileformat.save(baseline_graph(), a.baseline)


if __name__ == "__main__":
    main()
