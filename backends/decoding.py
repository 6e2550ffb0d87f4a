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

The loop itself lives in `export/templates/decoding_runtime.py`, because an exported script
runs the same code (copied into it, as written) for its `--predict`; here it is imported, and
`decoding_plan` says what a design decodes (which Input the decoder reads, the start token,
the steps), for the exporter and `netdesigner predict` alike. `predict` is any function from
{Input id: array} to the network's output (samples, steps, classes); `predictor` makes one
from a trained model of either backend.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .data import TEACHER_INPUTS, DataError, Dataset, array_choices, match_arrays
from .export.templates.decoding_runtime import greedy_decode

__all__ = ["greedy_decode", "decoding_plan", "predictor", "parse_sequences", "decode",
           "decode_text", "run_decoding"]

#: why a design has nothing to decode greedily
NOT_TEACHER_FORCED = ("this design is not trained with teacher forcing (two Inputs, one of them "
                      "fed a decoder_in array that starts with a start token, e.g. the "
                      "reverse_teacher data set): there is nothing to decode greedily")


class DecodingError(ValueError):
    """Why a design or a typed sequence cannot be decoded, as a sentence."""


def decoding_plan(graph, dataset: Dataset | None) -> dict | None:
    """What greedy decoding of `graph` needs, or None when it is not a teacher-forced sequence
    design: two Inputs, one of them fed the data set's `decoder_in` array (directly or through
    the training setting `arrays`), whose first step holds one start token. The plan:
    {"inputs": the Input ids in the network's order, "decoder_input": the Input the decoder
    reads, "source_input": the other one, "source_steps": its length (None: any), "steps",
    "start", "vocabulary": the source's Embedding input_dim (None without one)}."""
    inputs = graph.inputs()
    if dataset is None or len(inputs) != 2 or TEACHER_INPUTS[1] not in (dataset.arrays or {}):
        return None
    try:
        chosen = array_choices(graph.training.get("arrays", ""), inputs + graph.outputs())
        fed, _ = match_arrays(dataset, inputs, graph.outputs(), chosen)
    except DataError:
        return None
    decoder = next((node for node, name in fed.items() if name == TEACHER_INPUTS[1]), None)
    first = np.unique(np.asarray(dataset.arrays[TEACHER_INPUTS[1]])[:, 0])
    if decoder is None or len(first) != 1:
        return None
    source = next(node for node in inputs if node != decoder)
    vocabulary = next((graph.node(e.target).params.get("input_dim")
                       for e in graph.out_edges(source)
                       if graph.node(e.target).type == "Embedding"), None)
    shape = graph.node(source).params.get("shape")
    shape = tuple(shape) if isinstance(shape, (list, tuple)) else ()
    return {"inputs": list(inputs), "decoder_input": decoder, "source_input": source,
            "source_steps": shape[0] if len(shape) == 1 and isinstance(shape[0], int) else None,
            "steps": int(np.shape(dataset.arrays[TEACHER_INPUTS[1]])[1]),
            "start": int(first[0]), "vocabulary": vocabulary}


def parse_sequences(text: str, plan: dict) -> np.ndarray:
    """Typed sequences ("3 1 4 1 5 9", several separated by ';') -> (n, length) token ids,
    each a whole number of the source's vocabulary (DecodingError: which one, as a sentence)."""
    rows = []
    for s, part in enumerate(filter(None, (p.strip() for p in text.split(";"))), 1):
        row = []
        for k, word in enumerate(part.replace(",", " ").split(), 1):
            try:
                token = int(word)
            except ValueError:
                raise DecodingError(f"sequence {s}, token {k}: {word!r} is not a token id "
                                    f"(type whole numbers, e.g. 3 1 4 1 5 9)") from None
            vocabulary = plan["vocabulary"]
            if token < 0 or (vocabulary is not None and token >= vocabulary):
                raise DecodingError(f"sequence {s}, token {k}: {token} is outside the "
                                    f"vocabulary of {plan['source_input']} (0 to "
                                    f"{(vocabulary or 1) - 1})")
            row.append(token)
        rows.append(row)
    if not rows:
        raise DecodingError("type at least one sequence of token ids, e.g. 3 1 4 1 5 9")
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise DecodingError(f"the sequences have different lengths ({sorted(lengths)}): "
                            f"{plan['source_input']} reads sequences of one length")
    if plan.get("source_steps") and lengths != {plan["source_steps"]}:
        raise DecodingError(f"{plan['source_input']} reads {plan['source_steps']} tokens; the "
                            f"sequences have {lengths.pop()}")
    return np.asarray(rows, dtype=np.int32)


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


def decode(backend: str, model, plan: dict, sources: np.ndarray) -> np.ndarray:
    """The greedy-decoded tokens (n, steps) of a trained model for the source sequences."""
    return greedy_decode(predictor(backend, model, plan["inputs"]),
                         {plan["source_input"]: np.asarray(sources)}, plan["steps"],
                         plan["start"], plan["decoder_input"])


def decode_text(graph, base_dir, text: str, weights=None, backend: str = "numpy") -> dict:
    """Greedy decoding of typed source sequences (`parse_sequences`) by `graph` with `weights`
    (an .npz path; None: the initial weights) on `backend`: what `netdesigner predict` and the
    Trace panel's Decode both run. {"sources": (n, length), "decoded": (n, steps), "plan"};
    a DecodingError (or a data fault) says why not, as a sentence."""
    from .jobs import model_with_weights, prepare
    prepared = prepare(graph, base_dir)
    plan = decoding_plan(prepared.network, prepared.split.dataset)
    if plan is None:
        raise DecodingError(NOT_TEACHER_FORCED)
    sources = parse_sequences(text, plan)
    model = model_with_weights(backend, prepared, weights, DecodingError)
    return {"sources": sources, "decoded": decode(backend, model, plan, sources), "plan": plan}


def run_decoding(graph_text: str, base_dir: str, text: str, weights, backend: str) -> dict:
    """`decode_text` for a worker process (the window decodes off its GUI thread, and Keras
    must not load into the GUI): the design as .graph text in; the result, or
    {"error": sentence}."""
    from netdesigner.graph import fileformat
    try:
        return decode_text(fileformat.loads(graph_text, "<project>"), base_dir, text, weights,
                           backend)
    except ValueError as e:             # DecodingError, a data fault, unreadable weights
        return {"error": str(e)}
