"""Export and import jobs run in a separate ("spawn") process.

The designer exports and imports through here, so that TensorFlow is never imported in the GUI
process (as training does through `backends.runner`). The work itself is done by the one home of
each format: `backends.export.export` and `backends.keras.importer.import_file`; this module only
carries a job to a fresh process and its outcome (the paths written, or a sentence) back.

    process = TransferProcess(ExportJob(text, "savedmodel", "out/net_savedmodel", weights, dir))
    process.start()
    ...                                   # poll() from a timer: None while it runs
    outcome = process.poll()              # {"ok": True, "paths": [...], "note": ...}
                                          # or {"ok": False, "message": "a sentence"}
"""
from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

from .runner import how_it_ended


@dataclass(frozen=True)
class ExportJob:
    graph_text: str                 # the design as `.graph` text (the document as it is now)
    to: str                         # a format of backends.export.FORMATS
    out: str                        # where to write it
    weights: str | None = None      # trained weights (.npz), or None for the initial ones
    base_dir: str = "."             # where the project's data set paths are relative to
    source_name: str = ""           # the project's file name, named in an exported script
    with_data: bool = True          # a script also gets the prepared data set beside it


@dataclass(frozen=True)
class ImportJob:
    source: str                     # a .keras file, or "keras.applications.NAME"
    out: str                        # the .graph to write (its weights go beside it)


def run_export(job: ExportJob) -> dict:
    """Do an export in this process; the outcome as `TransferProcess.poll` returns it."""
    from netdesigner.graph import fileformat

    from .export import export
    graph = fileformat.loads(job.graph_text, job.source_name or "<project>")
    split, note = None, ""
    if job.to == "py" and job.with_data:
        from .jobs import prepare
        try:
            split = prepare(graph, job.base_dir).split
        except ValueError as e:
            note = f"The script has no data file beside it ({e}); give it one with --data."
    written = export(graph, job.to, job.out, weights=job.weights, settings=None,
                     source_name=job.source_name, split=split)
    if job.weights is None:
        note = " ".join(filter(None, [note, "The project has no trained weights yet: the "
                                            "exported model has its initial weights."]))
    return {"ok": True, "paths": [str(p) for p in written], "note": note}


def run_import(job: ImportJob) -> dict:
    from .keras.importer import import_file
    graph, written = import_file(job.source, job.out)
    return {"ok": True, "paths": [str(p) for p in written], "layers": len(graph), "note": ""}


def run(job) -> dict:
    """Run a job; every failure is an outcome with a sentence, never an exception."""
    try:
        return run_export(job) if isinstance(job, ExportJob) else run_import(job)
    except (ValueError, OSError) as e:      # ExportError, ImportProblem, GraphFileError...
        return {"ok": False, "message": str(e) or type(e).__name__}
    except Exception as e:                  # noqa: BLE001 - a bug, told as a sentence
        first = str(e).splitlines()[0][:300] if str(e) else ""
        return {"ok": False, "message": f"{type(e).__name__}: {first} (an internal error of "
                                        f"netdesigner; please report it)"}


def _worker(job, conn) -> None:
    from .quiet_tf import quiet_if_inherited
    quiet_if_inherited()            # before this fresh process imports TensorFlow
    conn.send(run(job))
    conn.close()


class TransferProcess:
    """One export or import job in a fresh process. `poll()` never blocks: None while the job
    runs, then its outcome (also when the process died: a sentence saying how)."""

    def __init__(self, job):
        ctx = mp.get_context("spawn")
        self.job = job
        self._reader, writer = ctx.Pipe(duplex=False)
        self._writer = writer
        self.process = ctx.Process(target=_worker, args=(job, writer), daemon=True)
        self.outcome: dict | None = None

    def start(self) -> None:
        self.process.start()
        self._writer.close()            # a dead worker then reads as end-of-file

    def poll(self) -> dict | None:
        if self.outcome is not None:
            return self.outcome
        if self.process.pid is None:
            return None
        try:
            if self._reader.poll():
                self.outcome = self._reader.recv()
        except (EOFError, OSError):
            self.process.join(5)
            code = self.process.exitcode
            what = "the export" if isinstance(self.job, ExportJob) else "the import"
            ended = how_it_ended(code if code is not None else 1, f"{what} process")
            sentence = ended[0].upper() + ended[1:]
            self.outcome = {"ok": False, "message": sentence if sentence.endswith("?")
                            else sentence + "."}
        if self.outcome is not None:
            self.process.join(5)
            self._reader.close()
        return self.outcome

    def cancel(self) -> None:
        """Stop the job now (a half-written output may remain)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(1)
        if self.outcome is None:
            self.outcome = {"ok": False, "message": "Cancelled.", "cancelled": True}
            self._reader.close()

    @property
    def running(self) -> bool:
        return self.outcome is None and self.process.is_alive()


def default_out(project: Path | None, title: str, to: str, folder: Path) -> Path:
    """Where an export goes unless the user says otherwise: beside the project, named after it."""
    stem = project.stem if project else (title or "network").replace(" ", "_")
    base = project.parent if project else folder
    suffix = {"py": ".py", "savedmodel": "_savedmodel", "keras": ".keras", "onnx": ".onnx"}[to]
    return base / f"{stem}{suffix}"
