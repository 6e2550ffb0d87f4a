"""Light and dark themes: the Qt palette for widgets and the colours the canvas paints with."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

CATEGORY_COLOURS = {
    "Input / Output": "#2e7d32", "Core": "#1565c0", "Activation": "#6a1b9a",
    "Regularization": "#78909c", "Reshape": "#00838f", "Recurrent": "#c62828",
    "Embedding": "#ad1457", "Generative": "#4527a0", "Convolution": "#ef6c00",
    "Pooling": "#f9a825", "Normalization": "#558b2f", "Attention": "#d84315",
    "Merge": "#37474f", "Blocks": "#5d4037", "Preprocessing": "#0277bd",
}


@dataclass(frozen=True)
class Theme:
    name: str
    window: str
    base: str
    text: str
    canvas: str
    grid: str
    node: str
    node_text: str
    node_subtle: str
    wire: str
    wire_label: str
    selection: str
    error: str
    warning: str
    ok: str

    def colour(self, attr: str) -> QColor:
        return QColor(getattr(self, attr))

    def category(self, category: str) -> QColor:
        return QColor(CATEGORY_COLOURS.get(category, "#455a64"))


LIGHT = Theme("light", window="#f3f3f3", base="#ffffff", text="#1b1b1b", canvas="#fafafa",
              grid="#e6e6e6", node="#ffffff", node_text="#1b1b1b", node_subtle="#5f6368",
              wire="#7a8591", wire_label="#eef1f4", selection="#1e88e5", error="#d32f2f",
              warning="#f57c00", ok="#2e7d32")
DARK = Theme("dark", window="#2b2b2b", base="#1f1f1f", text="#e8e8e8", canvas="#232323",
             grid="#2f2f2f", node="#383838", node_text="#f0f0f0", node_subtle="#b0b0b0",
             wire="#9aa4ae", wire_label="#30363c", selection="#64b5f6", error="#ef5350",
             warning="#ffa726", ok="#66bb6a")
THEMES = {t.name: t for t in (LIGHT, DARK)}


def apply_palette(app: QApplication, theme: Theme) -> None:
    app.setStyle("Fusion")
    p = QPalette()
    window, base, text = QColor(theme.window), QColor(theme.base), QColor(theme.text)
    for role, colour in [(QPalette.Window, window), (QPalette.Base, base),
                         (QPalette.AlternateBase, window), (QPalette.Button, window),
                         (QPalette.WindowText, text), (QPalette.Text, text),
                         (QPalette.ButtonText, text), (QPalette.ToolTipBase, base),
                         (QPalette.ToolTipText, text),
                         (QPalette.Highlight, QColor(theme.selection)),
                         (QPalette.HighlightedText, QColor("#ffffff"))]:
        p.setColor(role, colour)
    p.setColor(QPalette.Disabled, QPalette.Text, QColor(theme.node_subtle))
    p.setColor(QPalette.PlaceholderText, QColor(theme.node_subtle))
    app.setPalette(p)
