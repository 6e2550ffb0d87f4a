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
    weights: bool = True            # write the model's weights beside the design


def run_export(job: ExportJob) -> dict:
    """Do an export in this process; the outcome as `TransferProcess.poll` returns it."""
    from netdesigner.graph import fileformat

    from .export import export, usage_note
    graph = fileformat.loads(job.graph_text, job.source_name or "<project>")
    split, note = None, ""
    # every format carries the scaling fitted on the training split (raw samples in)
    from .jobs import prepare
    try:
        split = prepare(graph, job.base_dir).split
    except ValueError as e:
        note = (f"The script has no data file beside it ({e}); give it one with --data."
                if job.to == "py" and job.with_data else
                f"The SavedModel serves prepared samples only: the data set cannot be "
                f"prepared ({e}), so it has no serve_raw endpoint." if job.to == "savedmodel"
                else f"The export takes samples prepared as the network expects them: the "
                     f"data set cannot be prepared ({e}).")
    written = export(graph, job.to, job.out, weights=job.weights, settings=None,
                     source_name=job.source_name, split=split,
                     with_data=job.to != "py" or job.with_data)
    note = " ".join(filter(None, [note, usage_note(written)]))
    if job.weights is None:
        note = " ".join(filter(None, [note, "The project has no trained weights yet: the "
                                            "exported model has its initial weights."]))
    return {"ok": True, "paths": [str(p) for p in written], "note": note}


def run_import(job: ImportJob) -> dict:
    from .keras.importer import APPLICATION_SOURCE, import_file
    if APPLICATION_SOURCE.fullmatch(job.source):
        # Keras numbers the names of unnamed layers per process (input_layer_1 after the
        # warm-up model, InceptionV3's conv2d_5...): counted afresh, an application's design
        # is the same in any worker, and equal to the one shipped in backends.applications
        import keras
        keras.backend.clear_session(free_memory=False)
    graph, written = import_file(job.source, job.out, weights=job.weights)
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


READY = "ready"          # what a warm worker says once TensorFlow and Keras are imported


def _worker(jobs, conn, warm: bool, job=None) -> None:
    """A transfer process: with `warm`, it imports TensorFlow and Keras first and says READY
    (the seconds that costs pass while the user is still in a file dialog); then it takes one
    job, sends its outcome and ends."""
    from .quiet_tf import quiet_if_inherited
    quiet_if_inherited()            # before this fresh process imports TensorFlow
    if warm:
        warm_up()
        conn.send(READY)
    if job is None:
        try:
            job = jobs.recv()
        except (EOFError, OSError):  # the window went away without a job for it
            return
    conn.send(run(job))
    conn.close()


def warm_up() -> None:
    """Load TensorFlow and Keras and build a tiny functional model of the common layer kinds:
    the first model a process builds pays for TensorFlow's runtime and Keras's first-use code
    paths (ResNet50: 1.2 s to build first, 0.9 s after this, 0.5 s the second time)."""
    import keras
    import keras.applications  # noqa: F401 - the architectures File > Import offers

    from . import export  # noqa: F401 - the jobs' own modules, loaded before the job comes
    from .keras import importer  # noqa: F401
    layers = keras.layers
    x = keras.Input((8, 8, 3))
    y = layers.BatchNormalization()(layers.Conv2D(2, 3)(layers.ZeroPadding2D(1)(x)))
    y = layers.MaxPooling2D()(layers.Activation("relu")(y))
    y = layers.Add()([y, layers.Conv2D(2, 1)(y)])
    keras.Model(x, layers.Dense(2)(layers.GlobalAveragePooling2D()(y)))


class TransferProcess:
    """One export or import job in a fresh process. `poll()` never blocks: None while the job
    runs, then its outcome (also when the process died: a sentence saying how).

    `TransferProcess(warm=True)` starts a process before the job is known: it loads TensorFlow
    at once, and `submit(job)` hands it the job later (an import or export then starts in
    about a second instead of five)."""

    def __init__(self, job=None, warm: bool = False):
        ctx = mp.get_context("spawn")
        self.job = job
        self.ready = False              # a warm worker has TensorFlow loaded
        self._reader, writer = ctx.Pipe(duplex=False)
        self._writer = writer
        jobs_reader, self._jobs = ctx.Pipe(duplex=False)
        self._jobs_reader = jobs_reader
        self.process = ctx.Process(target=_worker, args=(jobs_reader, writer, warm, job),
                                   daemon=True)
        self.outcome: dict | None = None

    def start(self) -> None:
        self.process.start()
        self._writer.close()            # a dead worker then reads as end-of-file
        self._jobs_reader.close()

    def submit(self, job) -> None:
        """Give a started warm worker its job."""
        if self.job is not None:
            raise RuntimeError("this transfer process has its job already")
        self.job = job
        self._jobs.send(job)

    def poll(self) -> dict | None:
        if self.outcome is not None:
            return self.outcome
        if self.process.pid is None:
            return None
        try:
            while self.outcome is None and self._reader.poll():
                message = self._reader.recv()
                if message == READY:
                    self.ready = True
                else:
                    self.outcome = message
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
            self._jobs.close()
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
            self._jobs.close()

    @property
    def running(self) -> bool:
        return self.outcome is None and self.process.is_alive()


def default_out(project: Path | None, title: str, to: str, folder: Path) -> Path:
    """Where an export goes unless the user says otherwise: beside the project, named after it."""
    stem = project.stem if project else (title or "network").replace(" ", "_")
    base = project.parent if project else folder
    suffix = {"py": ".py", "savedmodel": "_savedmodel", "keras": ".keras", "onnx": ".onnx"}[to]
    return base / f"{stem}{suffix}"
