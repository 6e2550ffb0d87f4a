"""Writes seq2seq_states.graph: an encoder-decoder whose only link is the encoder's final state.

    python samples/make_seq2seq_states.py

The encoder LSTM reads the 6 digits (Input encoder_in) and gives its final hidden and cell
states (return_state); they are wired into the decoder LSTM's initial_h and initial_c ports, the
decoder's start. The decoder reads the previous digit of the answer (Input decoder_in: teacher
forcing, the reverse_teacher data set's target shifted right after the start token 10) and a
softmax per step names the digit. At inference there is no answer to read: the decoder reads its
own previous prediction (greedy decoding: `netdesigner predict FILE --tokens "3 1 4 1 5 9"`,
and the exported script's --predict).
"""
from __future__ import annotations

from pathlib import Path

from netdesigner.graph import Graph, fileformat

HERE = Path(__file__).resolve().parent
STEPS = 6
UNITS = 64

TRAINING = {"dataset": "reverse_teacher", "loss": "sparse_categorical_crossentropy",
            "optimizer": "adam", "batch_size": 64, "epochs": 25, "seed": 0,
            "validation_split": 0.15, "test_split": 0.15, "normalize": "none",
            "one_hot": False,
            "optimizer_params": {"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999,
                                 "epsilon": 1e-07},
            "metrics": ["accuracy"]}


def seq2seq_states_graph() -> Graph:
    g = Graph()
    enc_in = g.add_node("Input", {"shape": [STEPS], "dtype": "int32"}, (0, 0),
                        node_id="encoder_in")
    dec_in = g.add_node("Input", {"shape": [STEPS], "dtype": "int32"}, (0, 240),
                        node_id="decoder_in")
    enc_emb = g.add_node("Embedding", {"input_dim": 10, "output_dim": 16}, (280, 0),
                         node_id="encoder_embedding")
    # 11 tokens: the 10 digits and the start token
    dec_emb = g.add_node("Embedding", {"input_dim": 11, "output_dim": 16}, (280, 240),
                         node_id="decoder_embedding")
    enc = g.add_node("LSTM", {"units": UNITS, "return_state": True}, (560, 0), node_id="encoder")
    dec = g.add_node("LSTM", {"units": UNITS, "return_sequences": True}, (840, 240),
                     node_id="decoder")
    out = g.add_node("TimeDistributed", {"units": 10, "activation": "softmax"}, (1120, 240),
                     node_id="digits")
    for a, ap, b, bp in [(enc_in, 0, enc_emb, 0), (enc_emb, 0, enc, 0),
                         (dec_in, 0, dec_emb, 0), (dec_emb, 0, dec, 0),
                         (enc, 1, dec, 1),      # state_h -> initial_h
                         (enc, 2, dec, 2),      # state_c -> initial_c
                         (dec, 0, out, 0)]:
        g.connect(a, ap, b, bp)
    g.metadata["title"] = "Seq2seq through the encoder's states (teacher forcing)"
    g.metadata["description"] = (
        "Reversing 6 digits. The encoder LSTM's final hidden and cell states (return_state) are "
        "wired into the decoder LSTM's initial_h and initial_c: the only path from the digits "
        "read to the decoder. Trained with teacher forcing (reverse_teacher): the decoder reads "
        "the previous right digit (decoder_in, after the start token 10). To use it, decode "
        "greedily, the decoder reading its own previous prediction: netdesigner predict FILE "
        "--tokens \"3 1 4 1 5 9\", or the exported script's --predict.")
    g.training.update(TRAINING)
    return g


def main():
    fileformat.save(seq2seq_states_graph(), HERE / "seq2seq_states.graph")


if __name__ == "__main__":
    main()
