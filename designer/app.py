"""Start the designer window (`netdesigner` with no command, or `netdesigner FILE`)."""
from __future__ import annotations

import sys


def run(path: str | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from . import collection
    from .main_window import MainWindow
    from .theme import LIGHT, apply_palette

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("netdesigner")
    app.setOrganizationName("netdesigner")
    apply_palette(app, LIGHT)
    window = MainWindow()
    window.show()
    collection.startup_done()
    if path:
        window.open_file(path, ask=False)
    else:
        window.offer_recovery()
    return app.exec()
