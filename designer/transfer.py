"""File > Export and File > Import in the window.

The work runs in a separate process (`backends.transfer`, which calls the one home of each
format: `backends.export.export` and `backends.keras.importer.import_file`), so the window never
imports TensorFlow and never freezes; a busy progress dialog with Cancel shows while it runs.
Before an export, `backends.export.preflight` lists every layer the chosen format cannot carry in
the Problems panel, and an export with errors is refused with a sentence.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QLabel, QListWidget,
                               QListWidgetItem, QMessageBox, QProgressDialog, QVBoxLayout)

from netdesigner.backends import applications
from netdesigner.backends.applications import APPLICATIONS
from netdesigner.backends.export.preflight import FORMAT_NAMES, problems_for
from netdesigner.backends.transfer import ExportJob, ImportJob, TransferProcess, default_out
from netdesigner.graph import fileformat

from .document import Document

POLL_MS = 100

EXPORT_FILTERS = {"py": "Python script (*.py)", "savedmodel": "SavedModel folder (*)",
                  "keras": "Keras model (*.keras)", "onnx": "ONNX model (*.onnx)"}


def onnx_install_hint() -> str | None:
    """None when ONNX export can run here, else how to get it (a sentence for the menu)."""
    from netdesigner.backends.export import onnx_available
    if onnx_available():
        return None
    return "ONNX export needs its extra: pip install netdesigner[onnx]"


def folder_of(paths: list[str]) -> Path:
    """The folder to open after an export: the one holding its first output (a SavedModel is
    itself a folder: its parent, where the user chose to put it)."""
    return Path(paths[0]).parent


class DoneBox(QMessageBox):
    """The end of an export or import: what was written, and a button to open its folder."""

    def __init__(self, parent, title: str, text: str, folder: Path):
        super().__init__(QMessageBox.Information, title, text, QMessageBox.Ok, parent)
        self.folder = folder
        self.open_button = self.addButton("Open folder", QMessageBox.ActionRole)
        self.open_button.setToolTip(str(folder))
        self.open_button.clicked.disconnect()      # it must not close the box
        self.open_button.clicked.connect(self.open_folder)

    def open_folder(self) -> bool:
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))


class ApplicationsDialog(QDialog):
    """Pick a keras.applications architecture to import (built with weights=None)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import a Keras application")
        self.resize(460, 480)
        self.list = QListWidget()
        for name in APPLICATIONS:
            item = QListWidgetItem(self.label(name))
            item.setData(Qt.UserRole, name)
            self.list.addItem(item)
        self.list.setCurrentRow(APPLICATIONS.index("MobileNetV2"))
        self.list.itemDoubleClicked.connect(lambda item: self.accept())
        shipped = applications.manifest().get("keras")
        note = QLabel("The architecture of a well-known network from keras.applications, with "
                      "freshly initialised weights (nothing is downloaded). "
                      + (f"Converted ahead of time for Keras {shipped}, it opens at once; with "
                         f"another Keras version it is converted now, which takes a few seconds."
                         if shipped else "Large networks take a while to import."))
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    @staticmethod
    def label(name: str) -> str:
        """The entry of `name`: its size from the catalogue's manifest when it is shipped."""
        entry = applications.entry(name)
        if entry is None:
            return name
        return f"{name}  —  {entry['layers']} layers, {entry['parameters']:,} parameters"

    @property
    def chosen(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item is not None else None


class Transfers(QObject):
    """The window's exports and imports: at most one at a time, in a worker process."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.process: TransferProcess | None = None
        # a worker that loads TensorFlow while the user is still in the menu or a dialog
        self.spare: TransferProcess | None = None
        self.progress: QProgressDialog | None = None
        self.last_box: DoneBox | None = None
        self.last_outcome: dict | None = None
        self._kind = ""
        self._tmp = tempfile.TemporaryDirectory(prefix="netdesigner-import-")
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)

    @property
    def busy(self) -> bool:
        return self.process is not None

    # -- export ---------------------------------------------------------------------------------
    def preflight(self, to: str) -> list:
        """Show the design's problems and the format's in the Problems panel; the errors."""
        window = self.window
        problems = window.document.analysis.problems()
        extra = problems_for(window.document.graph, to)
        window.problems.show_problems([*problems, *extra])
        return [p for p in [*problems, *extra] if p.severity == "error"]

    def export(self, to: str) -> bool:
        """File > Export > `to`: check, ask where, then export in a worker process."""
        window = self.window
        name = FORMAT_NAMES[to]
        if self._refuse_while_busy():
            return False
        if len(window.document.graph) == 0:
            QMessageBox.information(window, "Nothing to export",
                                    "The network is empty: add layers before exporting it.")
            return False
        errors = self.preflight(to)
        if errors:
            self._show_problems_dock()
            if len(errors) == 1:
                text = (f"The network cannot be exported as {name}. {errors[0]}\n\nThe Problems "
                        f"panel lists it: click it to find the layer.")
            else:
                text = (f"The network cannot be exported as {name}: the Problems panel lists "
                        f"{len(errors)} problems (click one to find its layer). The first: "
                        f"{errors[0]}")
            QMessageBox.warning(window, f"Cannot export as {name}", text)
            return False
        doc = window.document
        start = default_out(doc.path, doc.graph.metadata.get("title", ""), to, Path.cwd())
        out, _ = QFileDialog.getSaveFileName(window, f"Export as {name}", str(start),
                                             EXPORT_FILTERS[to])
        if not out:
            return False
        weights = window.training.saved_weights()
        job = ExportJob(fileformat.dumps(doc.graph), to, out,
                        weights=str(weights) if weights else None,
                        base_dir=str(doc.path.parent) if doc.path else str(Path.cwd()),
                        source_name=doc.path.name if doc.path else "")
        self._start(job, f"Exporting as {name}…", "export")
        return True

    def _show_problems_dock(self) -> None:
        dock = self.window.problems.parentWidget()
        while dock is not None and not hasattr(dock, "setFloating"):
            dock = dock.parentWidget()
        if dock is not None:
            dock.show()
            dock.raise_()

    # -- import ---------------------------------------------------------------------------------
    def import_keras_file(self) -> bool:
        window = self.window
        if self._refuse_while_busy() or not window.maybe_save():
            return False
        path, _ = QFileDialog.getOpenFileName(window, "Import a Keras model", str(Path.cwd()),
                                              "Keras models (*.keras *.h5);;All files (*)")
        if not path:
            return False
        return self.import_source(path, Path(path).stem)

    def import_application(self) -> bool:
        window = self.window
        if self._refuse_while_busy() or not window.maybe_save():
            return False
        dialog = ApplicationsDialog(window)
        if dialog.exec() != QDialog.Accepted or not dialog.chosen:
            return False
        source = f"keras.applications.{dialog.chosen}"
        if applications.available(dialog.chosen):
            # converted ahead of time by this very import for the installed Keras: no worker,
            # no TensorFlow (ResNet50 opens in a fraction of a second instead of ~4 s)
            return self.open_shipped_application(dialog.chosen)
        # weights=None: an application's weights are a random draw, no better than the
        # design's own initial weights (and writing ResNet50's takes a second): not carried
        return self.import_source(source, dialog.chosen, weights=False)

    def open_shipped_application(self, name: str) -> bool:
        """Open the catalogue's design of keras.applications.`name` as the worker's import
        would be opened (backends.applications; its design is the worker's, weights=False)."""
        source = f"keras.applications.{name}"
        try:
            graph = applications.load(name)
        except ValueError as e:             # a damaged installation: said, as a failed import
            self.last_outcome = {"ok": False, "message": str(e)}
            QMessageBox.critical(self.window, "Import failed", str(e))
            return False
        self.last_outcome = {"ok": True, "paths": [], "layers": len(graph), "note": "",
                             "catalogue": True}
        self._open_imported(graph, source, len(graph), weights=None)
        return True

    def import_source(self, source: str, stem: str, weights: bool = True) -> bool:
        """Import `source` (a .keras file or keras.applications.NAME) in a worker process."""
        folder = Path(tempfile.mkdtemp(dir=self._tmp.name))
        self._start(ImportJob(source, str(folder / f"{stem}.graph"), weights),
                    f"Importing {stem}…", "import")
        return True

    # -- running --------------------------------------------------------------------------------
    def _refuse_while_busy(self) -> bool:
        if self.busy:
            QMessageBox.information(self.window, "Busy", "An export or import is already "
                                                         "running; wait for it or cancel it.")
        return self.busy

    def prewarm(self) -> None:
        """Start loading TensorFlow in a spare worker (the File menu's Import and Export menus
        call this as they open): the job then starts in about a second, not five."""
        if self.spare is None and self.process is None:
            self.spare = TransferProcess(warm=True)
            self.spare.start()

    def _start(self, job, label: str, kind: str) -> None:
        self._kind = kind
        self.last_outcome = None
        spare, self.spare = self.spare, None
        if spare is not None and spare.poll() is None and spare.running:
            spare.submit(job)
            self.process = spare
        else:
            if spare is not None:
                spare.cancel()
            self.process = TransferProcess(job)
            self.process.start()
        self.progress = QProgressDialog(label, "Cancel", 0, 0, self.window)
        self.progress.setWindowTitle("netdesigner")
        self.progress.setWindowModality(Qt.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.canceled.connect(self.cancel)
        self.progress.show()            # every job takes seconds (the worker imports TensorFlow)
        self.window.statusBar().showMessage(label)
        self.timer.start()

    def cancel(self) -> None:
        if self.process is not None:
            self.process.cancel()
            self._poll()

    def _poll(self) -> None:
        if self.process is None:
            return
        outcome = self.process.poll()
        if outcome is None:
            return
        self.timer.stop()
        job = self.process.job
        self.process = None
        if self.progress is not None:
            self.progress.canceled.disconnect(self.cancel)
            self.progress.reset()
            self.progress.deleteLater()
            self.progress = None
        self.last_outcome = outcome
        if outcome.get("cancelled"):
            self.window.statusBar().showMessage(f"{self._kind.capitalize()} cancelled.", 5000)
        elif not outcome["ok"]:
            self.window.statusBar().clearMessage()
            QMessageBox.critical(self.window, f"{self._kind.capitalize()} failed",
                                 outcome["message"])
        elif self._kind == "export":
            self._exported(job, outcome)
        else:
            self._imported(job, outcome)

    def _exported(self, job: ExportJob, outcome: dict) -> None:
        paths = outcome["paths"]
        name = FORMAT_NAMES[job.to]
        text = f"Exported as {name}: {paths[0]}"
        if len(paths) > 1:
            text += "\nBeside it: " + ", ".join(Path(p).name for p in paths[1:])
        if outcome.get("note"):
            text += "\n\n" + outcome["note"]
        self.window.statusBar().showMessage(f"Exported {paths[0]}", 8000)
        self._done_box("Export finished", text, folder_of(paths))

    def _imported(self, job: ImportJob, outcome: dict) -> None:
        window = self.window
        graph_path = Path(outcome["paths"][0])
        try:
            graph = fileformat.load(graph_path)
        except fileformat.GraphFileError as e:
            QMessageBox.critical(window, "Import failed", str(e))
            return
        weights = [Path(p) for p in outcome["paths"][1:] if p.endswith(".npz")]
        self._open_imported(graph, job.source, outcome.get("layers", len(graph)),
                            weights[0] if weights else None)

    def _open_imported(self, graph, source: str, layers: int, weights: Path | None) -> None:
        """An imported design as a new untitled document (its files, if any, sit in a
        temporary folder until it is saved)."""
        window = self.window
        window.set_document(Document(graph))
        if weights is not None:
            window.training.pending_weights = weights      # saved beside the project
        window.document.undo.resetClean()          # not on disk: Save is asked on close
        window.view.show_network()
        window.statusBar().showMessage(
            f"Imported {source}: {layers} layers. Save it to keep it.", 10000)

    def _done_box(self, title: str, text: str, folder: Path) -> None:
        box = DoneBox(self.window, title, text, folder)
        box.setAttribute(Qt.WA_DeleteOnClose)
        self.last_box = box
        box.destroyed.connect(lambda *_: setattr(self, "last_box", None))
        box.open()

    def shutdown(self) -> None:
        for process in (self.process, self.spare):
            if process is not None:
                process.cancel()
        self.process = self.spare = None
        self.timer.stop()
        self._tmp.cleanup()
