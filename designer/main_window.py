"""The designer's main window: palette, canvas, property editor, problems, status bar, files."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QPointF, QProcess, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QApplication, QDialog, QDialogButtonBox, QDockWidget, QFileDialog,
                               QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QMainWindow, QMessageBox, QScrollArea, QVBoxLayout)
from shiboken6 import isValid

from netdesigner.graph import fileformat
from netdesigner.graph.layout import DOWN, RIGHT

from .canvas.editing import add_layer, delete_selection, free_spot
from .canvas.scene import NetworkScene
from .canvas.view import READABLE_ZOOM, NetworkView
from .document import AUTO_LAYOUT, CLIPBOARD_MIME, Document
from .palette import Palette
from .problems import ProblemsList
from .project_view import ProjectViews
from .properties import PropertyEditor
from .theme import THEMES, apply_palette
from .trace_panel import TracePanel
from .training.panel import TrainingPanel
from .transfer import Transfers, onnx_install_hint

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "samples"
MAX_RECENT = 8
AUTOSAVE_MS = 60_000
FILE_FILTER = "Network projects (*.graph);;All files (*)"


def recovery_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation) or str(
        Path.home() / ".netdesigner")
    path = Path(base) / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, autosave_ms: int = AUTOSAVE_MS):
        super().__init__()
        self.settings = settings or QSettings("netdesigner", "netdesigner")
        self.theme = THEMES.get(self.settings.value("theme", "light"), THEMES["light"])
        self.document: Document | None = None
        self.scene: NetworkScene | None = None
        self.recovery_file = recovery_dir() / f"session-{os.getpid()}.graph"
        # recovery files of crashed sessions that this one was offered and did not take in:
        # kept (offered again if this session crashes too) until this session closes cleanly
        self.kept_recovery: list[Path] = []

        self.view = NetworkView()
        self.setCentralWidget(self.view)
        self.palette = Palette()
        self.properties = PropertyEditor()
        self.problems = ProblemsList()
        self.training = TrainingPanel(self)
        self.trace = TracePanel(self)
        # the one owner of what the window shows of the open project (see project_view.py)
        self.project_views = ProjectViews()
        for view in self.training.project_views():
            self.project_views.subscribe(view)
        self.project_views.subscribe(self.trace)
        self.training.evaluation.traceRequested.connect(self.trace_sample)
        self.project_views.subscribe(self)
        self.project = None
        docks = [self._dock("Layers", self.palette, Qt.LeftDockWidgetArea),
                 self._dock("Properties", self.properties, Qt.RightDockWidgetArea),
                 self._dock("Problems", self.problems, Qt.BottomDockWidgetArea),
                 self._dock("Training", scrollable(self.training), Qt.BottomDockWidgetArea)]
        self.trace_dock = self._dock("Trace", scrollable(self.trace), Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(docks[2], docks[3])
        self.tabifyDockWidget(docks[3], self.trace_dock)
        docks[2].raise_()
        self.training_dock = docks[3]
        self._docks = docks
        # raising the Training tab (or showing its dock) gives it a real share of the height
        self.training_dock.visibilityChanged.connect(
            lambda visible: visible and QTimer.singleShot(0, self._grow_training_dock))
        self.trace_dock.visibilityChanged.connect(
            lambda visible: visible and QTimer.singleShot(
                0, lambda: self._grow_dock(self.trace_dock)))
        self._default_docks_pending = True     # sized on the first show (see showEvent)

        self.status_params = QLabel()
        self.status_flops = QLabel()
        self.status_valid = QLabel()
        self.status_device = QLabel("Device: CPU")
        # shown while the last autosave failed: the unsaved work is not protected against a crash
        self.status_autosave = QLabel()
        self.status_autosave.setStyleSheet("color: #d32f2f")
        self.status_autosave.hide()
        self.autosave_error: str | None = None
        for w in (self.status_autosave, self.status_valid, self.status_params, self.status_flops,
                  self.status_device):
            self.statusBar().addPermanentWidget(w)

        self.transfers = Transfers(self)
        self._make_actions()
        self.palette.activated.connect(self.add_layer_at_centre)
        self.view.layerDropped.connect(self.add_layer)
        self.problems.nodeActivated.connect(self.focus_node)

        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start(autosave_ms)

        self.set_document(Document.new())
        self._restore_settings()
        self._detect_device()

    # -- layout ---------------------------------------------------------------------------------
    def _dock(self, title, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text, slot, shortcut=None, menu=None, checkable=False, tip=None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.WindowShortcut)
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        m = self.menuBar()
        f = m.addMenu("&File")
        self._action("&New", self.new_file, QKeySequence.New, f)
        self._action("&Open…", self.open_dialog, QKeySequence.Open, f)
        self._action("Open &Sample…", self.open_sample_dialog, None, f)
        self.recent_menu = f.addMenu("Open &Recent")
        f.addSeparator()
        self._make_transfer_menus(f)
        f.addSeparator()
        self._action("&Save", self.save, QKeySequence.Save, f)
        self._action("Save &As…", self.save_as, QKeySequence("Ctrl+Shift+S"), f)
        f.addSeparator()
        self._action("&Compare With…", self.compare_dialog, None, f,
                     tip="Show what differs between this design and another .graph file")
        f.addSeparator()
        self._action("&Quit", self.close, QKeySequence.Quit, f)

        e = m.addMenu("&Edit")
        self.undo_action = self._action("&Undo", lambda: self.document.undo.undo(),
                                        QKeySequence.Undo, e)
        self.redo_action = self._action("&Redo", lambda: self.document.undo.redo(),
                                        QKeySequence("Ctrl+Y"), e)
        self.addAction(self._action("Redo", lambda: self.document.undo.redo(),
                                    QKeySequence("Ctrl+Shift+Z")))
        e.addSeparator()
        self._action("&Copy", self.copy, QKeySequence.Copy, e)
        self._action("Cu&t", self.cut, QKeySequence.Cut, e)
        self._action("&Paste", self.paste, QKeySequence.Paste, e)
        self._action("&Duplicate", self.duplicate, QKeySequence("Ctrl+D"), e)
        self._action("De&lete", self.delete_selection, QKeySequence.Delete, e)
        self._action("Select &All", self.select_all, QKeySequence.SelectAll, e)
        e.addSeparator()
        self._action("Auto &Layout", lambda: self.auto_layout(), QKeySequence("Ctrl+L"), e,
                     tip="Arrange the layers by depth: top-down when the network is wider "
                         "than the view, else left to right")
        self._action("Auto Layout Left to &Right", lambda: self.auto_layout(RIGHT),
                     QKeySequence("Ctrl+Shift+L"), e, tip="Arrange the layers left to right")
        self._action("Auto Layout &Top-Down", lambda: self.auto_layout(DOWN), None, e,
                     tip="Arrange the layers top to bottom, like Netron")
        self._action("&Collapse into Block", self.collapse_selection, QKeySequence("Ctrl+G"), e,
                     tip="Replace the selected layers by one Block node (double-click opens it)")
        self._action("Edit &Block Definition…", self.edit_selected_block, QKeySequence("Ctrl+B"),
                     e, tip="Open the sub-graph of the selected Block node (or double-click it)")

        t = m.addMenu("&Train")
        self._action("&Start Training", lambda: self.show_training() and self.training.start(),
                     QKeySequence("Ctrl+T"), t)
        self._action("&Pause / Resume", lambda: self.training.toggle_pause(), None, t)
        self._action("S&top", lambda: self.training.stop(), None, t)
        self._action("Compare &Optimizers…",
                     lambda: self.show_training() and self.training.compare_dialog(), None, t,
                     tip="Train the design once per optimizer and compare the loss curves")
        t.addSeparator()
        self._action("T&race a Sample…", self.show_trace, QKeySequence("Ctrl+Shift+T"), t,
                     tip="Run one sample through the network and see every layer's output")

        v = m.addMenu("&View")
        self._action("&Fit to View", self.view.fit, QKeySequence("F"), v)
        self._action("Zoom &In", lambda: self.view.set_zoom(1.25), QKeySequence.ZoomIn, v)
        self._action("Zoom &Out", lambda: self.view.set_zoom(0.8), QKeySequence.ZoomOut, v)
        v.addSeparator()
        self.snap_action = self._action("&Snap to Grid", self.toggle_snap, None, v,
                                        checkable=True)
        self.labels_action = self._action("Shapes on &Wires", self.toggle_labels, None, v,
                                          checkable=True)
        self.dark_action = self._action("&Dark Theme", self.toggle_dark, None, v,
                                        checkable=True)
        self.snap_action.setChecked(True)
        self.labels_action.setChecked(True)
        self.dark_action.setChecked(self.theme.name == "dark")
        v.addSeparator()
        panels = v.addMenu("&Panels")          # a closed panel comes back from here
        for dock in self.findChildren(QDockWidget):
            panels.addAction(dock.toggleViewAction())

    def _make_transfer_menus(self, f) -> None:
        """File > Import and File > Export (the work: designer/transfer.py)."""
        i = f.addMenu("&Import")
        i.aboutToShow.connect(self.transfers.prewarm)
        self._action("Keras Model (.keras)…", self.transfers.import_keras_file, None, i)
        self._action("Keras Application…", self.transfers.import_application, None, i,
                     tip="ResNet50, MobileNetV2, VGG16… from keras.applications")
        x = f.addMenu("&Export")
        x.aboutToShow.connect(self.transfers.prewarm)
        self._action("Python Script…", lambda: self.transfers.export("py"), None, x)
        self._action("SavedModel…", lambda: self.transfers.export("savedmodel"), None, x)
        self._action("Keras Model (.keras)…", lambda: self.transfers.export("keras"), None, x)
        onnx = self._action("ONNX…", lambda: self.transfers.export("onnx"), None, x)
        hint = onnx_install_hint()
        if hint:
            onnx.setText("ONNX (pip install netdesigner[onnx])")
            onnx.setEnabled(False)
            onnx.setToolTip(hint)
            onnx.setStatusTip(hint)
        x.setToolTipsVisible(True)

    # -- the document ---------------------------------------------------------------------------
    def set_document(self, document: Document) -> None:
        for editor in list(getattr(self, "block_editors", {}).values()):
            editor.close()                 # they edit the blocks of the document going away
        self.block_editors: dict = {}
        old = self.document
        self.document = document
        self.scene = NetworkScene(document, self.theme, self)
        self.scene.snap_to_grid = self.snap_action.isChecked()
        self.scene.show_wire_labels = self.labels_action.isChecked()
        self.view.setScene(self.scene)
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.nodeOpened.connect(self.open_node)
        self.scene.wireRefused.connect(lambda reason: self.statusBar().showMessage(
            f"Wire refused: {reason}", 6000))
        self.properties.set_document(document)
        document.validated.connect(self._validated)
        document.fileChanged.connect(self._update_title)
        document.undo.canUndoChanged.connect(self.undo_action.setEnabled)
        document.undo.canRedoChanged.connect(self.redo_action.setEnabled)
        document.undo.indexChanged.connect(
            lambda index, d=document: self._undo_index_changed(d, index))
        self.undo_action.setEnabled(document.undo.canUndo())
        self.redo_action.setEnabled(document.undo.canRedo())
        if old is not None:
            old.close()
            old.deleteLater()
            self._show_autosave_failure(None)      # it was about the document going away
        self.project = self.project_views.open(document)
        self._validated()
        self._update_title()
        QTimer.singleShot(0, self.view.show_network)

    def show_project(self, project) -> None:
        """The status bar's words were about the previous project (the scene, and so the
        canvas tint, is made new with each document)."""
        self.statusBar().clearMessage()

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.document.title}[*] — netdesigner")
        self.setWindowModified(self.document.modified)

    def _validated(self) -> None:
        a = self.document.analysis
        problems = a.problems()
        self.problems.show_problems(problems)
        errors = sum(p.severity == "error" for p in problems)
        warnings = len(problems) - errors
        if errors:
            self.status_valid.setText(f"✖ {errors} problem{'s' if errors != 1 else ''}")
            self.status_valid.setStyleSheet(f"color: {self.theme.error};")
        elif warnings:
            self.status_valid.setText(f"⚠ valid, {warnings} warning{'s' if warnings != 1 else ''}")
            self.status_valid.setStyleSheet(f"color: {self.theme.warning};")
        else:
            self.status_valid.setText("✔ valid" if len(self.document.graph) else "empty")
            self.status_valid.setStyleSheet(f"color: {self.theme.ok};")
        self.status_params.setText(f"Parameters: {a.total_params():,}")
        self.status_flops.setText(f"FLOPs: {a.total_flops():,}")
        self.view.minimap.refresh()

    def _selection_changed(self) -> None:
        if self.scene is None:
            return
        ids = self.scene.selected_node_ids()
        self.properties.set_node(ids[0] if len(ids) == 1 else None)

    def _detect_device(self) -> None:
        """Name the GPU if there is one, without importing TensorFlow in the GUI process."""
        exe = shutil.which("nvidia-smi")
        if not exe:
            self.status_device.setText("Device: CPU")
            return
        process = QProcess(self)

        def done(*_):
            names = bytes(process.readAllStandardOutput()).decode(errors="replace").strip()
            self.status_device.setText(f"Device: GPU {names.splitlines()[0]}" if names
                                       else "Device: CPU")
        process.finished.connect(done)
        process.start(exe, ["--query-gpu=name", "--format=csv,noheader"])

    # -- editing --------------------------------------------------------------------------------
    # -- blocks -------------------------------------------------------------------------------
    def open_node(self, node_id: str) -> None:
        """A double-click on a layer: a Block opens its definition; others show properties."""
        node = self.document.graph.node(node_id)
        if node.type == "Block" and node.params.get("block") in self.document.graph.blocks:
            self.open_block(node.params["block"])

    def edit_selected_block(self) -> None:
        ids = [n for n in self.scene.selected_node_ids()
               if self.document.graph.node(n).type == "Block"]
        if not ids:
            self.statusBar().showMessage("Select a Block node to edit its definition.", 5000)
            return
        self.open_node(ids[0])

    def open_block(self, name: str):
        from .block_editor import BlockEditor
        editor = self.block_editors.get(name)
        if editor is None:
            editor = self.block_editors[name] = BlockEditor(self, name)
        editor.show()
        editor.raise_()
        editor.activateWindow()
        return editor

    def add_layer(self, type_id: str, scene_pos: QPointF) -> str:
        """Add a layer centred where it was dropped."""
        return add_layer(self.document, self.scene, type_id, scene_pos)

    def add_layer_at_centre(self, type_id: str) -> str:
        """A layer added from the palette (double-click, search + Enter): near the centre of
        the view, where no layer is."""
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        node_id = self.add_layer(type_id, free_spot(self.scene, centre))
        item = self.scene.nodes.get(node_id)
        if item is not None:
            self.view.ensureVisible(item, 20, 20)
        return node_id

    def delete_selection(self) -> None:
        delete_selection(self.document, self.scene)

    def copy(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            mime = QGuiApplication.clipboard()
            text = self.document.copy_data(ids)
            mime.setText(text)

    def cut(self) -> None:
        self.copy()
        self.delete_selection()

    def paste(self) -> None:
        text = QGuiApplication.clipboard().text()
        if CLIPBOARD_MIME in text:
            self.scene.select_only(self.document.paste_data(text))

    def duplicate(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            self.scene.select_only(self.document.duplicate(ids))

    def collapse_selection(self) -> None:
        node, why = self.document.collapse_to_block(self.scene.selected_node_ids())
        if node is None:
            self.statusBar().showMessage(why, 6000)
        else:
            self.scene.select_only([node])

    def select_all(self) -> None:
        for item in self.scene.nodes.values():
            item.setSelected(True)

    def auto_layout(self, direction: str | None = None) -> None:
        """Lay the network out; without a direction, top-down when it would be wider than the
        view at a readable zoom."""
        width = self.view.viewport().width() / READABLE_ZOOM
        self.document.auto_layout(direction, view_width=width)
        self.scene.update_orientation()
        self.view.show_network()

    def _undo_index_changed(self, document, index: int) -> None:
        if document is not self.document or not isValid(document.undo) or self.scene is None:
            return                  # a document going away
        undo = document.undo
        for i in (index - 1, index):            # the command just redone, or just undone
            command = undo.command(i) if 0 <= i < undo.count() else None
            if command is not None and command.text() == AUTO_LAYOUT:
                self.scene.update_orientation()
                return

    TRAINING_SHARE = 0.46      # of the window's height, when the training panel is shown

    def show_training(self) -> bool:
        """Bring the training panel up, tall enough for its plots."""
        self.training_dock.show()
        self.training_dock.raise_()
        self._grow_training_dock()
        return True

    def show_trace(self) -> bool:
        """Bring the Trace panel up, tall enough for its pictures."""
        self.trace_dock.show()
        self.trace_dock.raise_()
        self._grow_dock(self.trace_dock)
        return True

    def trace_sample(self, split: str, index: int) -> bool:
        """Trace sample `index` of `split` in the Trace panel (a Test set thumbnail asked)."""
        self.show_trace()
        return self.trace.trace_sample(split, index)

    def _grow_training_dock(self) -> None:
        """The training panel, when it is on screen, gets a real share of the height: its
        Start button, settings and plots at once (it opened 70-90 px tall before)."""
        self._grow_dock(self.training_dock)

    def _grow_dock(self, dock) -> None:
        if (dock.isFloating() or not dock.isVisible() or dock.visibleRegion().isEmpty()
                or self.dockWidgetArea(dock) not in (Qt.BottomDockWidgetArea,
                                                     Qt.TopDockWidgetArea)):
            return
        if dock.height() < self.height() * (self.TRAINING_SHARE - 0.08):
            self.resizeDocks([dock], [int(self.height() * self.TRAINING_SHARE)], Qt.Vertical)

    def focus_node(self, node_id: str) -> None:
        self.scene.select_only([node_id])
        self.view.center_on_node(node_id)

    def toggle_snap(self, on: bool) -> None:
        self.scene.snap_to_grid = on

    def toggle_labels(self, on: bool) -> None:
        self.scene.set_wire_labels(on)

    def toggle_dark(self, on: bool) -> None:
        self.set_theme("dark" if on else "light")

    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]
        self.settings.setValue("theme", name)
        apply_palette(QApplication.instance(), self.theme)
        self.scene.set_theme(self.theme)
        self.view.viewport().update()
        self._validated()

    # -- files ----------------------------------------------------------------------------------
    def ask_save_changes(self) -> QMessageBox.StandardButton:
        """Save / Discard / Cancel (a method, so tests can answer it)."""
        return QMessageBox.question(
            self, "Unsaved changes",
            f"{self.document.title} has changes that are not saved. Save them first?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)

    def maybe_save(self) -> bool:
        """True when it is safe to drop the current document."""
        if not self.document.modified:
            return True
        answer = self.ask_save_changes()
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    def new_file(self) -> None:
        if self.maybe_save():
            self.set_document(Document.new())

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        start = str(self.document.path.parent) if self.document.path else str(SAMPLES_DIR)
        path, _ = QFileDialog.getOpenFileName(self, "Open network", start, FILE_FILTER)
        if path:
            self.open_file(path, ask=False)

    def open_file(self, path, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        try:
            document = Document.open(path)
        except fileformat.GraphFileError as e:
            QMessageBox.critical(self, "Cannot open file", str(e))
            return False
        self.set_document(document)
        self._add_recent(str(Path(path).resolve()))
        self.statusBar().showMessage(f"Opened {path}", 4000)
        return True

    def compare_dialog(self) -> None:
        start = str(self.document.path.parent) if self.document.path else str(SAMPLES_DIR)
        path, _ = QFileDialog.getOpenFileName(self, "Compare with", start, FILE_FILTER)
        if path:
            self.compare_with(path)

    def compare_with(self, path):
        """A window showing what changed from the design in `path` to the open one."""
        from .compare import CompareWindow
        try:
            other = fileformat.load(path)
        except fileformat.GraphFileError as e:
            QMessageBox.critical(self, "Cannot compare", str(e))
            return None
        window = CompareWindow(other, self.document.graph, Path(path).name,
                               self.document.title, self.theme, self)
        window.setAttribute(Qt.WA_DeleteOnClose)
        window.show()
        return window

    def open_sample_dialog(self) -> None:
        dialog = SampleGallery(self)
        if dialog.exec() == QDialog.Accepted and dialog.chosen:
            self.open_sample(dialog.chosen)

    def open_sample(self, path, ask: bool = True) -> bool:
        """An untitled copy of a shipped sample: Save asks for a name, so the sample in
        samples/ is never written over."""
        if ask and not self.maybe_save():
            return False
        try:
            document = Document.open_copy(path)
        except fileformat.GraphFileError as e:
            QMessageBox.critical(self, "Cannot open sample", str(e))
            return False
        self.set_document(document)
        self.statusBar().showMessage(f"Opened a copy of the sample {Path(path).name}: save it "
                                     f"under a name of your own.", 6000)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self) -> bool:
        document = self.document
        name = document.origin.name if document.origin else document.title
        start = str(document.path or Path.cwd() / name)
        path, _ = QFileDialog.getSaveFileName(self, "Save network", start, FILE_FILTER)
        if not path:
            return False
        if not path.endswith(".graph"):
            path += ".graph"
        return self._write(Path(path))

    def _write(self, path: Path) -> bool:
        try:
            weights = self.training.saved_weights()     # before Save As changes the path
            self.document.save(path)
            self.training.save_weights(path, weights)
        except (OSError, ValueError) as e:
            QMessageBox.critical(self, "Cannot save", f"{path}: {e}\nThe file on disk was "
                                                      f"not changed.")
            return False
        self._add_recent(str(path.resolve()))
        self.statusBar().showMessage(f"Saved {path}", 4000)
        self._show_autosave_failure(None)          # the work is on disk now
        return True

    # -- recent files and settings --------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if v]

    def _add_recent(self, path: str) -> None:
        recent = [path] + [p for p in self.recent_files() if p != path]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_file(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def showEvent(self, event):
        super().showEvent(event)
        if self._default_docks_pending:
            self._default_docks_pending = False
            # Qt ignores dock sizes asked for before the window is laid out; without a saved
            # layout the canvas gets the room: narrow side docks, a short problems strip
            QTimer.singleShot(0, self.default_dock_sizes)

    def default_dock_sizes(self) -> None:
        palette, properties, problems, _ = self._docks
        self.resizeDocks([palette, properties], [220, 260], Qt.Horizontal)
        self.resizeDocks([problems], [max(110, int(self.height() * 0.16))], Qt.Vertical)
        self.view.show_network()          # the canvas changed size: frame the network again

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            self._default_docks_pending = not self.restoreState(state)
        self._fill_recent_menu()
        if self.theme.name == "dark":
            apply_palette(QApplication.instance(), self.theme)

    def closeEvent(self, event):
        if not self.maybe_save():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.sync()
        self.autosave_timer.stop()
        self.training.shutdown()
        self.trace.shutdown()
        self.transfers.shutdown()
        self.discard_recovery()
        event.accept()

    # -- autosave and crash recovery ------------------------------------------------------------
    def autosave(self) -> bool:
        """Every minute, a modified document is written to a recovery file (never over the
        user's own file); a clean exit removes it, a crash leaves it for the next start.

        A failure stays in the status bar until an autosave or a save succeeds: work that is
        not autosaved is lost in a crash, and the user must know. Whether the document is now
        in the recovery file is returned."""
        if self.document is None or not self.document.modified:
            self._show_autosave_failure(None)      # nothing unsaved to protect
            return False
        try:
            fileformat.save(self.document.graph, self.recovery_file)
            info = {"original": str(self.document.path) if self.document.path else None,
                    "saved_at": time.time(), "pid": os.getpid()}
            self.recovery_file.with_suffix(".json").write_text(json.dumps(info))
        # any failure at all: this runs from a timer, where an exception would only reach stderr
        except Exception as e:
            self._show_autosave_failure(str(e) if isinstance(e, (OSError, ValueError))
                                        else f"{type(e).__name__}: {e}")
            return False
        self._show_autosave_failure(None)
        return True

    def _show_autosave_failure(self, reason: str | None) -> None:
        self.autosave_error = reason
        if reason is None:
            self.status_autosave.hide()
            return
        text = (f"Autosave failed: {reason}. Unsaved changes would be lost in a crash; "
                f"save the project to keep them.")
        self.status_autosave.setText("⚠ Autosave failed")
        self.status_autosave.setToolTip(text)
        self.status_autosave.show()
        self.statusBar().showMessage(text, 15000)

    def discard_recovery(self) -> None:
        """A clean exit: this session's recovery file goes, and so do the crashed sessions'
        files it was offered and declined."""
        for graph in [self.recovery_file, *self.kept_recovery]:
            for path in (graph, graph.with_suffix(".json")):
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass              # the folder went away: the window must still close
        self.kept_recovery.clear()

    def offer_recovery(self, ask=None) -> bool:
        """After a crash: offer the newest recovery file left by a session that is gone."""
        candidates = []
        for path in recovery_dir().glob("session-*.graph"):
            if path == self.recovery_file:
                continue
            info_path = path.with_suffix(".json")
            try:
                info = json.loads(info_path.read_text())
            except (OSError, ValueError):
                info = {}
            pid = info.get("pid")
            if pid and _process_alive(pid):
                continue
            candidates.append((path.stat().st_mtime, path, info))
        if not candidates:
            return False
        _, path, info = max(candidates)
        original = info.get("original") or "an untitled network"
        ask = ask or (lambda text: QMessageBox.question(
            self, "Recover unsaved work?", text) == QMessageBox.Yes)
        recovered = False
        if ask(f"netdesigner did not close properly. Unsaved changes to {original} were "
               f"kept at {time.ctime(path.stat().st_mtime)}. Recover them?"):
            try:
                document = Document(fileformat.load(path),
                                    info.get("original") or None)
                self.set_document(document)
                # the recovered state differs from the file on disk until saved
                document.undo.resetClean()
                self._update_title()
                recovered = True
            except fileformat.GraphFileError as e:
                QMessageBox.critical(self, "Cannot recover", str(e))
        if recovered and self.autosave():
            # the recovered work is in this session's own recovery file now
            for p in (path, path.with_suffix(".json")):
                p.unlink(missing_ok=True)
        else:
            # declined (or unreadable, or not yet autosaved): a second crash must not lose it
            self.kept_recovery.append(path)
        return recovered


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    except OSError:
        return False
    return True


def scrollable(widget) -> QScrollArea:
    """`widget` in a frameless scroll area: its dock can then be made short (the problems strip
    shares the dock area) without squeezing the widget below its own minimum size."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    return area


def gallery_order(folder: Path):
    """Sort key: the order samples/README.md introduces them in (a path from the perceptron to
    GANs), then the rest by name."""
    try:
        text = (folder / "README.md").read_text()
    except OSError:
        text = ""
    rank = {}
    for name in re.findall(r"`([\w-]+)\.graph`", text):
        rank.setdefault(name, len(rank))
    return lambda path: (rank.get(path.stem, len(rank)), path.stem)


class SampleGallery(QDialog):
    """The samples in `samples/`, each with its title and description."""

    def __init__(self, parent=None, folder: Path = SAMPLES_DIR):
        super().__init__(parent)
        self.setWindowTitle("Open a sample network")
        self.resize(640, 420)
        self.chosen: str | None = None
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setSpacing(3)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter: e.g. lstm, autoencoder, gan, digits…")
        self.filter.textChanged.connect(self._apply_filter)
        for path in sorted(folder.glob("*.graph"), key=gallery_order(folder)):
            try:
                data = json.loads(path.read_text())
                meta = data.get("metadata", {})
            except (OSError, ValueError):
                continue
            title = meta.get("title", path.stem)
            item = QListWidgetItem(f"{title}\n{meta.get('description', '')}")
            item.setData(Qt.UserRole, str(path))
            item.setToolTip(str(path))
            self.list.addItem(item)
        buttons = QDialogButtonBox(QDialogButtonBox.Open | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda item: self._accept())
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def _apply_filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.list.count()):
            item = self.list.item(i)
            haystack = (item.text() + " " + item.data(Qt.UserRole)).lower()
            item.setHidden(not all(w in haystack for w in words))

    def _accept(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.chosen = item.data(Qt.UserRole)
            self.accept()
