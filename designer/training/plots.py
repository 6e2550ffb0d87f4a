"""Live training plots (pyqtgraph): loss, metrics, activations, gradients, weights.

Events only append to buffers; `redraw()` (called by the panel's timer, about 10 times a
second) pushes the buffers to the curves with `setData`, so plotting never slows training.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget)

from .feature_maps import FeatureMapsView

PENS = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41",
        "#3949ab", "#c0ca33", "#d81b60"]


def make_plot(title: str, x: str, y: str, log_y: bool = False,
          long_series: bool = True) -> pg.PlotWidget:
    w = pg.PlotWidget(title=title)
    w.setBackground(None)
    w.showGrid(x=True, y=True, alpha=0.2)
    w.setLabel("bottom", x)
    w.setLabel("left", y)
    w.addLegend(offset=(-10, 10))
    w.setLogMode(y=log_y)
    for side in ("left", "bottom"):       # unitless: "accuracy (x0.001)" with ticks 800-950
        w.getAxis(side).enableAutoSIPrefix(False)
    if long_series:          # long runs: draw only what is in view, peak-downsampled
        w.setClipToView(True)
        w.setDownsampling(auto=True, mode="peak")
    return w


class HistogramView(QWidget):
    """A layer picker and the histogram of its latest statistics."""

    def __init__(self, title: str, x_label: str, parent=None):
        super().__init__(parent)
        self.layer = QComboBox()
        self.layer.setMinimumContentsLength(18)
        self.plot = make_plot(title, x_label, "count", long_series=False)
        self.curve = self.plot.plot(stepMode="center", fillLevel=0, brush=(30, 136, 229, 90),
                                    pen=PENS[0])
        self.caption = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel("layer"))
        top.addWidget(self.layer, 1)
        top.addWidget(self.caption, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot)
        self.latest: dict[str, dict] = {}
        self.layer.currentTextChanged.connect(lambda _: self.redraw())

    def update_stats(self, per_layer: dict) -> None:
        for name, stats in per_layer.items():
            self.latest[name] = stats
            if self.layer.findText(name) < 0:
                self.layer.addItem(name)

    def redraw(self) -> None:
        stats = self.latest.get(self.layer.currentText())
        if not stats or not stats["histogram"]["counts"]:
            self.curve.hide()       # an empty step curve is refused by pyqtgraph
            self.caption.setText("no finite values" if stats else "")
            return
        h = stats["histogram"]
        self.curve.show()
        self.curve.setData(np.asarray(h["edges"]), np.asarray(h["counts"]))
        self.caption.setText(", ".join(f"{k} {v:.3g}" for k, v in stats.items()
                                       if isinstance(v, float)))


class TrainingPlots(QTabWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        # loss
        loss_tab = QWidget()
        box = QVBoxLayout(loss_tab)
        self.batch_plot = make_plot("Loss per batch", "batch", "loss")
        self.epoch_plot = make_plot("Loss per epoch", "epoch", "loss")
        self.batch_curve = self.batch_plot.plot(pen=pg.mkPen(PENS[0], width=1), name="train")
        self.train_curve = self.epoch_plot.plot(pen=pg.mkPen(PENS[0], width=2), symbol="o",
                                                symbolSize=5, name="train")
        self.val_curve = self.epoch_plot.plot(pen=pg.mkPen(PENS[1], width=2), symbol="o",
                                              symbolSize=5, name="validation")
        box.addWidget(self.batch_plot)
        box.addWidget(self.epoch_plot)
        self.addTab(loss_tab, "Loss")
        # metrics
        self.metric_plot = make_plot("Metrics per epoch", "epoch", "value")
        self.metric_curves: dict[str, pg.PlotDataItem] = {}
        self.addTab(self.metric_plot, "Metrics")
        # activations, gradients, weights
        self.activations = HistogramView("Activations (latest)", "value")
        self.addTab(self.activations, "Activations")
        grads = QWidget()
        box = QVBoxLayout(grads)
        self.grad_plot = make_plot("Gradient size per layer (mean |g|)", "batch", "mean |g|",
                               log_y=True)
        self.gradient_hist = HistogramView("Gradients (latest)", "gradient")
        self.grad_note = QLabel()              # why a run shows no gradients, when it does not
        self.grad_note.setWordWrap(True)
        self.grad_note.hide()
        box.addWidget(self.grad_note)
        box.addWidget(self.grad_plot, 3)
        box.addWidget(self.gradient_hist, 2)
        self.grad_curves: dict[str, pg.PlotDataItem] = {}
        self.addTab(grads, "Gradients")
        self.weights = HistogramView("Weights (latest)", "weight")
        self.addTab(self.weights, "Weights")
        self.feature_maps = FeatureMapsView()
        self.addTab(self.feature_maps, "Feature maps")
        self.currentChanged.connect(self._tab_changed)
        self.clear()

    def _tab_changed(self, index: int) -> None:
        self.dirty = True
        self.redraw()

    # -- data -----------------------------------------------------------------------------------
    def show_project(self, project) -> None:
        """Another project is open: nothing of the previous one's runs stays drawn."""
        self.clear()

    def explain_no_gradients(self, reason: str) -> None:
        """Say in the Gradients tab why this run streams no gradient statistics."""
        self.grad_note.setText(reason)
        self.grad_note.setVisible(bool(reason))

    def clear(self) -> None:
        self.batch_steps: list[int] = []
        self.batch_losses: list[float] = []
        self.epochs: list[int] = []
        self.epoch_loss: list[float] = []
        self.epoch_val: list[float] = []
        self.metrics: dict[str, list[float]] = {}
        self.grad_steps: list[int] = []
        self.grad_history: dict[str, list[float]] = {}
        self.points_received = 0
        self.dirty = True
        self.metric_curves, self.grad_curves = {}, {}
        self.metric_plot.clear()
        self.grad_plot.clear()
        for curve in (self.batch_curve, self.train_curve, self.val_curve):
            curve.setData([], [])
        for plot in (self.batch_plot, self.epoch_plot, self.metric_plot, self.grad_plot):
            plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)   # none of the previous
            plot.enableAutoRange()                                  # project's axis ranges
        for view in (self.activations, self.gradient_hist, self.weights):
            view.latest.clear()
            view.layer.clear()
            view.redraw()
        self.feature_maps.clear()
        self.explain_no_gradients("")

    def add_event(self, event: dict) -> None:
        kind = event["event"]
        if kind == "batch":
            self.batch_steps.append(event["step"])
            self.batch_losses.append(event["loss"])
            self.points_received += 1
        elif kind == "epoch":
            self.epochs.append(event["epoch"] + 1)
            self.epoch_loss.append(event["loss"])
            self.epoch_val.append(math.nan if event["val_loss"] is None else event["val_loss"])
            for name, value in event["metrics"].items():
                self.metrics.setdefault(name, []).append(value)
            for name, value in event["val_metrics"].items():
                self.metrics.setdefault(f"val_{name}", []).append(value)
        elif kind == "feature_maps":
            self.feature_maps.update_maps(event)
        elif kind == "layer_stats":
            self.activations.update_stats(event["activations"])
            flat_grads, flat_weights = {}, {}
            self.grad_steps.append(event["step"])
            for node, per_weight in event["gradients"].items():
                for weight, stats in per_weight.items():
                    flat_grads[f"{node}/{weight}"] = stats
                size = max((s["mean_abs"] for s in per_weight.values()), default=math.nan)
                series = self.grad_history.setdefault(node, [])
                series.extend([math.nan] * (len(self.grad_steps) - 1 - len(series)))
                series.append(size)
            for node, per_weight in event["weights"].items():
                for weight, stats in per_weight.items():
                    flat_weights[f"{node}/{weight}"] = stats
            self.gradient_hist.update_stats(flat_grads)
            self.weights.update_stats(flat_weights)
        self.dirty = True

    # -- drawing --------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Push the buffers to the curves of the tab on screen (the others when shown)."""
        if not self.dirty:
            return
        self.dirty = False
        tab = self.tabText(self.currentIndex())
        draw = {"Loss": self._draw_loss, "Metrics": self._draw_metrics,
                "Activations": self.activations.redraw, "Gradients": self._draw_gradients,
                "Weights": self.weights.redraw,
                "Feature maps": self.feature_maps.redraw}.get(tab)
        if draw is not None:
            draw()

    def _draw_loss(self) -> None:
        self.batch_curve.setData(self.batch_steps, self.batch_losses)
        self.train_curve.setData(self.epochs, self.epoch_loss)
        val = np.asarray(self.epoch_val, dtype=float)
        legend = self.epoch_plot.getPlotItem().legend
        listed = any(sample.item is self.val_curve for sample, _ in legend.items)
        if np.isfinite(val).any():
            self.val_curve.setData(self.epochs, val, connect="finite")
            if not listed:
                legend.addItem(self.val_curve, "validation")
        else:           # no validation split (a GAN run): no stray dot, no legend entry
            self.val_curve.setData([], [])
            if listed and self.epochs:
                legend.removeItem(self.val_curve)

    def _draw_metrics(self) -> None:
        for i, (name, values) in enumerate(self.metrics.items()):
            curve = self.metric_curves.get(name)
            if curve is None:
                curve = self.metric_plot.plot(pen=pg.mkPen(PENS[i % len(PENS)], width=2),
                                              symbol="o", symbolSize=5, name=name)
                self.metric_curves[name] = curve
            curve.setData(self.epochs[:len(values)], values)

    def _draw_gradients(self) -> None:
        for i, (node, values) in enumerate(self.grad_history.items()):
            curve = self.grad_curves.get(node)
            if curve is None:
                curve = self.grad_plot.plot(pen=pg.mkPen(PENS[i % len(PENS)], width=1.5),
                                            name=node)
                self.grad_curves[node] = curve
            y = np.asarray(values, dtype=float)
            y = np.where(y > 0, y, np.nan)
            curve.setData(self.grad_steps[:len(y)], y, connect="finite")
        self.gradient_hist.redraw()

    # -- export ---------------------------------------------------------------------------------
    def export_png(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for i in range(self.count()):
            path = folder / f"{self.tabText(i).lower()}.png"
            self.widget(i).grab().save(str(path))
            written.append(path)
        return written

    def export_csv(self, path: Path) -> None:
        with Path(path).open("w", newline="") as f:
            w = csv.writer(f)
            names = list(self.metrics)
            w.writerow(["epoch", "loss", "val_loss", *names])
            for i, epoch in enumerate(self.epochs):
                row = [epoch, self.epoch_loss[i], self.epoch_val[i]]
                row += [self.metrics[n][i] if i < len(self.metrics[n]) else "" for n in names]
                w.writerow(row)
