"""Loss curves of several runs in one picture (PNG), drawn with pyqtgraph off screen.

Used by `netdesigner compare` so that a comparison can be looked at without opening the
designer; the designer's Runs tab draws the same curves live.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def write_loss_curves(histories: dict[str, dict], path, title: str = "",
                      size=(900, 520)) -> Path:
    """One line per run (training loss solid, validation loss dashed), x = epoch."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from .training.plots import PENS

    app = QApplication.instance() or QApplication(sys.argv[:1])     # noqa: F841 (kept alive)
    widget = pg.PlotWidget(title=title or "Loss per epoch")
    widget.setBackground("w")
    widget.resize(*size)
    widget.showGrid(x=True, y=True, alpha=0.25)
    widget.setLabel("bottom", "epoch")
    widget.setLabel("left", "loss")
    widget.addLegend(offset=(-10, 10))
    for k, (name, history) in enumerate(histories.items()):
        colour = PENS[k % len(PENS)]
        for key, style, suffix in (("loss", Qt.SolidLine, ""),
                                   ("val_loss", Qt.DashLine, " (validation)")):
            values = [v for v in history.get(key) or [] if v is not None]
            if values:
                widget.plot(range(1, len(values) + 1), values, name=name + suffix,
                            pen=pg.mkPen(colour, width=2, style=style))
    path = Path(path)
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    widget.deleteLater()
    return path
