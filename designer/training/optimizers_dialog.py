"""Train > Compare Optimizers…: which optimizers, and for how many epochs.

The comparison itself is the training panel's (`TrainingPanel.compare_optimizers`): one run per
optimizer, one after the other in the training worker, each from the same initial weights and
batches (the design's seed), recorded in the Runs tab — what `netdesigner compare` prints.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QSpinBox, QVBoxLayout)

from netdesigner.backends.comparison import DEFAULT, VARIANTS


class OptimizersDialog(QDialog):
    def __init__(self, epochs: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Compare Optimizers")
        intro = QLabel("Train the design once per optimizer, from the same initial weights and "
                       "the same batches, and compare their loss curves in the Runs tab. Each "
                       "optimizer keeps its own defaults (learning rate included); the trained "
                       "weights of the project are left alone.")
        intro.setWordWrap(True)
        self.boxes = {}
        form = QFormLayout()
        for name, (optimizer, changes) in VARIANTS.items():
            box = QCheckBox(name)
            box.setChecked(name in DEFAULT)
            box.setToolTip(optimizer + "".join(f", {k}={v}" for k, v in changes.items()))
            self.boxes[name] = box
            form.addRow(box)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.epochs.setValue(max(1, int(epochs)))
        form.addRow("epochs per optimizer", self.epochs)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Compare")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.Ok)
        for box in self.boxes.values():
            box.toggled.connect(lambda _: self.ok.setEnabled(len(self.chosen()) >= 1))
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def chosen(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.isChecked()]
