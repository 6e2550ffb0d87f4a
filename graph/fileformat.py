"""`.graph` project files: versioned JSON, written atomically, read without executing anything.

Layout (version 2)::

    {"format": "netdesigner.graph", "version": 2, "app_version": "...",
     "metadata": {...},
     "nodes": [{"id", "type", "type_version", "params", "position": [x, y]}, ...],
     "edges": [{"source", "source_port", "target", "target_port"}, ...],
     "blocks": [{"name", "description", "inputs": [ids], "outputs": [{"node", "port"}],
                 "nodes": [...], "edges": [...]}, ...],
     "training": {...}, "runs": [...]}

Keys are written in a fixed order with two-space indents, nodes in graph order and edges sorted
by target, so that files diff well and save -> load -> save is byte-identical.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
import time
from pathlib import Path

from .catalog import CATALOG
from .limits import LIMITS, LimitError, decode
from .migrations import CURRENT_VERSION, FORMAT, MigrationError, migrate, migrate_params
from .model import NODE_ID, BlockDef, Graph
from .events import Edge
from .training import default_settings, settings_problems

APP_VERSION = "0.1.0"


class GraphFileError(ValueError):
    """A file that cannot be read, with the file and the JSON path at fault."""

    def __init__(self, file: str, json_path: str | None, message: str):
        self.file, self.json_path, self.message = str(file), json_path, message
        where = f"{file}: {json_path}" if json_path else str(file)
        super().__init__(f"{where}: {message}")


# -- writing ------------------------------------------------------------------------------------

def _node_dicts(graph: Graph) -> list[dict]:
    out = []
    for n in graph.nodes():
        node = graph.node(n)
        lt = node.layer_type
        out.append({"id": n, "type": node.type, "type_version": lt.version,
                    "params": {p.name: p.to_json(node.params[p.name]) for p in lt.params},
                    "position": [node.position[0], node.position[1]]})
    return out


def _edge_dicts(graph: Graph) -> list[dict]:
    order = {n: i for i, n in enumerate(graph.nodes())}
    edges = sorted(graph.edges(), key=lambda e: (order[e.target], e.target_port))
    return [{"source": e.source, "source_port": e.source_port, "target": e.target,
             "target_port": e.target_port} for e in edges]


def to_dict(graph: Graph) -> dict:
    return {
        "format": FORMAT,
        "version": CURRENT_VERSION,
        "app_version": APP_VERSION,
        "metadata": graph.metadata,
        "nodes": _node_dicts(graph),
        "edges": _edge_dicts(graph),
        "blocks": [{"name": b.name, "description": b.description, "inputs": list(b.inputs),
                    "outputs": [{"node": node, "port": port} for node, port in b.outputs],
                    "nodes": _node_dicts(b.graph), "edges": _edge_dicts(b.graph)}
                   for b in graph.blocks.values()],
        "training": graph.training,
        "runs": graph.runs,
    }


def design_snapshot(graph: Graph) -> dict:
    """The design a run trained, as the run keeps it (`run["design"]`): the project without its
    runs and description, so that two runs can be compared layer by layer later."""
    data = to_dict(graph)
    data["runs"] = []
    data["metadata"] = {}
    return data


def design_of_run(run: dict, where: str = "<run>") -> Graph | None:
    """The design a run kept (None for a run saved without one); a GraphFileError naming
    `where` when the kept design cannot be read."""
    design = run.get("design")
    return None if design is None else from_dict(design, where)


def dumps(graph: Graph, indent: int | None = 2) -> str:
    """The design as `.graph` text; `indent=None` writes it on one line, about five times
    faster (json's C encoder), for copies nobody reads (the designer's data check)."""
    return json.dumps(to_dict(graph), indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def _temp_pattern(path: Path) -> re.Pattern:
    """The names `save` gives its temporary files beside `path` (mkstemp: 8 random
    characters between the prefix and the suffix)."""
    return re.compile(re.escape(f".{path.name}.") + r"[A-Za-z0-9_]{8}" + re.escape(".tmp"))


def remove_stale_temporaries(path, older_than: float = 0.0) -> list[Path]:
    """Delete what interrupted saves of `path` left beside it (`.NAME.XXXXXXXX.tmp`, as large
    as the project), those last written more than `older_than` seconds ago. Returns them."""
    path = Path(path)
    pattern, removed, now = _temp_pattern(path), [], time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            if (entry.is_file(follow_symlinks=False)
                    and now - entry.stat(follow_symlinks=False).st_mtime >= older_than):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass                     # gone already, or not ours to delete: leave it
    return removed


def _new_file_mode() -> int:
    """The mode a new file gets from open(): 0666 less the umask (mkstemp's is 0600)."""
    try:                             # Linux: read the umask without changing it
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def save(graph: Graph, path) -> None:
    """Write atomically: a temporary file beside the target, fsync, then rename over it.
    A crash at any point leaves either the old file or the new one, never half of one.
    The file keeps its permission mode (a new one gets the usual 0666 less the umask), and
    temporary files left by an earlier, interrupted save of it are removed."""
    path = Path(path)
    text = dumps(graph)              # serialise first: an error here must not touch the disk
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = _new_file_mode()
    # A save in progress holds its own temporary file; any other is left by a killed save
    # (another process saving this very file at this moment would lose its rename, which
    # it reports; that is better than a hidden copy of the project per crash).
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:                             # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


# -- reading ------------------------------------------------------------------------------------

class _Reader:
    """Checks parsed JSON piece by piece, naming the JSON path of the first fault."""

    def __init__(self, file: str):
        self.file = file
        self.unknown_types: list[tuple[str, str]] = []

    def fail(self, path: str, message: str):
        raise GraphFileError(self.file, path, message)

    def expect(self, value, kind, path: str, what: str):
        ok = isinstance(value, kind) and not (kind in (int, (int, float)) and isinstance(value, bool))
        if not ok:
            self.fail(path, f"must be {what}, not {_describe(value)}")
        return value

    def graph_body(self, data: dict, path: str, graph: Graph) -> None:
        prefix = f"{path}." if path else ""
        nodes = self.expect(data.get("nodes", []), list, f"{prefix}nodes", "a list")
        for i, item in enumerate(nodes):
            self.node(item, f"{prefix}nodes[{i}]", graph)
        edges = self.expect(data.get("edges", []), list, f"{prefix}edges", "a list")
        for i, item in enumerate(edges):
            self.edge(item, f"{prefix}edges[{i}]", graph)

    def node(self, item, path: str, graph: Graph) -> None:
        self.expect(item, dict, path, "an object")
        node_id = self.expect(item.get("id"), str, f"{path}.id", "text")
        if len(node_id) > LIMITS.id_chars:
            self.fail(f"{path}.id", f"an id of {len(node_id):,} characters; at most "
                                    f"{LIMITS.id_chars} are allowed")
        if not NODE_ID.fullmatch(node_id):
            self.fail(f"{path}.id", f"{node_id!r} is not a valid id (letters, digits and _, not "
                                    f"starting with a digit)")
        if node_id in graph:
            self.fail(f"{path}.id", f"duplicate node id {node_id!r}")
        type_id = self.expect(item.get("type"), str, f"{path}.type", "text")
        params = self.expect(item.get("params", {}), dict, f"{path}.params", "an object")
        position = item.get("position", [0.0, 0.0])
        if (not isinstance(position, list) or len(position) != 2
                or not all(_is_number(v) for v in position)):
            self.fail(f"{path}.position", f"must be [x, y] numbers, not {_describe(position)}")
        if any(abs(v) > LIMITS.max_abs_coordinate for v in position):
            self.fail(f"{path}.position", f"must lie within +-{LIMITS.max_abs_coordinate:g} "
                                          f"(the canvas), not {position}")
        if type_id not in CATALOG:
            self.unknown_types.append((type_id, f"{path}.type"))
            return
        lt = CATALOG[type_id]
        version = self.expect(item.get("type_version", lt.version), int, f"{path}.type_version",
                              "a whole number")
        if version > lt.version:
            self.fail(f"{path}.type_version", f"{lt.type_id} version {version} is newer than "
                                              f"this program's ({lt.version})")
        if version < LIMITS.min_type_version:
            # versions count from 1: anything lower would run a migration per missing step
            self.fail(f"{path}.type_version", f"must be {LIMITS.min_type_version} or more, "
                                              f"not {version}")
        params = migrate_params(lt.type_id, version, lt.version, dict(params))
        for name in params:
            if name not in lt.params:
                self.fail(f"{path}.params.{name}", f"{lt.type_id} has no parameter {name!r}")
        graph.add_node(lt.type_id, params, position, node_id)

    def edge(self, item, path: str, graph: Graph) -> None:
        self.expect(item, dict, path, "an object")
        ends = {}
        for end in ("source", "target"):
            node_id = self.expect(item.get(end), str, f"{path}.{end}", "a node id")
            if node_id not in graph:
                if any(t for t, _ in self.unknown_types):
                    return            # the node was of an unknown type: reported together
                self.fail(f"{path}.{end}", f"there is no node {node_id!r}")
            port = self.expect(item.get(f"{end}_port", 0), int, f"{path}.{end}_port",
                               "a whole number")
            if port < 0:
                self.fail(f"{path}.{end}_port", "must not be negative")
            if port >= LIMITS.input_ports:
                # validation lists every port up to the highest one wired: bound it here
                self.fail(f"{path}.{end}_port", f"port {port} is beyond the last a layer may "
                                                f"have ({LIMITS.input_ports - 1})")
            ends[end] = (node_id, port)
        (source, sport), (target, tport) = ends["source"], ends["target"]
        taken = graph.input_ports(target).get(tport)
        if taken is not None:
            self.fail(path, f"input port {tport} of {target!r} is fed twice (also by "
                            f"{taken.source!r})")
        graph.restore_edge(Edge(source, sport, target, tport))

    def block(self, item, path: str, graph: Graph) -> None:
        self.expect(item, dict, path, "an object")
        name = self.expect(item.get("name"), str, f"{path}.name", "text")
        if len(name) > LIMITS.id_chars or not NODE_ID.fullmatch(name):
            self.fail(f"{path}.name", f"{name!r} is not a valid block name")
        if name in graph.blocks:
            self.fail(f"{path}.name", f"duplicate block name {name!r}")
        inner = Graph()
        self.graph_body(item, path, inner)
        inputs = self.expect(item.get("inputs", []), list, f"{path}.inputs", "a list")
        for i, node_id in enumerate(inputs):
            self.expect(node_id, str, f"{path}.inputs[{i}]", "a node id")
        outputs = []
        for i, out in enumerate(self.expect(item.get("outputs", []), list, f"{path}.outputs",
                                            "a list")):
            self.expect(out, dict, f"{path}.outputs[{i}]", "an object")
            node = self.expect(out.get("node"), str, f"{path}.outputs[{i}].node", "a node id")
            port = self.expect(out.get("port", 0), int, f"{path}.outputs[{i}].port",
                               "a whole number")
            if not 0 <= port < LIMITS.input_ports:
                self.fail(f"{path}.outputs[{i}].port", f"must be from 0 to "
                                                       f"{LIMITS.input_ports - 1}, not {port}")
            outputs.append((node, port))
        description = self.expect(item.get("description", ""), str, f"{path}.description",
                                  "text")
        graph.define_block(BlockDef(name, inner, list(inputs), outputs, description))

    def training(self, data, graph: Graph) -> None:
        settings = self.expect(data, dict, "training", "an object")
        merged = default_settings()
        for key, value in settings.items():
            if key not in merged:
                self.fail(f"training.{key}", "is not a training setting")
            merged[key] = value
        for key, problem in settings_problems(merged):
            self.fail(f"training.{key}", problem)
        graph.training = merged

    def metadata(self, data) -> dict:
        metadata = self.expect(data, dict, "metadata", "an object")
        for key in ("title", "description"):      # shown, and written into exports: text
            if key in metadata:
                self.expect(metadata[key], str, f"metadata.{key}", "text")
        return metadata

    def runs(self, data) -> list:
        """The runs as the designer's Runs tab reads them (history: name -> per-epoch
        numbers, null where an epoch had none); anything else would crash it on open."""
        runs = self.expect(data, list, "runs", "a list")
        if len(runs) > LIMITS.runs:
            self.fail("runs", f"{len(runs):,} runs; at most {LIMITS.runs:,} are kept")
        for i, run in enumerate(runs):
            path = f"runs[{i}]"
            self.expect(run, dict, path, "an object")
            history = self.expect(run.get("history", {}), dict, f"{path}.history", "an object")
            for key, values in history.items():
                self.expect(values, list, f"{path}.history.{key}", "a list of numbers")
                for j, v in enumerate(values):
                    if v is not None and not _is_number(v):
                        self.fail(f"{path}.history.{key}[{j}]",
                                  f"must be a number or null, not {_describe(v)}")
            for key in ("when", "backend", "label", "reason", "optimizer"):
                if run.get(key) is not None:
                    self.expect(run[key], str, f"{path}.{key}", "text")
            if "epochs" in run:
                self.expect(run["epochs"], int, f"{path}.epochs", "a whole number")
            for key in ("test", "optimizer_params", "design"):
                if run.get(key) is not None:
                    self.expect(run[key], dict, f"{path}.{key}", "an object")
        return runs

    def counts(self, data: dict) -> None:
        """Node, edge and block counts within the limits, before any is built."""
        blocks = data.get("blocks", [])
        bodies = [data] + ([b for b in blocks if isinstance(b, dict)]
                           if isinstance(blocks, list) else [])
        if isinstance(blocks, list) and len(blocks) > LIMITS.blocks:
            self.fail("blocks", f"{len(blocks):,} blocks; at most {LIMITS.blocks:,} are allowed")
        nodes = sum(len(b["nodes"]) for b in bodies if isinstance(b.get("nodes"), list))
        edges = sum(len(b["edges"]) for b in bodies if isinstance(b.get("edges"), list))
        if nodes > LIMITS.nodes:
            self.fail("nodes", f"{nodes:,} layers in all; at most {LIMITS.nodes:,} are allowed")
        if edges > LIMITS.edges:
            self.fail("edges", f"{edges:,} wires in all; at most {LIMITS.edges:,} are allowed")


def from_dict(data, file: str = "<data>") -> Graph:
    reader = _Reader(file)
    reader.expect(data, dict, None, "a JSON object")
    if data.get("format") != FORMAT:
        reader.fail("format", f"expected {FORMAT!r}, found {_describe(data.get('format'))}: "
                              f"this is not a netdesigner project file")
    try:
        data = migrate(dict(data))
    except MigrationError as e:
        reader.fail(e.json_path, str(e))
    reader.counts(data)
    graph = Graph()
    for i, item in enumerate(reader.expect(data.get("blocks", []), list, "blocks", "a list")):
        reader.block(item, f"blocks[{i}]", graph)
    reader.graph_body(data, "", graph)
    if reader.unknown_types:
        names = sorted({t for t, _ in reader.unknown_types})
        places = ", ".join(p for _, p in reader.unknown_types)
        raise GraphFileError(file, None, f"unknown layer type{'s' if len(names) > 1 else ''} "
                                         f"{', '.join(names)} (at {places})")
    reader.training(data.get("training", {}), graph)
    graph.metadata = reader.metadata(data.get("metadata", {}))
    graph.runs = reader.runs(data.get("runs", []))
    return graph


def loads(text: str, file: str = "<text>") -> Graph:
    try:
        data = decode(text)          # within graph.limits: size, depth, numbers, strings
    except json.JSONDecodeError as e:
        raise GraphFileError(file, f"line {e.lineno}, column {e.colno}",
                             f"not valid JSON ({e.msg})") from None
    except LimitError as e:
        raise GraphFileError(file, e.json_path, str(e)) from None
    except ValueError as e:          # e.g. an integer literal beyond int()'s digit limit
        raise GraphFileError(file, None, str(e)) from None
    return from_dict(data, file)


def load(path) -> Graph:
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError()
        if not stat.S_ISREG(info.st_mode):
            # a FIFO or a device would block the reader (the designer's GUI thread) forever
            raise GraphFileError(path, None, "is not a regular file")
        if info.st_size > LIMITS.file_bytes:
            raise GraphFileError(path, None, f"is {info.st_size:,} bytes; a project file may be "
                                             f"at most {LIMITS.file_bytes:,}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GraphFileError(path, None, "no such file") from None
    except IsADirectoryError:
        raise GraphFileError(path, None, "is a folder, not a .graph file") from None
    except UnicodeDecodeError:
        raise GraphFileError(path, None, "is not a text file (not UTF-8)") from None
    except OSError as e:
        raise GraphFileError(path, None, e.strerror or str(e)) from None
    # What a killed save left beside this file goes once the file is opened (a minute old:
    # not the temporary file of a save running right now in another process).
    remove_stale_temporaries(path, older_than=STALE_TEMPORARY_SECONDS)
    return loads(text, str(path))


STALE_TEMPORARY_SECONDS = 60.0


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _describe(value) -> str:
    if value is None:
        return "null"
    kind = {bool: "true/false", int: "a number", float: "a number", str: "text",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)
    shown = json.dumps(value) if not isinstance(value, (list, dict)) else ""
    return f"{kind} {shown}".strip() if shown and len(shown) < 40 else kind
