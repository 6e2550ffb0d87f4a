"""`.graph` files: round trips, atomic saves, migrations, and clear errors for bad files."""
import json
import os
from pathlib import Path

import pytest

from netdesigner.graph import BlockDef, Graph, fileformat, validate
from netdesigner.graph.fileformat import GraphFileError
from netdesigner.graph.migrations import CURRENT_VERSION
from tests.graph.builders import chain, mlp

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.graph"))
FIXTURES = Path(__file__).parent / "fixtures"


def rich_graph() -> Graph:
    """Multi-input, multi-output, a block, non-default params and training settings."""
    g, (x, lstm) = chain([("Input", {"shape": (None, 3)}),
                          ("LSTM", {"units": 5, "return_state": True, "l2": 1e-4})])
    y = g.add_node("Input", {"shape": (5,)}, (0.0, 300.0))
    add = g.add_node("Add", position=(400.0, 150.5))
    g.connect(lstm, 1, add, 0)
    g.connect(y, 0, add, 1)
    inner, _ = chain([("Input", {"shape": (5,)}), ("Dense", {"units": 5})])
    g.define_block(BlockDef("proj", inner, ["input_1"], [("dense_1", 0)], "a projection"))
    blk = g.add_node("Block", {"block": "proj", "repeat": 2}, (600.0, 150.0))
    g.connect(add, 0, blk, 0)
    g.set_training("epochs", 3)
    g.metadata["title"] = "rich — ünïcode"
    g.runs.append({"id": 1, "final_loss": 0.25})
    return g


def test_save_load_save_is_byte_identical(tmp_path):
    g = rich_graph()
    first = tmp_path / "a.graph"
    fileformat.save(g, first)
    again = fileformat.load(first)
    second = tmp_path / "b.graph"
    fileformat.save(again, second)
    assert first.read_bytes() == second.read_bytes()
    assert validate(again).problems() == validate(g).problems() == []


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_round_trips_and_validates(path, tmp_path):
    g = fileformat.load(path)
    assert validate(g).errors() == []
    out = tmp_path / path.name
    fileformat.save(g, out)
    assert out.read_bytes() == path.read_bytes(), "samples are stored in canonical form"


def test_file_is_diffable_json():
    text = fileformat.dumps(rich_graph())
    data = json.loads(text)
    assert list(data)[:3] == ["format", "version", "app_version"]
    assert data["format"] == "netdesigner.graph" and data["version"] == CURRENT_VERSION
    assert text.startswith('{\n  "format"'), "two-space indent"
    assert data["nodes"][1]["params"]["units"] == 5


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "net.graph"
    g, _ = mlp(8)
    fileformat.save(g, path)
    before = path.read_bytes()
    g.set_param("dense_1", "units", 9)

    def crash(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        fileformat.save(g, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.graph"], "no temp file left"


def test_unsaveable_values_leave_the_old_file(tmp_path):
    path = tmp_path / "net.graph"
    g, _ = mlp(8)
    fileformat.save(g, path)
    before = path.read_bytes()
    g.metadata["bad"] = float("nan")
    with pytest.raises(ValueError):
        fileformat.save(g, path)
    assert path.read_bytes() == before


def test_version_1_files_are_migrated():
    g = fileformat.load(FIXTURES / "v1_mlp.graph")
    assert g.nodes() == ["pixels", "hidden", "classes"]
    assert [str(e) for e in g.edges()] == ["pixels:0 -> hidden:0", "hidden:0 -> classes:0"]
    assert g.node("hidden").position == (200.0, 0.0)
    assert g.training["epochs"] == 5 and g.training["batch_size"] == 32
    a = validate(g)
    assert a.ok and a.total_params() == 64 * 32 + 32 + 32 * 10 + 10
    assert json.loads(fileformat.dumps(g))["version"] == CURRENT_VERSION


def good() -> dict:
    return json.loads(fileformat.dumps(rich_graph()))


def corrupt(edit):
    data = good()
    edit(data)
    return json.dumps(data)


CORRUPTED = {
    "truncated": (lambda: fileformat.dumps(rich_graph())[:200], "line"),
    "not json": (lambda: "hello", "not valid JSON"),
    "not an object": (lambda: "[1, 2]", "a JSON object"),
    "wrong format": (lambda: corrupt(lambda d: d.update(format="keras")),
                     "format: expected 'netdesigner.graph'"),
    "newer version": (lambda: corrupt(lambda d: d.update(version=99)),
                      "version: the file has format version 99"),
    "version as text": (lambda: corrupt(lambda d: d.update(version="2")),
                        "version: must be a positive whole number"),
    "nodes not a list": (lambda: corrupt(lambda d: d.update(nodes={})),
                         "nodes: must be a list, not an object"),
    "node id a number": (lambda: corrupt(lambda d: d["nodes"][1].update(id=7)),
                         "nodes[1].id: must be text"),
    "position text": (lambda: corrupt(lambda d: d["nodes"][0].update(position="left")),
                      "nodes[0].position: must be [x, y] numbers"),
    "params a list": (lambda: corrupt(lambda d: d["nodes"][1].update(params=[1])),
                      "nodes[1].params: must be an object"),
    "unknown param": (lambda: corrupt(lambda d: d["nodes"][1]["params"].update(unitz=3)),
                      "nodes[1].params.unitz: LSTM has no parameter 'unitz'"),
    "duplicate id": (lambda: corrupt(lambda d: d["nodes"][2].update(id=d["nodes"][0]["id"])),
                     "nodes[2].id: duplicate node id 'input_1'"),
    "dangling edge": (lambda: corrupt(lambda d: d["edges"][0].update(source="ghost")),
                      "edges[0].source: there is no node 'ghost'"),
    "port fed twice": (lambda: corrupt(lambda d: d["edges"].append(dict(d["edges"][0]))),
                       "is fed twice"),
    "negative port": (lambda: corrupt(lambda d: d["edges"][0].update(target_port=-1)),
                      "edges[0].target_port: must not be negative"),
    "bad training": (lambda: corrupt(lambda d: d["training"].update(batch_size=0)),
                     "training.batch_size: must be at least 1"),
    "unknown training key": (lambda: corrupt(lambda d: d["training"].update(bath_size=3)),
                             "training.bath_size: is not a training setting"),
    "NaN": (lambda: fileformat.dumps(rich_graph()).replace('"repeat": 2', '"repeat": NaN'),
            "NaN is not allowed"),
    "bad block": (lambda: corrupt(lambda d: d["blocks"][0].update(outputs=[{"node": 3}])),
                  "blocks[0].outputs[0].node: must be a node id"),
}


@pytest.mark.parametrize("case", list(CORRUPTED))
def test_corrupted_files_get_one_clear_error(case, tmp_path):
    make, expected = CORRUPTED[case]
    path = tmp_path / "broken.graph"
    path.write_text(make())
    with pytest.raises(GraphFileError) as info:
        fileformat.load(path)
    message = str(info.value)
    assert message.startswith(str(path)), "the error names the file"
    assert expected in message


def test_unknown_layer_types_are_reported_together(tmp_path):
    def edit(d):
        d["nodes"][1]["type"] = "Dense3D"
        d["nodes"][2]["type"] = "Transformer"
    path = tmp_path / "x.graph"
    path.write_text(corrupt(edit))
    with pytest.raises(GraphFileError, match=r"unknown layer types Dense3D, Transformer "
                                             r"\(at nodes\[1\].type, nodes\[2\].type\)"):
        fileformat.load(path)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(GraphFileError, match="no such file"):
        fileformat.load(tmp_path / "nope.graph")
    with pytest.raises(GraphFileError, match="folder"):
        fileformat.load(tmp_path)
    (tmp_path / "bin.graph").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(GraphFileError, match="UTF-8"):
        fileformat.load(tmp_path / "bin.graph")


def test_loading_keeps_a_cyclic_file_for_validation_to_report():
    data = good()
    data["nodes"].append({"id": "d1", "type": "Dense", "params": {}, "position": [0, 0]})
    data["nodes"].append({"id": "d2", "type": "Dense", "params": {}, "position": [0, 0]})
    data["edges"] += [{"source": "d1", "source_port": 0, "target": "d2", "target_port": 0},
                      {"source": "d2", "source_port": 0, "target": "d1", "target_port": 0}]
    g = fileformat.from_dict(data)
    assert {p.node for p in validate(g).problems() if p.code == "cycle"} == {"d1", "d2"}
