"""Greedy decoding, for a sequence model trained with teacher forcing: the one loop that the
designer's decoding (`backends.decoding`, `netdesigner predict`) and an exported script's
`--predict` both run. The exporter copies its functions, as written, into supervised scripts.
"""
import numpy as np

# the names a script's generated part defines that these functions use: none
GENERATED = ()


def greedy_decode(predict, inputs, steps, start, decoder_input="decoder_in"):
    """The tokens (samples, steps) a teacher-forced network writes when its decoder input
    (`decoder_input`) is its own previous prediction, after the `start` token: every sequence
    starts with the start token; the network runs, the most likely token of step t is written
    into the decoder's input at step t + 1, and it runs again (`steps` passes, each over the
    whole sequence; right for a causal decoder, which teacher forcing trains).

    `predict`: {Input id: array} -> the network's output (samples, steps, classes); `inputs`:
    the other Inputs' arrays ({Input id: array}), e.g. the encoder's sequence."""
    if decoder_input in inputs:
        raise ValueError(f"greedy decoding writes the Input {decoder_input} itself; give only the "
                         f"other Inputs ({', '.join(k for k in inputs if k != decoder_input)})")
    n = len(next(iter(inputs.values())))
    fed = np.zeros((n, steps), dtype=np.int32)
    fed[:, 0] = start
    tokens = np.zeros((n, steps), dtype=np.int64)
    for t in range(steps):
        out = np.asarray(predict({**inputs, decoder_input: fed}))
        if out.ndim != 3 or out.shape[1] != steps:
            raise ValueError(f"greedy decoding needs one class per time step, an output of shape "
                             f"(samples, {steps}, classes); the network gives "
                             f"{tuple(out.shape)}")
        tokens[:, t] = out[:, t].argmax(axis=-1)
        if t + 1 < steps:
            fed[:, t + 1] = tokens[:, t]
    return tokens
