"""Greedy decoding: inference for a sequence model trained with teacher forcing.

While training, a teacher-forced decoder reads the right previous token at every step (the
`reverse_teacher` data sets' `decoder_in`: the target shifted right by one step, after a start
token). At inference there is no target: the decoder must read its own previous prediction.

    tokens = greedy_decode(predict, {"encoder_in": digits}, steps=6, start=10)

starts every sequence with the start token, runs the network, takes the most likely token of
step t and writes it into the decoder's input at step t + 1, then runs again: `steps` passes,
each over the whole sequence. This needs a causal decoder (step t's output depends on the
decoder's input up to step t only: a forward recurrent layer, or masked attention), which is
what teacher forcing trains anyway.

`predict` is any function from {Input id: array} to the network's output (samples, steps,
classes); `predictor` makes one from a trained model of either backend.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .data import TEACHER_INPUTS


def greedy_decode(predict: Callable[[dict], np.ndarray], inputs: dict, steps: int, start: int,
                  decoder_input: str = TEACHER_INPUTS[1]) -> np.ndarray:
    """The tokens (samples, steps) a teacher-forced network writes when its decoder input
    (`decoder_input`) is its own previous prediction, after the `start` token. `inputs`: the
    other Inputs' arrays ({Input id: array}), e.g. the encoder's sequence."""
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


def predictor(backend: str, model, input_ids: list) -> Callable[[dict], np.ndarray]:
    """predict({Input id: array}) of a trained model of `backend` (numpy or keras), whose
    Inputs are `input_ids` in the network's order (`graph.inputs()`)."""
    from .modes.base import training_module
    module = training_module(backend)

    def predict(feed: dict) -> np.ndarray:
        missing = [i for i in input_ids if i not in feed]
        if missing:
            raise ValueError(f"no array for the Input {missing[0]}")
        return module.predict(model, [feed[i] for i in input_ids])
    return predict
