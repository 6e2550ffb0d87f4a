"""Rebuild the catalogue from the installed Keras: every `NAME.graph.gz` and `manifest.json`.

    python -m netdesigner.backends.applications.make

Each design is written by the very job File > Import > Keras Application runs in its worker
(`backends.transfer.ImportJob` with weights=False, through `backends.keras.importer`), here in
this process; its `.graph` text is stored as it is, gzip-compressed (no time stamp: the same
Keras gives the same bytes). Run it after upgrading Keras, or after a change to the importer or
the layout that `tests/backends/test_applications.py` reports as a stale catalogue.
"""
from __future__ import annotations

import gzip
import json
import sys
import tempfile
from pathlib import Path

from netdesigner.graph import fileformat
from netdesigner.graph.validation import Analysis

from . import APPLICATIONS, HERE, MANIFEST, file_name, keras_version

COMMAND = "python -m netdesigner.backends.applications.make"


def live_design_text(name: str, folder: Path) -> str:
    """The `.graph` text that File > Import > Keras Application's worker writes for `name`
    (keras.applications.NAME(weights=None), no weights), made in this process."""
    from netdesigner.backends.transfer import ImportJob, run
    out = Path(folder) / f"{name}.graph"
    outcome = run(ImportJob(f"keras.applications.{name}", str(out), weights=False))
    if not outcome["ok"]:
        raise ValueError(f"keras.applications.{name}: {outcome['message']}")
    return out.read_text(encoding="utf-8")


def make(names=APPLICATIONS, folder: Path = HERE, log=print) -> dict:
    """Write every design and the manifest into `folder`; the manifest written."""
    folder = Path(folder)
    version = keras_version()
    if version is None:
        raise ValueError("Keras is not installed: the catalogue is made from keras.applications")
    entries = {}
    with tempfile.TemporaryDirectory(prefix="netdesigner-applications-") as work:
        for name in names:
            text = live_design_text(name, Path(work))
            graph = fileformat.loads(text, name)
            (folder / file_name(name)).write_bytes(
                gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
            entries[name] = {"layers": len(graph), "wires": len(graph.edges()),
                             "parameters": Analysis(graph, live=False).total_params(),
                             "file": file_name(name)}
            log(f"{name}: {entries[name]['layers']} layers, {entries[name]['parameters']:,} "
                f"parameters, {(folder / file_name(name)).stat().st_size:,} bytes")
    for stale in folder.glob("*.graph.gz"):        # a name no longer offered
        if stale.name not in {e["file"] for e in entries.values()}:
            stale.unlink()
    data = {"keras": version, "made_by": COMMAND, "applications": entries}
    target = MANIFEST if folder == HERE else folder / MANIFEST.name
    target.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    log(f"{target}: Keras {version}, {len(entries)} designs")
    return data


def main() -> int:
    from netdesigner.backends.quiet_tf import quiet
    quiet()
    try:
        make()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
