"""Every change of the `.graph` format, in one place.

Loading runs the chain `v -> v+1` up to `CURRENT_VERSION`. A migration takes and returns plain
data (the parsed JSON), so it never needs the classes of an older program. Layer types carry
their own version too: `TYPE_MIGRATIONS[(type_id, v)]` turns a node's params from v to v+1.
"""
from __future__ import annotations

from typing import Callable

FORMAT = "netdesigner.graph"
CURRENT_VERSION = 2


class MigrationError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.json_path = path


def _v1_to_v2(data: dict) -> dict:
    """Version 1 (the first prototype's layout) kept layers under "layers" with Keras-like
    "name"/"class"/"config" keys and x/y fields, and wires under "links" as
    [source, target] or [source, source_port, target, target_port] lists."""
    for key in ("layers", "links"):
        if not isinstance(data.get(key, []), list):
            raise MigrationError(key, f"must be a list, not {type(data[key]).__name__}"
                                      .replace("NoneType", "null"))
    nodes = []
    for i, layer in enumerate(data.get("layers", [])):
        if not isinstance(layer, dict):
            raise MigrationError(f"layers[{i}]", "must be an object")
        nodes.append({"id": layer.get("name"), "type": layer.get("class"), "type_version": 1,
                      "params": layer.get("config", {}),
                      "position": [layer.get("x", 0.0), layer.get("y", 0.0)]})
    edges = []
    for i, link in enumerate(data.get("links", [])):
        if not isinstance(link, list) or len(link) not in (2, 4):
            raise MigrationError(f"links[{i}]", "must be [source, target] or "
                                                "[source, source_port, target, target_port]")
        source, sport, target, tport = (link[0], 0, link[1], 0) if len(link) == 2 else link
        edges.append({"source": source, "source_port": sport, "target": target,
                      "target_port": tport})
    out = {k: v for k, v in data.items() if k not in ("layers", "links")}
    out.update(version=2, nodes=nodes, edges=edges)
    out.setdefault("blocks", [])
    return out


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}

# (type id, from version) -> params migration; none yet: every layer type is at version 1.
TYPE_MIGRATIONS: dict[tuple[str, int], Callable[[dict], dict]] = {}


def migrate(data: dict) -> dict:
    """Bring parsed file data up to the current version."""
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise MigrationError("version", f"must be a positive whole number, not {version!r}")
    if version > CURRENT_VERSION:
        raise MigrationError("version", f"the file has format version {version}, but this "
                                        f"program reads up to {CURRENT_VERSION}: it was saved by a "
                                        f"newer version of netdesigner")
    while version < CURRENT_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["version"] = version
    return data


def migrate_params(type_id: str, type_version: int, current: int, params: dict) -> dict:
    """Bring a node's params from `type_version` up to `current`, one step per version.
    The caller holds `type_version` to graph.limits' minimum (1): a step per version from
    -10^12 would take days."""
    if type_version < 1:
        raise MigrationError("type_version", f"must be 1 or more, not {type_version}")
    while type_version < current:
        step = TYPE_MIGRATIONS.get((type_id, type_version))
        if step is not None:
            params = step(params)
        type_version += 1
    return params
