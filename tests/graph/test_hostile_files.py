"""Hostile and broken `.graph` files (issue 12): each ends in one clear sentence naming the file
and the JSON path, or in a list of problems, quickly and in bounded memory; never a traceback,
a hang or a crash of the program that reads it.

The reproducers are in fixtures/hostile/ (README there); each broke the program once.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import time
import tracemalloc
from pathlib import Path

import pytest

from netdesigner.designer import cli
from netdesigner.graph import fileformat
from netdesigner.graph.fileformat import GraphFileError
from netdesigner.graph.limits import (LIMITS, LimitError, Limits, check_text, decode,
                                      expanded_size)
from netdesigner.graph.model import Graph
from netdesigner.graph.training import default_settings, settings_problems
from netdesigner.graph.validation import Analysis

from tests.alarm import time_limit
from tests.graph.builders import mlp as mlp_chain


def mlp() -> Graph:
    return mlp_chain(8, 4, inputs=4)[0]

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"

# fixture -> (validate's exit code, JSON path at fault or None, words the message must hold)
EXPECTED = {
    "deep_nesting": (2, "line 1, column", "nested more than 64 deep"),
    "block_output_missing": (1, None, "its output 'ghost' is not a node of the block"),
    "block_output_port": (1, None, "port 1 of 'bi', which has only 1 output"),
    "float_param_bigint": (2, "nodes[1].params.l1", "(401 digits) is too large"),
    "position_bigint": (2, "nodes[0].position[0]", "(401 digits) is too large"),
    "inf_param": (2, "nodes[1].params.l2", "1e999 is too large for a float"),
    "split_string": (2, "training.validation_split", "must be a number"),
    "split_null": (2, "training.validation_split", "a value is required"),
    "optimizer_list": (2, "training.optimizer", "must be one of"),
    "v1_layers_null": (2, "layers", "must be a list, not null"),
    "type_version_negative": (2, "nodes[0].type_version", "must be 1 or more"),
    "target_port_1e6": (2, "edges[0].target_port", "port 1000000 is beyond"),
    "target_port_1e9": (2, "edges[0].target_port", "port 1000000000 is beyond"),
    "nested_growing_blocks": (1, None, "expands to more than 200,000 layers"),
    "runs_null": (2, "runs[0]", "must be an object, not null"),
    "id_newline": (2, "nodes[1].id", "'dense_1\\n' is not a valid id"),
    # These validate: what they attack is the exported script (tests of the export).
    "evil_title": (0, None, "No problems."),
    "evil_description": (0, None, "No problems."),
    "backslash_title": (0, None, "No problems."),
    "backslash_N_title": (0, None, "No problems."),
}


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli.main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def test_every_fixture_has_an_expectation():
    assert sorted(p.stem for p in HOSTILE.glob("*.graph")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_gives_a_clear_answer_quickly(name):
    code, json_path, words = EXPECTED[name]
    path = HOSTILE / f"{name}.graph"
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with time_limit(5):
            rc, out, err = run_cli("validate", str(path))
        took = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert rc == code, f"{name}: exit {rc}\n{out}{err}"
    assert took < 2.0, f"{name} took {took:.2f} s"
    assert peak < 200 * 2 ** 20, f"{name} needed {peak / 2 ** 20:.0f} MB"
    text = err if code == 2 else out
    assert words in text
    if code == 2:
        # one line: the file, where in it, and what is wrong
        assert err.count("\n") == 1 and err.startswith(f"error: {path}")
        if json_path:
            assert f"{path}: {json_path}" in err


@pytest.mark.parametrize("name", [n for n, (code, _, _) in EXPECTED.items() if code == 2])
def test_the_load_error_carries_the_json_path(name):
    with time_limit(5), pytest.raises(GraphFileError) as info:
        fileformat.load(HOSTILE / f"{name}.graph")
    expected = EXPECTED[name][1]
    assert info.value.json_path is not None and info.value.json_path.startswith(expected)


# -- graph/limits.py ----------------------------------------------------------------------------

def test_depth_scan_skips_brackets_inside_strings():
    tight = Limits(json_depth=3)
    check_text('{"a": ["[[[[[[[[", "{{{{{\\"[[[["]}', tight)
    with pytest.raises(LimitError, match="nested more than 3 deep"):
        check_text('{"a": [[[1]]]}', tight)


def test_deep_nesting_is_refused_before_the_parser_recurses():
    text = '{"format": "netdesigner.graph", "x": ' + "[" * 200_000 + "]" * 200_000 + "}"
    with pytest.raises(LimitError) as info:
        decode(text)
    assert info.value.json_path == "line 1, column 101"      # the 65th bracket


@pytest.mark.parametrize("literal, words", [
    ("1" * 30, "(30 digits) is too large"), (str(2 ** 53 + 1), "is too large"),
    ("-1e400", "too large for a float"), ("NaN", "NaN is not allowed"),
    ("-Infinity", "-Infinity is not allowed")])
def test_numbers_the_model_cannot_hold_are_refused_with_their_path(literal, words):
    with pytest.raises(LimitError) as info:
        decode('{"nodes": [{"params": {"rate": ' + literal + "}}]}")
    assert info.value.json_path == "nodes[0].params.rate"
    assert words in str(info.value)


def test_strings_and_keys_are_bounded():
    with pytest.raises(LimitError, match="text of 1,000,001 characters") as info:
        decode(json.dumps({"metadata": {"description": "x" * 1_000_001}}))
    assert info.value.json_path == "metadata.description"
    with pytest.raises(LimitError, match="a key of 201 characters"):
        decode(json.dumps({"metadata": {"k" * 201: 1}}))


def test_a_file_larger_than_the_limit_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "big.graph"
    path.write_text(fileformat.dumps(mlp()))
    monkeypatch.setattr(fileformat, "LIMITS", Limits(file_bytes=100))
    with pytest.raises(GraphFileError, match="a project file may be at most 100"):
        fileformat.load(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.graph"
    os.mkfifo(fifo)
    with time_limit(2), pytest.raises(GraphFileError, match="is not a regular file"):
        fileformat.load(fifo)


def test_node_and_edge_counts_are_checked_before_building(monkeypatch):
    data = fileformat.to_dict(mlp())
    monkeypatch.setattr(fileformat, "LIMITS", Limits(nodes=2))
    with pytest.raises(GraphFileError, match=r"\d+ layers in all; at most 2"):
        fileformat.from_dict(data)


def test_history_must_be_what_the_runs_tab_reads():
    data = fileformat.to_dict(mlp())
    for runs, path in (([{"history": "x"}], "runs[0].history"),
                       ([{"history": {"loss": "abc"}}], "runs[0].history.loss"),
                       ([{"history": {"loss": [0.5, "x"]}}], "runs[0].history.loss[1]"),
                       ([{"label": ["a"]}], "runs[0].label"), ("x", "runs")):
        with pytest.raises(GraphFileError) as info:
            fileformat.from_dict({**data, "runs": runs})
        assert info.value.json_path == path
    # a run without validation has null for val_loss: that is kept
    graph = fileformat.from_dict({**data, "runs": [{"history": {"val_loss": [None, None]}}]})
    assert graph.runs[0]["history"]["val_loss"] == [None, None]


def test_title_must_be_text():
    data = fileformat.to_dict(mlp())
    with pytest.raises(GraphFileError) as info:
        fileformat.from_dict({**data, "metadata": {"title": ["x"]}})
    assert info.value.json_path == "metadata.title"


def test_training_settings_of_the_wrong_type_are_problems_not_type_errors():
    for key, value in (("optimizer", ["adam"]), ("optimizer", {"a": 1}), ("loss", ["mse"]),
                       ("validation_split", None), ("test_split", "x"), ("metrics", [["x"]])):
        settings = {**default_settings(), key: value}
        problems = dict(settings_problems(settings))
        assert key in problems, (key, value, problems)


# -- ids ----------------------------------------------------------------------------------------

def test_ids_ending_in_a_newline_are_refused():
    g = Graph()
    with pytest.raises(ValueError, match="must start with a letter"):
        g.add_node("Input", {"shape": (4,)}, node_id="input_1\n")
    from netdesigner.graph.model import BlockDef
    with pytest.raises(ValueError, match="must be an identifier"):
        g.define_block(BlockDef("b\n", Graph(), [], []))


# -- what the design asks for ---------------------------------------------------------------------

def _big_dense(units: int = 1_000_000, inputs: int = 1_000_000) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": (inputs,)}, node_id="input_1")
    g.add_node("Dense", {"units": units}, node_id="huge")
    g.connect("input_1", 0, "huge", 0)
    return g


def test_weights_beyond_memory_are_a_problem_naming_the_layer_and_size():
    problems = Analysis(_big_dense(), live=False).errors()
    memory = [p for p in problems if p.code == "memory"]
    assert len(memory) == 1 and memory[0].node == "huge"
    assert "weights need 3.6 TB" in memory[0].message and "memory this machine has" in \
        memory[0].message


def test_one_batchs_activations_beyond_memory_are_a_problem():
    g = _big_dense(units=1000, inputs=1000)
    g.set_training("batch_size", 1_000_000)
    analysis = Analysis(g, live=False)
    memory = analysis.memory_problems(budget=2 ** 30)          # a declared 1 GB cap
    assert len(memory) == 1 and memory[0].node in ("input_1", "huge")   # equal outputs
    assert "activations for one batch of 1000000 need 7.5 GB" in memory[0].message
    g.set_training("batch_size", 32)
    assert not analysis.memory_problems(budget=2 ** 30)


def test_the_numpy_backend_refuses_a_design_beyond_memory():
    # before: numpy's _ArrayMemoryError (a traceback), or the kernel's out-of-memory kill
    from netdesigner.backends.numpy.model import CompileError, compile_graph
    with pytest.raises(CompileError, match="huge: The network's weights need 3.6 TB"):
        compile_graph(_big_dense())


def test_the_keras_backend_refuses_a_design_beyond_memory():
    from netdesigner.backends.keras.compiler import CompileError, compile_graph
    with pytest.raises(CompileError, match="huge: The network's weights need 3.6 TB"):
        compile_graph(_big_dense())


def test_block_expansion_and_nesting_are_bounded():
    graph = fileformat.load(HOSTILE / "nested_growing_blocks.graph")
    k = graph.node("k")
    assert expanded_size(graph.blocks, [k]) > LIMITS.expanded_nodes
    tight = Limits(block_nesting=1)
    from netdesigner.graph.limits import expansion_problem
    assert "nested more than 1 deep (outer -> grow)" in expansion_problem(graph.blocks, k, tight)


def test_many_unconnected_ports_are_summed_up():
    g = Graph()
    g.add_node("Input", {"shape": (4,)}, node_id="i")
    g.add_node("Concatenate", {}, node_id="c")
    from netdesigner.graph.events import Edge
    g.restore_edge(Edge("i", 0, "c", 1000))
    problems = [p for p in Analysis(g, live=False).problems() if p.node == "c"]
    assert len(problems) <= 10
    assert "992 more inputs (up to input 999) are not connected" in problems[-2].message or \
        any("992 more inputs" in p.message for p in problems)


# -- the CLI's exit codes -------------------------------------------------------------------------

def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good.graph"
    fileformat.save(mlp(), good)
    assert run_cli("validate", str(good))[0] == 0
    assert run_cli("validate", str(tmp_path / "missing.graph"))[0] == 2
    assert run_cli("validate", str(HOSTILE / "block_output_missing.graph"))[0] == 1


def test_a_crash_inside_the_program_is_one_line_and_exit_3(tmp_path, monkeypatch):
    good = tmp_path / "good.graph"
    fileformat.save(mlp(), good)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug\nsecond line")
    monkeypatch.setattr("netdesigner.graph.validation.Analysis", broken)
    rc, out, err = run_cli("validate", str(good))
    assert rc == cli.EXIT_INTERNAL == 3
    assert err.startswith("internal error: RuntimeError at test_hostile_files.py:")
    assert "simulated bug" in err and "please report" in err and "second line" not in err
    assert "Traceback" not in err and err.count("\n") == 1


# -- saving ---------------------------------------------------------------------------------------

def test_saving_keeps_the_files_mode(tmp_path):
    path = tmp_path / "net.graph"
    fileformat.save(mlp(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask      # not mkstemp's 0600
    for mode in (0o644, 0o640, 0o664):
        path.chmod(mode)
        fileformat.save(mlp(), path)
        assert stat.S_IMODE(path.stat().st_mode) == mode


def test_temporary_files_of_an_interrupted_save_are_removed(tmp_path):
    path = tmp_path / "net.graph"
    fileformat.save(mlp(), path)
    left = [tmp_path / ".net.graph.ab12_xyz.tmp", tmp_path / ".net.graph.QQQQQQQQ.tmp"]
    other = [tmp_path / ".other.graph.ab12_xyz.tmp", tmp_path / "net.graph.ab12_xyz.tmp"]
    for p in left + other:
        p.write_text("half a project")
    # on open: only those old enough not to belong to a save running right now
    os.utime(left[0], (time.time() - 3600, time.time() - 3600))
    fileformat.load(path)
    assert not left[0].exists() and left[1].exists()
    # on save: every one
    fileformat.save(mlp(), path)
    assert not left[1].exists()
    assert all(p.exists() for p in other), "only this file's temporaries are touched"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["net.graph"] + [p.name for p in other])
