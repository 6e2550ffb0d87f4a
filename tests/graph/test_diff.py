"""graph.diff on the samples: each against itself, against edited copies (each kind of change
reported exactly once), with renamed and re-created layers; and `netdesigner diff`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netdesigner.graph import Edge, fileformat
from netdesigner.graph.diff import (ADDED, AFFECTED, CHANGED, REMOVED, REWIRED, diff,
                                    match_layers)

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NAMES = sorted(p.stem for p in SAMPLES.glob("*.graph"))


def sample(name: str):
    return fileformat.load(SAMPLES / f"{name}.graph")


def renamed(graph, rename):
    """A copy of `graph` whose layer ids are `rename(id)` (positions and all else kept)."""
    data = json.loads(fileformat.dumps(graph))
    for node in data["nodes"]:
        node["id"] = rename(node["id"])
    for edge in data["edges"]:
        edge["source"], edge["target"] = rename(edge["source"]), rename(edge["target"])
    return fileformat.loads(json.dumps(data))


def kinds(d) -> list[str]:
    return sorted(c.kind for c in d.layers if c.kind != AFFECTED)


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_equals_itself_and_differs_from_an_edited_copy(name):
    a, b = sample(name), sample(name)
    same = diff(a, b)
    assert same.equal and same.lines() == [] and same.summary() == "no differences"
    assert same.matching == {n: n for n in a.nodes()}
    b.set_training("epochs", b.training["epochs"] + 1)
    edited = diff(a, b)
    assert not edited.equal and [s.name for s in edited.settings] == ["epochs"]
    assert edited.layers == [] and edited.wires == [] and edited.blocks == []


def edit_every_kind(graph):
    """One change of each kind a sample allows: a setting, a layer's parameter, a renamed
    layer, an added layer (a new output after the first output), a changed block. Returns what
    was done: {kind: node or block name}."""
    done = {}
    graph.set_training("epochs", graph.training["epochs"] + 1)
    done["setting"] = "epochs"
    order = graph.topological_order()
    for n in order:
        params = graph.node(n).params
        for name, value in (("units", 1), ("filters", 1), ("rate", 0.05)):
            if name in params and graph.node(n).type != "Block":
                graph.set_param(n, name, params[name] + value)
                done["changed"] = n
                break
        if "changed" in done:
            break
    renamable = [n for n in order if n != done.get("changed")]
    old = renamable[-1]
    data = json.loads(fileformat.dumps(graph))
    new = f"{old}_renamed"
    for node in data["nodes"]:
        node["id"] = new if node["id"] == old else node["id"]
    for edge in data["edges"]:
        for key in ("source", "target"):
            edge[key] = new if edge[key] == old else edge[key]
    edited = fileformat.loads(json.dumps(data))
    done["renamed"] = (old, new)
    extra = edited.add_node("Dropout", {"rate": 0.3})
    edited.connect(edited.outputs()[0], 0, extra, 0)
    done["added"] = extra
    if edited.blocks:
        name = sorted(edited.blocks)[0]
        inner = edited.blocks[name].graph
        # the block's first layer with weights: its trainable flag flips
        target = next(n for n in inner.topological_order()
                      if "trainable" in inner.node(n).params)
        inner.set_param(target, "trainable", not inner.node(target).params["trainable"])
        done["block"] = name
    return edited, done


@pytest.mark.parametrize("name", NAMES)
def test_each_kind_of_change_to_a_sample_is_reported_exactly_once(name):
    edited, done = edit_every_kind(sample(name))
    d = diff(sample(name), edited)
    assert [s.name for s in d.settings] == ["epochs"]
    with_params = [c for c in d.layers if c.params]
    if "changed" in done:
        assert [c.new_id for c in with_params] == [done["changed"]]
    else:
        assert with_params == []
    old, new = done["renamed"]
    renamed = [c for c in d.layers if c.renamed]
    assert [(c.old_id, c.new_id) for c in renamed] == [(old, new)]
    assert [c.new_id for c in d.layers_of(ADDED)] == [done["added"]]
    assert d.layers_of(REMOVED) == [] and d.wires == []
    if "block" in done:
        assert [b.name for b in d.blocks] == [done["block"]]
        assert len([c for c in d.blocks[0].diff.layers if c.params]) == 1
    else:
        assert d.blocks == []
    # every other layer of the sample is matched to itself
    assert {k: v for k, v in d.matching.items() if k != old} == {
        n: n for n in sample(name).nodes() if n != old}


def test_a_changed_parameter_is_one_change_and_its_consequences_are_marked():
    a, b = sample("cnn_digits"), sample("cnn_digits")
    b.set_param("conv2d_1", "filters", 32)
    d = diff(a, b)
    changed = d.layers_of(CHANGED)
    assert [(c.id, [(p.name, p.old, p.new) for p in c.params]) for c in changed] == [
        ("conv2d_1", [("filters", 16, 32)])]
    assert changed[0].shape == ([(8, 8, 16)], [(8, 8, 32)])
    assert changed[0].param_count == (160, 320)
    # the pooling after it changes shape, the next convolution its parameter count
    assert {c.id for c in d.layers_of(AFFECTED)} == {"max_pooling2d_1", "conv2d_2"}
    assert all(c.params == [] for c in d.layers_of(AFFECTED))
    assert d.wires == [] and d.settings == [] and d.totals == (13_706, 18_474)
    assert "filters 16 -> 32" in "\n".join(d.lines())


def test_an_inserted_layer_is_one_addition_not_also_a_removed_wire():
    a, b = sample("cnn_digits"), sample("cnn_digits")
    b.disconnect(Edge("dense_1", 0, "dropout_1", 0))
    extra = b.add_node("Dropout", {"rate": 0.2})
    b.connect("dense_1", 0, extra, 0)
    b.connect(extra, 0, "dropout_1", 0)
    d = diff(a, b)
    assert kinds(d) == [ADDED] and d.wires == []
    added = d.layers_of(ADDED)[0]
    assert added.new_id == extra and added.type == "Dropout"
    assert added.wires[0] == "inserted between dense_1 and dropout_1"


def test_a_removed_layer_is_one_removal_not_also_an_added_wire():
    a, b = sample("cnn_digits"), sample("cnn_digits")
    b.remove_node("dropout_1")
    b.connect("dense_1", 0, "dense_2", 0)
    d = diff(a, b)
    assert kinds(d) == [REMOVED] and d.wires == []
    removed = d.layers_of(REMOVED)[0]
    assert removed.old_id == "dropout_1" and removed.wires[0].startswith("bypassed")


def test_a_rewired_input_is_one_change():
    a, b = sample("cnn_digits"), sample("cnn_digits")
    b.disconnect(Edge("dropout_1", 0, "dense_2", 0))
    b.connect("dense_1", 0, "dense_2", 0)
    d = diff(a, b)
    assert [(w.kind, str(w.edge), str(w.old)) for w in d.wires] == [
        (REWIRED, "dense_1:0 -> dense_2:0", "dropout_1:0 -> dense_2:0")]
    assert kinds(d) == []


def test_a_change_inside_a_block_is_reported_under_the_block():
    a, b = sample("resnet_digits"), sample("resnet_digits")
    inner = b.blocks["residual_unit"].graph
    inner.set_param("conv_a", "kernel_size", (5, 5))
    d = diff(a, b)
    assert [(c.kind, c.name) for c in d.blocks] == [(CHANGED, "residual_unit")]
    block = d.blocks[0].diff
    assert [(c.id, [p.name for p in c.params]) for c in block.layers_of(CHANGED)] == [
        ("conv_a", ["kernel_size"])]
    # the design that uses the block: the Block node's parameter count changes
    assert [c.id for c in d.layers_of(AFFECTED)] == ["block_1"]
    assert d.layers_of(CHANGED) == []


def test_renamed_ids_are_matched_by_type_wiring_and_order():
    a = sample("inception_digits")
    b = renamed(a, lambda n: f"v2_{n}")
    d = diff(a, b)
    assert d.matching == {n: f"v2_{n}" for n in a.nodes()}
    assert all(c.kind == CHANGED and c.renamed and c.params == [] for c in d.layers)
    assert len(d.layers) == len(a) and d.wires == [] and d.blocks == []


def test_a_re_created_layer_is_the_same_layer_renamed():
    a, b = sample("cnn_digits"), sample("cnn_digits")
    params = dict(b.node("dense_1").params)
    b.remove_node("dense_1")
    again = b.add_node("Dense", params)
    b.connect("flatten_1", 0, again, 0)
    b.connect(again, 0, "dropout_1", 0)
    d = diff(a, b)
    assert d.matching["dense_1"] == again
    assert [(c.kind, c.old_id, c.new_id) for c in d.layers] == [(CHANGED, "dense_1", again)]
    assert d.wires == []


def test_unrelated_layers_of_one_type_are_not_forced_together():
    a, b = sample("mlp_digits"), sample("xor_mlp")
    m = match_layers(a, b)
    d = diff(a, b)
    assert not d.equal
    # every kept pair is of one type; every layer appears once in the diff or the matching
    assert all(a.node(x).type == b.node(y).type for x, y in m.items())
    listed_old = {c.old_id for c in d.layers if c.old_id} | set(m)
    assert listed_old == set(a.nodes())


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "netdesigner", "diff", *map(str, args)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def test_the_command_line_exit_codes_table_and_json(tmp_path):
    old = tmp_path / "net.graph"
    shutil.copy(SAMPLES / "cnn_digits.graph", old)
    graph = fileformat.load(old)
    graph.set_param("dense_1", "units", 128)
    new = tmp_path / "net-v2.graph"
    fileformat.save(graph, new)

    same = run_cli(old, old)
    assert same.returncode == 0 and "no differences" in same.stdout, same.stderr
    different = run_cli(old, new)
    assert different.returncode == 1, different.stderr
    assert "changed" in different.stdout and "units 64 -> 128" in different.stdout
    data = json.loads(run_cli(old, new, "--json").stdout)
    assert data["equal"] is False
    assert [(c["kind"], c["new_id"]) for c in data["layers"] if c["kind"] == CHANGED] == [
        (CHANGED, "dense_1")]
    missing = run_cli(old, tmp_path / "nope.graph")
    assert missing.returncode == 2 and "nope.graph" in missing.stderr
    assert "Traceback" not in missing.stderr
    broken = tmp_path / "broken.graph"
    broken.write_text("{not json")
    unreadable = run_cli(old, broken)
    assert unreadable.returncode == 2 and "broken.graph" in unreadable.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_command_line_compares_with_a_git_revision(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})
    (tmp_path / "models").mkdir()
    project = tmp_path / "models" / "net.graph"
    shutil.copy(SAMPLES / "cnn_digits.graph", project)
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    assert run_cli(project, "--git", "HEAD").returncode == 0
    graph = fileformat.load(project)
    graph.set_training("epochs", 3)
    fileformat.save(graph, project)
    done = run_cli("net.graph", "--git", "HEAD", cwd=tmp_path / "models")
    assert done.returncode == 1 and "epochs" in done.stdout and "net.graph@HEAD" in done.stdout
    bad = run_cli(project, "--git", "no-such-revision")
    assert bad.returncode == 2 and "no-such-revision" in bad.stderr
    outside = tmp_path.parent / f"{tmp_path.name}-outside.graph"
    shutil.copy(SAMPLES / "cnn_digits.graph", outside)
    try:
        not_in_git = run_cli(outside, "--git", "HEAD")
    finally:
        outside.unlink()
    assert not_in_git.returncode == 2 and "Traceback" not in not_in_git.stderr


def test_the_overlay_shows_both_designs_with_a_mark_per_difference():
    from netdesigner.graph.diff import overlay
    a, b = sample("cnn_digits"), sample("cnn_digits")
    b.set_param("conv2d_1", "filters", 32)
    b.remove_node("dropout_1")
    b.connect("dense_1", 0, "dense_2", 0)
    extra = b.add_node("Dense", {"units": 7})
    b.connect("dense_2", 0, extra, 0)
    merged, marks = overlay(a, b)
    assert set(merged.nodes()) == set(b.nodes()) | {"dropout_1"}
    assert {n: m.kind for n, m in marks.items()} == {
        "conv2d_1": CHANGED, "max_pooling2d_1": AFFECTED, "conv2d_2": AFFECTED,
        extra: ADDED, "dropout_1": REMOVED}
    assert "filters 16 -> 32" in marks["conv2d_1"].text
    # the removed layer stands where it stood, fed by the layer that fed it
    assert merged.node("dropout_1").position == a.node("dropout_1").position
    assert [e.source for e in merged.in_edges("dropout_1")] == ["dense_1"]
    assert merged.runs == []


def test_big_designs_are_compared_in_bounded_time():
    """Every id renamed in a 2,000-layer design: matched along the wires, in well under a
    second; two big unrelated designs without wires: no quadratic (or worse) search."""
    import time

    from netdesigner.graph import Graph
    from tests.graph.builders import mlp
    big, _ = mlp(*[8] * 1999)
    t = time.perf_counter()
    d = diff(big, renamed(big, lambda n: f"v2_{n}"))
    assert time.perf_counter() - t < 2.0
    assert len(d.matching) == len(big) and d.wires == []

    def loose(n, prefix):
        g = Graph()
        for i in range(n):
            g.add_node("Dense", {"units": 1 + i % 7}, node_id=f"{prefix}{i}")
        return g
    t = time.perf_counter()
    d = diff(loose(3000, "a"), loose(3000, "b"))
    assert time.perf_counter() - t < 5.0
    assert len(d.layers_of(ADDED)) + len(d.matching) == 3000
