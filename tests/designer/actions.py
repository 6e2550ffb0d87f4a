"""What a user does in the window, for the tests: menu entries by their visible text, mouse
drags on the canvas."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def menu_action(window, *path):
    """The QAction at e.g. ("File", "Export", "SavedModel"), by visible text (without & and
    the trailing …)."""
    actions = window.menuBar().actions()
    action = None
    for name in path:
        action = next((a for a in actions if a.text().replace("&", "").rstrip("…") == name),
                      None)
        assert action is not None, f"no menu entry {name!r} in {[a.text() for a in actions]}"
        actions = action.menu().actions() if action.menu() else []
    return action


def drag_mouse(window, start: QPointF, end: QPointF, steps: int = 8) -> None:
    """Press at `start`, move with the button held, release at `end` (scene coordinates)."""
    viewport = window.view.viewport()
    a, b = window.view.mapFromScene(start), window.view.mapFromScene(end)
    QTest.mousePress(viewport, Qt.LeftButton, Qt.NoModifier, a)
    for i in range(1, steps + 1):
        p = a + (b - a) * (i / steps)
        QApplication.sendEvent(viewport, QMouseEvent(
            QEvent.MouseMove, QPointF(p), QPointF(viewport.mapToGlobal(p)), Qt.NoButton,
            Qt.LeftButton, Qt.NoModifier))
    QTest.mouseRelease(viewport, Qt.LeftButton, Qt.NoModifier, b)
