"""The seq2seq_states sample (an encoder's h and c wired into a decoder, teacher forcing) and
greedy decoding: the designer (`backends.decoding`), `netdesigner predict` and the exported
script's `--predict` run one loop (`export/templates/decoding_runtime.py`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends import data, decoding, jobs
from netdesigner.backends.export.templates import decoding_runtime
from netdesigner.backends.jobs import model_with_weights
from netdesigner.graph import Graph, fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE = SAMPLES / "seq2seq_states.graph"

#: the sample's stated targets on the 750 test samples (seed 0, 25 epochs), with margin below
#: the measured figures: teacher-forced per-digit accuracy (NumPy 99.93%, Keras 100%), and
#: greedy decoding, the decoder reading its own previous digit: per digit (NumPy 99.89%,
#: Keras 100%) and whole sequences right (NumPy 99.6%, Keras 100%)
TEACHER_FORCED_TARGET = 0.97
GREEDY_DIGIT_TARGET = 0.97
GREEDY_SEQUENCE_TARGET = 0.90


def test_the_designer_and_the_exported_script_decode_with_one_loop():
    assert decoding.greedy_decode is decoding_runtime.greedy_decode
    # its default decoder Input is the teacher-forcing data sets' array
    import inspect
    default = inspect.signature(decoding_runtime.greedy_decode).parameters["decoder_input"]
    assert default.default == data.TEACHER_INPUTS[1]


def test_the_samples_decoding_plan():
    g = fileformat.load(SAMPLE)
    plan = decoding.decoding_plan(g, data.load("reverse_teacher"))
    assert plan == {"inputs": ["encoder_in", "decoder_in"], "decoder_input": "decoder_in",
                    "source_input": "encoder_in", "source_steps": 6, "steps": 6, "start": 10,
                    "vocabulary": 10}
    # the wiring: the encoder's h and c are the decoder's initial states
    wires = {(e.source, e.source_port, e.target, e.target_port) for e in g.edges()}
    assert {("encoder", 1, "decoder", 1), ("encoder", 2, "decoder", 2)} <= wires
    # a design with one Input, or a data set without decoder_in, decodes nothing
    forced = data.load("reverse_teacher")
    assert decoding.decoding_plan(fileformat.load(SAMPLES / "mlp_digits.graph"), forced) is None
    assert decoding.decoding_plan(g, data.load("reverse")) is None


def test_the_decoder_input_may_have_another_id_through_the_arrays_setting():
    g = Graph()
    src = g.add_node("Input", {"shape": [6], "dtype": "int32"}, node_id="digits_in")
    prev = g.add_node("Input", {"shape": [6], "dtype": "int32"}, node_id="previous")
    joined = g.add_node("Concatenate", {})
    out = g.add_node("Dense", {"units": 10, "activation": "softmax"})
    g.connect(src, 0, joined, 0)
    g.connect(prev, 0, joined, 1)
    g.connect(joined, 0, out, 0)
    g.training["arrays"] = "digits_in=encoder_in, previous=decoder_in"
    plan = decoding.decoding_plan(g, data.load("reverse_teacher"))
    assert (plan["decoder_input"], plan["source_input"], plan["vocabulary"]) == (
        "previous", "digits_in", None)


def test_typed_sequences_are_checked_in_sentences():
    plan = decoding.decoding_plan(fileformat.load(SAMPLE), data.load("reverse_teacher"))
    np.testing.assert_array_equal(decoding.parse_sequences("3 1 4 1 5 9; 2,7,1,8,2,8", plan),
                                  [[3, 1, 4, 1, 5, 9], [2, 7, 1, 8, 2, 8]])
    for text, message in [("3 1 x 1 5 9", "sequence 1, token 3: 'x' is not a token id"),
                          ("3 1 4 1 5 10", "token 6: 10 is outside the vocabulary of "
                                           "encoder_in \\(0 to 9\\)"),
                          ("3 1 4", "encoder_in reads 6 tokens; the sequences have 3"),
                          ("1 2 3 4 5 6; 1 2", "different lengths"),
                          (" ; ", "type at least one sequence")]:
        with pytest.raises(decoding.DecodingError, match=message):
            decoding.parse_sequences(text, plan)


def test_netdesigner_predict_decodes_typed_sequences(capsys):
    """On the seeded initial weights (quick): the command's tokens are backends.decoding's."""
    from netdesigner.designer.cli import main
    assert main(["predict", str(SAMPLE), "--random", "--tokens", "3 1 4 1 5 9; 2 7 1 8 2 8",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    prepared = jobs.prepare(fileformat.load(SAMPLE), str(SAMPLES))
    plan = decoding.decoding_plan(prepared.network, prepared.split.dataset)
    model = model_with_weights("numpy", prepared)
    want = decoding.decode("numpy", model, plan, np.array(out["sources"]))
    assert out["decoded"] == want.tolist() and len(out["decoded"]) == 2
    assert main(["predict", str(SAMPLE), "--random", "--tokens", "3 1 4"]) == 1
    assert "encoder_in reads 6 tokens" in capsys.readouterr().err
    assert main(["predict", str(SAMPLES / "mlp_digits.graph"), "--tokens", "1"]) == 1
    assert "not trained with teacher forcing" in capsys.readouterr().err


def test_the_exported_script_decodes_as_the_designer(tmp_path):
    """The script's --predict path (decode_sequences, with the copied loop) on the Keras model
    of the seeded initial weights gives backends.decoding's tokens (quick: in-process)."""
    import importlib.util

    from netdesigner.backends.export import compiled_model, export
    prepared = jobs.prepare(fileformat.load(SAMPLE), str(SAMPLES))
    g = fileformat.load(SAMPLE)
    model = compiled_model(g)
    script, *_ = export(g, "py", tmp_path / "net.py", split=prepared.split, model=model,
                        with_data=False)
    text = script.read_text()
    assert "DECODE = {" in text and "def greedy_decode(" in text
    spec = importlib.util.spec_from_file_location("exported_seq2seq_states", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sources = np.array([[3, 1, 4, 1, 5, 9], [2, 7, 1, 8, 2, 8]])
    plan = decoding.decoding_plan(prepared.network, prepared.split.dataset)
    np.testing.assert_array_equal(module.decode_sequences(model, sources),
                                  decoding.decode("keras", model, plan, sources))


def _trained(backend: str):
    g = fileformat.load(SAMPLE)
    outcome = jobs.execute(jobs.Job(fileformat.dumps(g), str(SAMPLES), backend, stats_every=0),
                           lambda event: None)
    return g, outcome


@pytest.mark.long          # 25 epochs: measured 6 s on NumPy, 19 s on Keras (2 cores)
@pytest.mark.parametrize("backend", ["numpy", "keras"])
def test_the_sample_reverses_with_teacher_forcing_and_decoding_greedily(backend):
    g, outcome = _trained(backend)
    report = outcome.evaluation["report"]
    assert report["accuracy"] >= TEACHER_FORCED_TARGET, report
    split = outcome.prepared.split
    plan = decoding.decoding_plan(outcome.prepared.network, split.dataset)
    encoder_in, _ = split.x_test
    tokens = decoding.decode(backend, outcome.result.model, plan, encoder_in)
    right = tokens == split.y_test
    assert right.mean() >= GREEDY_DIGIT_TARGET, right.mean()
    assert right.all(axis=1).mean() >= GREEDY_SEQUENCE_TARGET, right.all(axis=1).mean()


@pytest.mark.long          # a NumPy training, then the script in a fresh Python (TensorFlow)
def test_the_exported_script_prints_the_designers_greedy_decoding(tmp_path):
    from netdesigner.backends.export import export
    from netdesigner.backends.numpy.weights import save_npz
    g, outcome = _trained("numpy")
    weights = tmp_path / "trained.npz"
    save_npz(outcome.result.model, weights)
    split = outcome.prepared.split
    script, *_ = export(g, "py", tmp_path / "net.py", weights=str(weights), split=split,
                        with_data=False)
    encoder_in, _ = split.x_test
    sources = encoder_in[:8]
    np.save(tmp_path / "sources.npy", sources)
    done = subprocess.run([sys.executable, str(script), "--predict", "sources.npy"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                               "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    printed = np.array([[int(t) for t in line.split()] for line in done.stdout.splitlines()
                        if line.strip()])
    plan = decoding.decoding_plan(outcome.prepared.network, split.dataset)
    want = decoding.decode("numpy", outcome.result.model, plan, sources)
    np.testing.assert_array_equal(printed, want)
    np.testing.assert_array_equal(printed, sources[:, ::-1])      # the reversals
