"""What a user does in the window, for the tests: menu entries by their visible text."""
from __future__ import annotations


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
