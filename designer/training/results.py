"""After training: the test-set evaluation, and the project's run history side by side."""
from __future__ import annotations

from html import escape

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QMenu, QTableWidget,
                               QTableWidgetItem, QTextBrowser, QVBoxLayout, QWidget)

from netdesigner.graph import fileformat
from netdesigner.graph.diff import diff

from .images import array_pixmap
from .plots import PENS, make_plot


NO_EVALUATION = "Train a network to see how it does on the test set."


class SampleThumbnail(QLabel):
    """A test sample's picture in the examples grid: a double-click, or "Trace this sample" in
    its context menu, asks to trace it (sample `index` of the test split)."""
    traceRequested = Signal(int)

    def __init__(self, index: int, parent=None):
        super().__init__(parent)
        self.index = index
        self.setToolTip(f"Test sample {index}: double-click to trace it through the network")
        self.setContextMenuPolicy(Qt.DefaultContextMenu)

    def mouseDoubleClickEvent(self, event):
        if event.button() == Qt.LeftButton:
            self.traceRequested.emit(self.index)

    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        menu.addAction("Trace this sample", lambda: self.traceRequested.emit(self.index))
        return menu

    def contextMenuEvent(self, event):
        self.context_menu().exec(event.globalPos())


class EvaluationView(QWidget):
    """Test loss and metrics, per-class precision/recall/F1, confusion matrix, examples."""
    # ("test", row): a test sample's thumbnail asks to trace it (the window's Trace panel)
    traceRequested = Signal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QLabel(NO_EVALUATION)
        self.summary.setWordWrap(True)
        self.per_class = QTableWidget()
        self.confusion = QTableWidget()
        for table in (self.per_class, self.confusion):
            table.setEditTriggers(QAbstractItemView.NoEditTriggers)
            table.verticalHeader().setDefaultSectionSize(20)
        self.examples = QWidget()
        self.examples_grid = QGridLayout(self.examples)
        self.examples_grid.setSpacing(2)
        self.tables = QWidget()           # per-class figures: classification only
        tables = QHBoxLayout(self.tables)
        tables.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        left.addWidget(QLabel("Per class"))
        left.addWidget(self.per_class)
        right = QVBoxLayout()
        right.addWidget(QLabel("Confusion matrix (rows: true class, columns: predicted)"))
        right.addWidget(self.confusion)
        tables.addLayout(left, 1)
        tables.addLayout(right, 2)
        # the tables scroll: the page may be shorter than all its parts' wishes (its height
        # set the training panel's smallest height, 12 px over what a 1280x800 window gives
        # it, and a scroll bar went round the whole panel)
        self.setMinimumHeight(200)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tables, 1)
        layout.addWidget(self.examples)
        self.show_project(None)

    def show_project(self, project) -> None:
        """Nothing evaluated yet in this window for the project that is open."""
        self.event: dict | None = None
        self.summary.setText(NO_EVALUATION)
        for table in (self.per_class, self.confusion):
            table.clear()
            table.setRowCount(0)
            table.setColumnCount(0)
        self.tables.hide()
        self._clear_examples()
        self.examples.hide()

    def show_event(self, event: dict) -> None:
        self.event = event
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in event["metrics"].items())
        loss = "" if event["loss"] is None else f"loss {event['loss']:.4f}"
        report = event["report"]
        lines = [f"<b>Test set</b> ({event['samples']} samples): {loss}"
                 + (f", {metrics}" if metrics else "")]
        self.tables.setVisible(event["task"] == "classification")
        if event["task"] == "classification":
            lines.append(f"accuracy {report['accuracy']:.1%} · macro precision "
                         f"{report['macro_precision']:.3f} · recall {report['macro_recall']:.3f}"
                         f" · F1 {report['macro_f1']:.3f}")
            self._fill_classes(report)
            self._fill_examples(event.get("examples") or {}, report["classes"])
        elif event["task"] == "outputs":     # several outputs: scores per output only
            for node, part in report.items():
                lines.append(f"{escape(node)}: " + (
                    f"accuracy {part['accuracy']:.1%}" if "accuracy" in part
                    else f"MSE {part['mse']:.4g} · MAE {part['mae']:.4g}"))
            lines.append(escape(event["note"]))
            self._clear_examples()
            self.examples.hide()
        elif event["task"] == "gan":         # backends/modes/gan.py: the discriminator's view
            lines.append(", ".join(f"{k} {v:.3g}" for k, v in report.items()))
        else:
            lines.append(f"MSE {report['mse']:.4g} · MAE {report['mae']:.4g}")
            self._fill_reconstructions(event.get("examples") or {})
        self.summary.setText("<br>".join(lines))

    def _clear_examples(self) -> None:
        while self.examples_grid.count():
            item = self.examples_grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def _fill_reconstructions(self, examples: dict) -> None:
        """Autoencoders: for a few test images, the input it read (noisy when input_noise is
        set), the image it should give back, and its reconstruction, one column each."""
        self._clear_examples()
        if not examples.get("images"):
            self.examples.hide()
            return
        self.examples.show()
        rows = [("read", examples["inputs"]), ("target", examples["targets"]),
                ("output", examples["outputs"])]
        if examples["inputs"] == examples["targets"]:
            rows.pop(1)                   # no noise: what it read is what it should give back
        for r, (caption, samples) in enumerate(rows):
            self.examples_grid.addWidget(QLabel(caption), r, 0)
            for k, sample in enumerate(samples):
                picture = QLabel()
                picture.setPixmap(array_pixmap(sample))
                self.examples_grid.addWidget(picture, r, k + 1)

    def _fill_classes(self, report: dict) -> None:
        names = report["classes"]
        t = self.per_class
        t.setRowCount(len(names))
        t.setColumnCount(3)
        t.setHorizontalHeaderLabels(["precision", "recall", "F1"])
        t.setVerticalHeaderLabels(names)
        for i in range(len(names)):
            for j, key in enumerate(("precision", "recall", "f1")):
                t.setItem(i, j, QTableWidgetItem(f"{report[key][i]:.3f}"))
        m = np.asarray(report["confusion"])
        c = self.confusion
        c.setRowCount(len(names))
        c.setColumnCount(len(names))
        c.setHorizontalHeaderLabels(names)
        c.setVerticalHeaderLabels(names)
        top = max(1, m.max())
        for i in range(len(names)):
            for j in range(len(names)):
                item = QTableWidgetItem(str(m[i, j]))
                item.setTextAlignment(Qt.AlignCenter)
                strength = m[i, j] / top
                colour = QColor(46, 125, 50) if i == j else QColor(211, 47, 47)
                colour.setAlphaF(0.12 + 0.6 * strength if m[i, j] else 0.0)
                item.setBackground(colour)
                c.setItem(i, j, item)
        c.resizeColumnsToContents()

    def _fill_examples(self, examples: dict, names: list) -> None:
        self._clear_examples()
        images = examples.get("images")
        if not images:
            self.examples.hide()
            return
        self.examples.show()
        for k, (sample, true, guess) in enumerate(zip(images, examples["true"],
                                                      examples["predicted"])):
            cell = QWidget()
            col = QVBoxLayout(cell)
            col.setContentsMargins(0, 0, 0, 0)
            # the examples are the first test samples, in order: thumbnail k is test row k
            picture = SampleThumbnail(k)
            picture.setPixmap(array_pixmap(sample))
            picture.traceRequested.connect(lambda row: self.traceRequested.emit("test", row))
            ok = true == guess
            caption = QLabel(f"{names[guess]}" if ok else f"{names[guess]} (is {names[true]})")
            caption.setStyleSheet(f"color: {'#2e7d32' if ok else '#d32f2f'};")
            col.addWidget(picture, alignment=Qt.AlignCenter)
            col.addWidget(caption, alignment=Qt.AlignCenter)
            self.examples_grid.addWidget(cell, k // 12, k % 12)


class RunsView(QWidget):
    """The project's runs; tick two (or more) to compare their curves, and see what differed
    between the first two ticked: the settings and layers of the designs they trained."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.itemChanged.connect(lambda _: self.redraw_when_seen())
        self.differences = QTextBrowser()
        self.differences.setPlaceholderText("Tick two runs to see what differed between them.")
        self.loss = make_plot("Validation (dashed) and training loss per epoch", "epoch", "loss",
                          long_series=False)
        self.accuracy = make_plot("Validation accuracy per epoch", "epoch", "accuracy",
                              long_series=False)
        plots = QVBoxLayout()
        plots.addWidget(self.loss)
        plots.addWidget(self.accuracy)
        runs_column = QVBoxLayout()
        runs_column.addWidget(self.list, 2)
        runs_column.addWidget(QLabel("What differed"))
        runs_column.addWidget(self.differences, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(runs_column, 1)
        layout.addLayout(plots, 3)
        self.runs: list = []

    def show_project(self, project) -> None:
        """The open project's own runs (those saved in its file)."""
        self.set_runs(project.graph.runs)

    def set_runs(self, runs: list, ticked: list[int] | None = None) -> None:
        """Show `runs`, with those at the indices `ticked` ticked (default: the last two)."""
        self.runs = runs
        self.list.blockSignals(True)
        self.list.clear()
        for i, run in enumerate(runs):
            history = run.get("history", {})
            # an epoch without a value (no validation split: val_loss is null) is left out
            last = {k: numbers[-1] for k, v in history.items() if (numbers := _numbers(v))}
            acc = last.get("val_accuracy", last.get("accuracy"))
            label = f" · {run['label']}" if run.get("label") else ""
            text = (f"#{i + 1}{label} {run.get('when', '')} · {run.get('backend', '')} · "
                    f"{run.get('epochs', 0)} epochs · loss {last.get('loss', float('nan')):.4f}"
                    + (f" · acc {acc:.1%}" if acc is not None else ""))
            item = QListWidgetItem(text)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            tick = i in ticked if ticked is not None else i >= len(runs) - 2
            item.setCheckState(Qt.Checked if tick else Qt.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.redraw_when_seen()

    def redraw_when_seen(self) -> None:
        """Compare the ticked runs now if the tab is shown, else when it is: the differences
        parse and diff two kept designs (~50 ms for 500 layers), not worth doing on every
        open, run end or tick of a tab nobody looks at."""
        self.stale = True
        if self.isVisible():
            self.redraw()
        else:
            self.differences.clear()        # nothing of other runs (or another project) stays

    def showEvent(self, event):
        super().showEvent(event)
        if getattr(self, "stale", False):
            self.redraw()

    def checked(self) -> list[int]:
        return [i for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.Checked]

    def difference_text(self) -> str:
        """What differed between the designs of the first two ticked runs (each run keeps the
        design it trained)."""
        ticked = self.checked()
        if len(ticked) < 2:
            return ""
        i, j = ticked[:2]
        designs = []
        for k in (i, j):
            try:
                design = fileformat.design_of_run(self.runs[k], f"run #{k + 1}")
            except fileformat.GraphFileError as e:
                return f"Run #{k + 1}'s design cannot be read: {e}"
            if design is None:
                return (f"Run #{k + 1} was saved without its design (by an older version, or "
                        f"imported): only the curves can be compared.")
            designs.append(design)
        d = diff(*designs)
        if d.equal:
            return f"Runs #{i + 1} and #{j + 1} trained the same design with the same settings."
        return "\n".join([f"#{i + 1} -> #{j + 1}: {d.summary()}", *d.lines()])

    def redraw(self) -> None:
        self.stale = False
        self.differences.setPlainText(self.difference_text())
        self.loss.clear()
        self.accuracy.clear()
        ticked = self.checked()
        # the list is the legend: each ticked run's entry gets its curves' colour (the plots'
        # own legends are left to two runs: more did not fit a 1280x800 window's plots)
        self.list.blockSignals(True)
        for i in range(self.list.count()):
            self.list.item(i).setIcon(QIcon())
        for k, i in enumerate(ticked):
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(PENS[k % len(PENS)]))
            self.list.item(i).setIcon(QIcon(swatch))
        self.list.blockSignals(False)
        named = len(ticked) <= 2
        for k, i in enumerate(ticked):
            history = self.runs[i].get("history", {})
            tag = f" {self.runs[i]['label']}" if self.runs[i].get("label") else ""
            colour = PENS[k % len(PENS)]
            for key, style in (("loss", Qt.SolidLine), ("val_loss", Qt.DashLine)):
                values = _plottable(history.get(key))
                if values:
                    # one legend entry a run (its colour); the title says dashed is
                    # validation: two entries a run filled the plot with four runs
                    self.loss.plot(range(1, len(values) + 1), values,
                                   pen=pg.mkPen(colour, width=2, style=style),
                                   name=f"#{i + 1}{tag}" if key == "loss" and named
                                   else None)
            values = _plottable(history.get("val_accuracy")) or _plottable(history.get("accuracy"))
            if values:
                self.accuracy.plot(range(1, len(values) + 1), values,
                                   pen=pg.mkPen(colour, width=2),
                                   name=f"#{i + 1}{tag}" if named else None)


def _numbers(values) -> list[float]:
    """The numbers of a run's per-epoch series (null for an epoch without one is skipped)."""
    return [v for v in values or [] if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _plottable(values) -> list[float]:
    """A per-epoch series for a plot: null becomes NaN (a gap), so epochs keep their place;
    a series without a single number is empty (not drawn)."""
    if not _numbers(values):
        return []
    return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
            else float("nan") for v in values]
