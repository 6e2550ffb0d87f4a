"""The training panel: data and settings, Start / Pause / Stop, and what the run streams.

Training runs in a separate process (`backends.runner.TrainingProcess`); a 50 ms timer drains
its events in the GUI thread, feeds the plots and tints the canvas by gradient flow. Nothing
from the worker ever touches a widget.

The data set is read and checked in a thread (`check_data`), never in the GUI thread: a slow
disk or a file that never ends must not freeze the window. The thread works on a copy of the
project (its .graph text), touches no Qt object and puts its result on a queue that a timer in
the GUI thread empties; a result for an earlier project or setting is dropped. While a check
runs, Python's cycle collector is paused: run in that thread, it could free Qt objects there
while the GUI thread deletes others, and the two deadlock (seen: shiboken's deletion in the
main thread against a QObject destructor in the reader thread).
"""
from __future__ import annotations

import html
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QScrollArea, QSplitter, QVBoxLayout, QWidget)

from netdesigner.backends import data, diagnostics, progress, protocol
from netdesigner.backends.comparison import VARIANTS, variant_design
from netdesigner.backends.jobs import Job, prepare
from netdesigner.backends.modes import mode_named
from netdesigner.backends.runner import TrainingProcess
from netdesigner.backends.weights_file import weights_path
from netdesigner.graph import fileformat
from netdesigner.graph.events import NodeMoved, SettingsChanged
from netdesigner.graph.expand import SEPARATOR, expand_blocks
from netdesigner.graph.params import CHOICE, Param
from netdesigner.graph.training import OPTIMIZERS, SETTINGS

from .. import collection
from ..document import DEFAULT_DATASET
from ..param_form import ParamForm
from ..project_view import ProjectState
from .plots import TrainingPlots
from .data_view import DataPreview
from .embeddings import EmbeddingsView
from .generated import GeneratedView
from .results import EvaluationView, RunsView

POLL_MS = 50
DRAIN_BUDGET_S = 0.02
RECHECK_MS = 300                    # a burst of edits is followed by one data check
SETTINGS_MIN_HEIGHT = 96               # pixels: three rows of the settings form at least


# The run states the panel's status line names; Start, Pause, Stop and Evaluate follow them.
IDLE, CHECKING, TRAINING, EVALUATING, PAUSED, STOPPING, STOPPED, FINISHED, FAILED = (
    "idle", "checking data", "training", "evaluating", "paused", "stopping", "stopped",
    "finished", "failed")
BUSY = (CHECKING, TRAINING, EVALUATING, PAUSED, STOPPING)


def dataset_param(current) -> Param:
    """The data set drop-down: the built-in sets, and the project's own file path when it
    names one (the drop-down shows what is stored, never a set that is not)."""
    choices = tuple(data.BUILTIN)
    if current not in choices:          # a file, or none chosen yet (an empty entry)
        choices = (str(current or ""), *choices)
    return Param("dataset", CHOICE, DEFAULT_DATASET, SETTINGS["dataset"].help, choices=choices)


def design_node(node_id: str) -> str:
    """The design's node for a node of the expanded network (block copies map to the block)."""
    return node_id.split(SEPARATOR, 1)[0]


def escape(text: str) -> str:
    """Plain text for a rich-text label (quotes stay as they are, for the reader)."""
    return html.escape(text, quote=False)


def mapping_text(dataset) -> str:
    """'Classes: 1 → 0, 2 → 1, 3 → 2' when the labels in the data are not the class ids."""
    pairs = data.class_mapping(dataset)
    if not pairs:
        return ""
    shown = ", ".join(f"{name} → {i}" for name, i in pairs[:20])
    return f"Classes (label in the data → class): {shown}" + (", …" if len(pairs) > 20 else "")


#: what a data check's thread puts in place of a split while it reads: (number, PROGRESS, text)
PROGRESS = "progress"


def read_data(number: int, text: str, base_dir: str, results: queue.SimpleQueue) -> None:
    """A data check's thread: prepares a copy of the project and puts (number, Split or None,
    what is wrong) on `results`; touches no Qt object."""
    def report(*where):       # a streamed data set's first pass, the scaling statistics
        results.put((number, PROGRESS, progress.describe(*where)))
    try:
        with progress.reporting(report):
            split, message = prepare(fileformat.loads(text, "<project>"), base_dir).split, ""
    except ValueError as e:                              # DataError included
        split, message = None, str(e)
    except Exception as e:           # shown in the panel: the project stays open and usable
        split, message = None, f"cannot read the data set ({type(e).__name__}: {e})"
    results.put((number, split, message))


class FittedColumn(QWidget):
    """A column never squeezed below the height its wrapped text needs at its width: a
    splitter keeps a widget at least at its minimum size hint, which for word-wrapped labels
    is a single line, so the data summary lost its last lines ("fits the network")."""

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            hint.setHeight(max(hint.height(), layout.totalHeightForWidth(self.width())))
        return hint

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()             # the wrapped text's height changed with it


class TrainingPanel(QWidget):
    runFinished = Signal(dict)          # the train_end event (or an error event)
    stateChanged = Signal(str)          # one of the run states above

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.document = None
        self.project: ProjectState | None = None     # see designer/project_view.py
        self.process: TrainingProcess | None = None
        self.job: Job | None = None
        self.run_state = IDLE
        self._tmp = Path(tempfile.mkdtemp(prefix="netdesigner-run-"))
        self.started_at = 0.0
        self.max_gap = 0.0                  # longest pause between two timer ticks (ms)
        self.train_samples = 0              # of the run: for examples/s
        self._last_tick = None
        # an optimizer comparison: the optimizers still to train, the one training now, and
        # the indices of the runs it recorded
        self._compare_queue: list[str] = []
        self._variant: str | None = None
        self._variant_epochs = 0
        self._compared: list[int] = []
        self.data_check = 0                 # the number of the newest data check
        self.data_state = "none"            # checking | ok | failed (of the newest check)
        self.data_message = ""              # what the newest check found wrong
        self.data_split = None              # what the newest check prepared
        self._checked = None                # `_state_now()` at the newest check
        self._revision = 0                  # edits of the open project (moves aside)
        self._start_after_check: bool | None = None   # evaluate_only of a waiting Start
        self._results: queue.SimpleQueue = queue.SimpleQueue()   # from the check threads
        self._checks_running = 0

        self.settings_box = QWidget()
        self.settings_layout = QVBoxLayout(self.settings_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.settings_box)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.export_button = QPushButton("Save plots…")
        self.export_button.setToolTip("Save the plots as PNG images and their data as CSV")
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Score the saved weights on the test set")
        self.resume_weights = QCheckBox("Start from the saved weights")
        self.resume_weights.setToolTip("Continue training from the weights saved beside the "
                                       "project, instead of fresh random ones")
        self.state_label = QLabel()
        self.state_label.setObjectName("run_state")
        self.status = QLabel("Not trained yet.")
        self.status.setWordWrap(True)
        # one row of buttons: a second row took the height of a settings row
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for b in (self.start_button, self.pause_button, self.stop_button,
                  self.evaluate_button, self.export_button):
            b.setMinimumWidth(0)
            buttons.addWidget(b)
        # no sideways scrolling: the fields narrow to the column (param_form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(SETTINGS_MIN_HEIGHT)
        controls = FittedColumn()
        col = QVBoxLayout(controls)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.data_label)
        col.addWidget(self.resume_weights)
        col.addLayout(buttons)
        col.addWidget(self.state_label)
        col.addWidget(self.status)
        col.addStretch(1)
        # the settings above the data summary and the buttons, the line between them movable:
        # on a 1280x800 screen the settings had room for two rows
        left = QSplitter(Qt.Vertical)
        left.setObjectName("settings_splitter")
        left.setContentsMargins(4, 4, 4, 4)
        left.addWidget(scroll)
        left.addWidget(controls)
        left.setStretchFactor(0, 1)
        left.setStretchFactor(1, 0)
        left.setChildrenCollapsible(False)
        self.plots = TrainingPlots()
        self.preview = DataPreview()
        self.evaluation = EvaluationView()
        self.runs = RunsView()
        self.plots.insertTab(0, self.preview, "Data")
        self.generated = GeneratedView()               # GAN mode: the generator's samples
        self.plots.addTab(self.generated, "Generated")
        self.plots.addTab(self.evaluation, "Test set")
        self.plots.addTab(self.runs, "Runs")
        # word vectors of an Embedding layer (shown for designs whose data set names its words)
        self.embeddings = EmbeddingsView(self.saved_weights, self.plots)
        self.plots.addTab(self.embeddings, "Embeddings")
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.plots)
        splitter.setSizes([420, 860])
        self.plots.setMinimumWidth(240)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        self.export_button.clicked.connect(self.export_dialog)
        self.evaluate_button.clicked.connect(self.evaluate)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.check_timer = QTimer(self)          # collects the data checks' results
        self.check_timer.setInterval(20)
        self.check_timer.timeout.connect(self._collect_checks)
        self.recheck_timer = QTimer(self)        # the graph changed: check the data again
        self.recheck_timer.setSingleShot(True)
        self.recheck_timer.setInterval(RECHECK_MS)
        self.recheck_timer.timeout.connect(self._recheck)
        self._set_state(IDLE)

    def project_views(self) -> list:
        """The panel's views of the open project, for `ProjectViews.subscribe` (the panel
        itself first: it ends a run of the previous project before the views are emptied)."""
        return [self, self.plots, self.preview, self.generated, self.evaluation, self.runs,
                self.embeddings]

    # the run state of the open project lives in its ProjectState
    @property
    def pending_weights(self) -> Path | None:
        return self.project.pending_weights if self.project else None

    @pending_weights.setter
    def pending_weights(self, path: Path | None) -> None:
        self.project.pending_weights = path

    @property
    def last_end(self) -> dict | None:
        return self.project.last_end if self.project else None

    @last_end.setter
    def last_end(self, event: dict | None) -> None:
        self.project.last_end = event

    @property
    def events_seen(self) -> int:
        return self.project.events_seen if self.project else 0

    @events_seen.setter
    def events_seen(self, n: int) -> None:
        self.project.events_seen = n

    # -- settings -------------------------------------------------------------------------------
    def show_project(self, project: ProjectState) -> None:
        """Another project is open: a run of the previous one ends unseen (none of its events
        reach this project's views), and the panel shows the new project's settings."""
        self._abandon_run()
        self.project = project
        self._revision += 1                     # no check of another project is current
        self.document = document = project.document
        # the document's signals die with it; a slot of this panel is disconnected then
        document.graphEvent.connect(self._on_event)
        document.validated.connect(self._graph_validated)
        self._start_after_check = None          # a Start pressed for the previous project
        self.recheck_timer.stop()
        self._build_forms()
        saved = self.saved_weights()
        self.resume_weights.setChecked(saved is not None)
        self._set_state(IDLE, f"Trained weights found: {saved.name}." if saved else
                        "Not trained yet.")

    def _abandon_run(self) -> None:
        """End the running process without reading what it still sends (and any optimizer
        comparison it was part of)."""
        self._variant, self._compare_queue, self._compared = None, [], []
        self.timer.stop()
        if self.process is not None and self.process.running:
            self.process.stop()
        self.process = None
        self.job = None

    def _set_state(self, state: str, detail: str | None = None) -> None:
        """Name the run state in the status line (with `detail` below it) and enable the
        buttons that can act in it."""
        changed = state != self.run_state
        self.run_state = state
        self.state_label.setText(f"<b>{state.capitalize()}</b>")
        if detail is not None:
            self.status.setText(detail)
        self._update_buttons()
        if changed:
            self.stateChanged.emit(state)

    def saved_weights(self) -> Path | None:
        """The newest trained weights: the last run's (not saved yet), or the project's."""
        if self.pending_weights is not None and self.pending_weights.exists():
            return self.pending_weights
        if self.document is not None and self.document.path is not None:
            path = weights_path(self.document.path)
            if path.exists():
                return path
        return None

    def _build_forms(self) -> None:
        while self.settings_layout.count():
            item = self.settings_layout.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        training = self.document.graph.training
        specs = [dataset_param(training.get("dataset"))] + [p for p in SETTINGS
                                                             if p.name != "dataset"]
        self.form = ParamForm(specs, training, self._apply)
        optimizer = OPTIMIZERS[training["optimizer"]]
        values = {**optimizer.params.defaults(), **training.get("optimizer_params", {})}
        self.optimizer_form = ParamForm(list(optimizer.params), values, self._apply_optimizer)
        title = QLabel(f"<b>{optimizer.name}</b>: {optimizer.description}")
        title.setWordWrap(True)
        self.settings_layout.addWidget(QLabel("<b>Training settings</b>"))
        self.settings_layout.addWidget(self.form)
        self.settings_layout.addWidget(title)
        self.settings_layout.addWidget(self.optimizer_form)
        self.settings_layout.addStretch()
        self.check_data()

    def _apply(self, name: str, value) -> None:
        if name == "optimizer" and value != self.document.graph.training["optimizer"]:
            self.document.undo.beginMacro(f"Use {value}")
            self.document.set_training("optimizer", value)
            self.document.set_training("optimizer_params",
                                       dict(OPTIMIZERS[value].params.defaults()))
            self.document.undo.endMacro()
            return
        self.document.set_training(name, value)

    def _apply_optimizer(self, name: str, value) -> None:
        params = dict(self.document.graph.training.get("optimizer_params", {}))
        params[name] = value
        self.document.set_training("optimizer_params", params)

    def _on_event(self, event) -> None:
        if not isinstance(event, NodeMoved):     # a move changes no shape and no data
            self._revision += 1
        if isinstance(event, SettingsChanged) and event.what.startswith("training."):
            key = event.what.split(".", 1)[1]
            value = self.document.graph.training.get(key)
            if key in ("optimizer", "optimizer_params") or (
                    key == "dataset" and value not in self.form.specs["dataset"].choices):
                QTimer.singleShot(0, self._build_forms)   # not while a form emits
            else:
                self.form.set_value(key, value)
                self.check_data()

    def _graph_validated(self) -> None:
        """After a burst of edits: the fit message and Start follow the graph as it is now."""
        self._update_buttons()
        if not self.data_current():
            self.recheck_timer.start()

    def _recheck(self) -> None:
        if self.document is not None and not self.data_current():
            self.check_data()

    def check_data(self) -> None:
        """Read the data set and check it against the network, in a thread: the result
        (shapes and whether they fit, or what is wrong) comes back through `_collect_checks`."""
        self.data_check += 1
        self.data_state, self.data_message, self.data_split = "checking", "", None
        if len(self.document.graph) == 0:
            self._checked = self._state_now()
            name = self.document.graph.training.get("dataset") or "a data set"
            self._data_checked(self.data_check, None, f"The network is empty: add an Input "
                               f"layer for the samples of {name} and end with an output layer "
                               f"for its targets.")
            return
        try:
            text = fileformat.dumps(self.document.graph, indent=None)   # on the GUI thread
        except (ValueError, OverflowError) as e:       # a project that cannot be written
            self._checked = None
            self._data_checked(self.data_check, None, f"cannot check the data: {e}")
            return
        self._checked = self._state_now()
        self.data_label.setText("Reading the data set…")
        collection.pause()                 # resumed as its result comes in (or at shutdown)
        self._checks_running += 1
        # a daemon: a thread stuck on a dead network disk must not keep the program from
        # quitting
        threading.Thread(target=read_data, name="netdesigner-data-check", daemon=True,
                         args=(self.data_check, text, self._base_dir(),
                               self._results)).start()
        self.check_timer.start()

    def _collect_checks(self) -> None:
        while True:
            try:
                number, split, message = self._results.get_nowait()
            except queue.Empty:
                break
            if isinstance(split, str) and split == PROGRESS:
                if number == self.data_check:
                    self.data_label.setText(f"Reading the data set… {escape(message)}")
                continue
            self._checks_running -= 1
            collection.resume()
            if self._checks_running == 0:
                self.check_timer.stop()
            self._data_checked(number, split, message)

    def _data_checked(self, number: int, split, message: str) -> None:
        if number != self.data_check:
            return                   # a check of an earlier project or setting
        if split is None:
            self.data_state, self.data_message = "failed", message
            self.preview.show_project(self.project)      # no preview of a data set not read
            self.data_label.setText(f"<span style='color:#d32f2f'>{escape(message)}</span>")
        else:
            self.data_state, self.data_split = "ok", split
            dataset = split.dataset
            classes = dataset.classes if dataset.task == "classification" else []
            mapping = mapping_text(dataset)
            self.preview.show_split(split, mapping)
            self.data_label.setText(
                f"<b>{escape(dataset.name)}</b>: {escape(dataset.description)}<br>"
                f"{escape(split.summary())}" + (f"; {len(classes)} classes" if classes
                                                     else "")
                + " <span style='color:#2e7d32'>✔ fits the network</span>"
                + (f"<br>{escape(mapping)}" if mapping else ""))
        waiting, self._start_after_check = self._start_after_check, None
        if waiting is not None:
            self._start_checked(waiting)
        else:
            self._update_buttons()

    def _state_now(self) -> tuple:
        """What a data check depends on: the project, its edits so far (moves aside) and
        where its data paths start. (Comparing the project's text instead cost a full dump
        of the design after every edit: 35 ms on 500 layers.)"""
        return (id(self.project), self._revision, self._base_dir())

    def data_current(self) -> bool:
        """Whether the newest data check is of the project as it is now."""
        return self._checked == self._state_now()

    def _base_dir(self) -> str:
        return str(self.document.base_dir)

    # -- running --------------------------------------------------------------------------------
    def evaluate(self) -> bool:
        """Score the saved weights on the test set (a run of zero epochs)."""
        return self.start(evaluate_only=True)

    def start(self, evaluate_only: bool = False) -> bool:
        """Start a run once the data are checked: at once when the newest check is of the
        project as it is, else after a fresh check (False: refused now, with the reason)."""
        if self.run_state in BUSY:
            self.status.setText(f"Already {self.run_state}: "
                                + ("resume or stop the paused run first." if
                                   self.run_state == PAUSED else "wait for it to end."))
            return False
        self.document.revalidate()
        if evaluate_only and self.saved_weights() is None:
            self.status.setText("There are no trained weights to evaluate yet.")
            return False
        if not self.data_current():
            self.check_data()
        if self.data_state == "checking":
            self._start_after_check = evaluate_only
            self._set_state(CHECKING, "Checking the data before starting…")
            return True
        return self._start_checked(evaluate_only)

    def _start_checked(self, evaluate_only: bool) -> bool:
        """Start now that the data of the project as it is are checked (refused, with the
        reason, when they failed)."""
        if self.data_state != "ok":
            self.last_end = {"event": "error", "message": self.data_message}
            self._set_state(FAILED, f"<span style='color:#d32f2f'>Cannot start: "
                                    f"{escape(self.data_message)}</span>")
            self.runFinished.emit(self.last_end)
            return False
        graph = self.document.graph
        if self._variant is not None:
            # one run of an optimizer comparison: the design with that optimizer, from its
            # seeded initial weights; the project's trained weights are not touched
            job = Job(fileformat.dumps(variant_design(graph, self._variant,
                                                      self._variant_epochs)),
                      self._base_dir(), graph.training.get("backend", "numpy"))
        else:
            run_dir = Path(tempfile.mkdtemp(dir=self._tmp))
            saved = self.saved_weights()
            job = Job(fileformat.dumps(graph), self._base_dir(),
                      graph.training.get("backend", "numpy"), evaluate_only=evaluate_only,
                      weights_out=None if evaluate_only else str(run_dir / "weights.npz"),
                      weights_in=str(saved) if saved and (evaluate_only
                                                          or self.resume_weights.isChecked())
                      else None)
        self.plots.clear()
        self.plots.explain_no_gradients(
            mode_named(graph.training.get("mode", "supervised")).no_layer_stats)
        self.window.scene.clear_training_overlay()
        self.events_seen = 0
        self.last_end = None
        self.job = job
        self.process = TrainingProcess(job)
        self.process.start()
        self.started_at = time.perf_counter()
        self.max_gap = 0.0
        self._last_tick = None
        self.timer.start()
        self._set_state(EVALUATING if evaluate_only else TRAINING,
                        f"Starting the {job.backend} backend…")
        return True

    def toggle_pause(self) -> None:
        if self.process is None or not self.process.running:
            return
        if self.process.paused:
            self.process.resume()
            self._set_state(EVALUATING if self.job.evaluate_only else TRAINING, "Resumed.")
        else:
            self.process.pause()
            self._set_state(PAUSED, "Paused: the run waits before its next batch. Resume it, "
                                    "or stop it.")

    def stop(self) -> None:
        """Stop the run (or a Start waiting for its data check); the project and its previous
        weights stay as they were."""
        if self.run_state == CHECKING:
            self._start_after_check = None
            self._set_state(IDLE, "Not started: Stop was pressed while the data were checked.")
            return
        if self.process is None or self.run_state not in (TRAINING, EVALUATING, PAUSED):
            return
        self._set_state(STOPPING, "Stopping…")
        self.process.stop()
        self.poll()
        self.timer.stop()
        if self.run_state == STOPPING:            # not failed or finished meanwhile
            self._set_state(STOPPED, "Stopped. The project and its weights are unchanged.")

    def poll(self) -> None:
        now = time.perf_counter()
        if self._last_tick is not None:
            self.max_gap = max(self.max_gap, (now - self._last_tick) * 1000)
        self._last_tick = now
        if self.process is None:
            return
        # a time budget per tick keeps the GUI answering even when the worker is far ahead
        events = self.process.drain(budget_s=DRAIN_BUDGET_S)
        stats = None
        for event in events:
            self.events_seen += 1
            self.plots.add_event(event)
            self.generated.add_event(event)
            if event["event"] == "layer_stats":
                stats = event              # only the newest one is worth drawing
            else:
                self._handle(event)
        if stats is not None:
            self._overlay(stats)
        self.plots.redraw()
        if self.process.done and not self.process.running:
            self.timer.stop()
            if self.run_state in (TRAINING, EVALUATING, PAUSED):
                self._run_ended()

    def _run_ended(self) -> None:
        """The worker is gone: the state says how the run ended (its message stays); in an
        optimizer comparison, the next optimizer starts, or the comparison is shown."""
        end = self.last_end or {}
        if end.get("event") == "error" or end.get("reason") == "nan":
            self._set_state(FAILED)
        elif end.get("reason") == "stopped":
            self._set_state(STOPPED)
        elif end:
            self._set_state(FINISHED)
        else:
            self._set_state(FAILED, "<span style='color:#d32f2f'>The training process ended "
                                    "without a result.</span>")
        if self._variant is not None:
            self._variant_ended(self.run_state == FINISHED)

    # -- optimizer comparison -----------------------------------------------------------------
    def compare_dialog(self) -> bool:
        """Train > Compare Optimizers…: choose them, then compare (False: cancelled or
        refused)."""
        from .optimizers_dialog import OptimizersDialog
        if self.document is None:
            return False
        dialog = OptimizersDialog(int(self.document.graph.training.get("epochs", 10)), self)
        if not dialog.exec():
            return False
        return self.compare_optimizers(dialog.chosen(), dialog.epochs.value())

    def compare_optimizers(self, names: list[str], epochs: int) -> bool:
        """Train the design once per optimizer in `names` (`comparison.VARIANTS`), `epochs`
        each, one after the other, each run recorded (labelled) in the Runs tab, which then
        shows their curves together. False (with the reason) when a run is on."""
        if self.run_state in BUSY:
            self.status.setText(f"Already {self.run_state}: wait for it to end, or stop it.")
            return False
        unknown = [n for n in names if n not in VARIANTS]
        if unknown or not names:
            self.status.setText(f"Unknown optimizer {', '.join(unknown) or '(none chosen)'}: "
                                f"choose from {', '.join(VARIANTS)}.")
            return False
        self._compare_queue = list(names)
        self._variant_epochs = int(epochs)
        self._compared = []
        return self._next_variant()

    def _next_variant(self) -> bool:
        self._variant = self._compare_queue.pop(0)
        done = len(self._compared)
        started = self.start()
        if started:
            self.status.setText(f"Comparing optimizers: {self._variant} ({done + 1} of "
                                f"{done + 1 + len(self._compare_queue)}), "
                                f"{self._variant_epochs} epochs…")
        else:
            self._variant, self._compare_queue = None, []
        return started

    def _variant_ended(self, finished: bool) -> None:
        if finished and self._compare_queue:
            self._next_variant()
            return
        names = [self.document.graph.runs[i]["label"] for i in self._compared]
        self._variant, self._compare_queue = None, []
        if not finished:
            self.status.setText(self.status.text() + f"<br>The comparison ended after "
                                f"{len(names)} optimizer{'s' * (len(names) != 1)}.")
        if names:
            self.runs.set_runs(self.document.graph.runs, ticked=self._compared)
            self.plots.setCurrentWidget(self.runs)
            if finished:
                self.status.setText(f"Compared {', '.join(names)}: their curves are in the "
                                    f"Runs tab (same initial weights, same batches).")

    def _handle(self, event: dict) -> None:
        kind = event["event"]
        if kind == "data_progress":          # the run's own first pass over streamed data
            self.status.setText("Preparing the data: " + escape(progress.describe(
                event["stage"], event["done"], event["total"], event["unit"])))
        elif kind == "train_begin":
            self.train_samples = event["samples"]
            self.status.setText(f"Training on {event['device']}: {event['samples']} samples, "
                                f"{event['steps_per_epoch']} batches per epoch.")
        elif kind == "epoch":
            val = "" if event["val_loss"] is None else f", validation {event['val_loss']:.4f}"
            acc = event["val_metrics"].get("accuracy", event["metrics"].get("accuracy"))
            share = protocol.input_share(event)
            samples = self.train_samples / event["seconds"] if event["seconds"] > 0 else 0
            slow = (share is not None and event["epoch"] > 0
                    and share > protocol.INPUT_BOUND_SHARE)
            self.status.setText(
                f"Epoch {event['epoch'] + 1}: loss {event['loss']:.4f}{val}"
                + (f", accuracy {acc:.1%}" if acc is not None else "")
                + (f"; {samples:,.0f} examples/s" if samples else "")
                + (f", waiting for data {share:.0%}" if share is not None else "")
                + (f"<br><span style='color:#e65100'>⚠ {escape(protocol.input_advice(share))}"
                   f"</span>" if slow else ""))
        elif kind == "train_end":
            self._finished(event)
            if event["reason"] not in ("completed", "early_stopping"):
                self.last_end = event           # no evaluation follows
                self.runFinished.emit(event)
        elif kind == "evaluation":
            self.evaluation.show_event(event)
            if self.document.graph.runs:
                self.document.graph.runs[-1]["test"] = {
                    "loss": event["loss"], **event["metrics"],
                    **{k: v for k, v in event["report"].items()
                       if k in ("accuracy", "macro_f1", "mse", "mae")}}
            self.last_end = event
            self.runFinished.emit(event)
        elif kind == "error":
            self.last_end = event
            self._set_state(FAILED, f"<span style='color:#d32f2f'>Training failed: "
                                    f"{escape(event['message'])}</span>")
            self.runFinished.emit(event)

    def _overlay(self, event: dict) -> None:
        flat = expand_blocks(self.document.graph)
        order = flat.nodes()
        warnings = diagnostics.diagnose(event, order, diagnostics.relu_nodes(flat))
        sizes = diagnostics.layer_gradient(event.get("gradients", {}))
        per_node: dict[str, float] = {}
        for n, g in sizes.items():
            per_node[design_node(n)] = max(per_node.get(design_node(n), 0.0), g)
        by_node: dict[str, list[str]] = {}
        for w in warnings:
            by_node.setdefault(design_node(w.node), []).append(w.message)
        self.window.scene.set_training_overlay(per_node, by_node)

    def _finished(self, event: dict) -> None:
        reason = event["reason"]
        text = {"completed": "Finished", "early_stopping": "Stopped early (no better "
                "validation loss)", "stopped": "Stopped", "nan": "Diverged"}[reason]
        self.status.setText(f"{text} after {event['epochs_run']} epochs.")
        weights = Path(self.job.weights_out) if self.job and self.job.weights_out else None
        if event["epochs_run"] == 0:
            self.status.setText("Evaluated the saved weights on the test set.")
            self.plots.setCurrentWidget(self.evaluation)
        elif reason in ("completed", "early_stopping") and (
                self._variant is not None or (weights and weights.exists())):
            run = {"when": time.strftime("%Y-%m-%d %H:%M:%S"),
                   "backend": self.document.graph.training.get("backend"),
                   "reason": reason, "epochs": event["epochs_run"],
                   "history": event.get("history", {}),
                   # the design as it was trained (edits during the run are not in it)
                   "design": fileformat.design_snapshot(
                       fileformat.loads(self.job.graph_text, "<run>"))}
            if self._variant is not None:     # a comparison's run: the weights stay as they were
                run["label"] = self._variant
                self._compared.append(len(self.document.graph.runs))
            else:
                self.pending_weights = weights
                self.embeddings.weights_changed()
            self.document.graph.runs.append(run)
            self.document.undo.resetClean()          # the project has news to save
            self.document.fileChanged.emit()
            self.runs.set_runs(self.document.graph.runs)

    def save_weights(self, project_path: Path, source: Path | None = None) -> Path | None:
        """Called when the project is saved: its newest weights go beside it. `source`: the
        weights the project had before it was saved (the last run's, or those beside the file
        it was read from: Save As carries them to the new name)."""
        source = source if source is not None else self.saved_weights()
        if source is None or not source.exists():
            return None
        target = weights_path(project_path)
        if source.resolve() != target.resolve():
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
        self.pending_weights = None
        if self.run_state not in BUSY:
            self.status.setText(f"Trained weights saved: {target.name}.")
        self._update_buttons()
        return target

    def start_refusal(self) -> str:
        """Why Start cannot act now ("" when it can)."""
        if self.run_state == PAUSED:
            return "The run is paused: resume it or stop it first."
        if self.run_state in BUSY:
            return f"A run is {self.run_state}."
        if self.document is None:
            return "No project is open."
        errors = [p for p in self.document.analysis.problems() if p.severity == "error"]
        if errors:
            return (f"The design has {len(errors)} problem{'s' if len(errors) != 1 else ''}: "
                    f"{errors[0].message}")
        if self.data_state == "failed" and self.data_current():
            return self.data_message
        return ""

    def _update_buttons(self) -> None:
        running = self.run_state in (TRAINING, EVALUATING, PAUSED)
        saved = self.saved_weights() is not None
        refusal = self.start_refusal()
        self.start_button.setEnabled(not refusal)
        self.start_button.setToolTip(refusal or "Train the network on the chosen data set")
        self.evaluate_button.setEnabled(self.run_state not in BUSY and saved)
        self.resume_weights.setEnabled(saved and self.run_state not in BUSY)
        self.pause_button.setEnabled(self.run_state in (TRAINING, PAUSED))
        self.stop_button.setEnabled(running or self.run_state == CHECKING)
        self.pause_button.setText("Resume" if self.run_state == PAUSED else "Pause")

    def export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export plots to")
        if folder:
            self.plots.export_png(Path(folder))
            self.plots.export_csv(Path(folder) / "history.csv")
            self.status.setText(f"Plots and history written to {folder}.")

    def shutdown(self) -> None:
        self.data_check += 1             # a data check still reading is ignored
        self.check_timer.stop()
        for _ in range(self._checks_running):
            collection.resume()          # this panel will not collect its checks any more
        self._checks_running = 0
        self.recheck_timer.stop()
        self._abandon_run()
        shutil.rmtree(self._tmp, ignore_errors=True)
