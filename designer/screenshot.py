"""Render the designer with a file open to a PNG (for the README and for looking at the GUI).

    python -m netdesigner.designer.screenshot samples/cnn_digits.graph docs/designer.png [--select NODE]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("png")
    parser.add_argument("--select", help="a node to select (shows its properties)")
    parser.add_argument("--size", default="1400x860")
    parser.add_argument("--theme", default="light", choices=("light", "dark"))
    parser.add_argument("--train", type=int, metavar="EPOCHS",
                        help="train for this many epochs first and show the training view")
    parser.add_argument("--tab", default="Loss", help="training plot tab to show")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .theme import THEMES, apply_palette

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_palette(app, THEMES[args.theme])
    settings = QSettings(os.path.join(tempfile.mkdtemp(), "s.ini"), QSettings.IniFormat)
    settings.setValue("theme", args.theme)
    window = MainWindow(settings=settings)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    if not window.open_file(args.file, ask=False):
        return 1
    for _ in range(3):
        app.processEvents()
    window.view.show_network()
    if args.select:
        window.focus_node(args.select)
    for _ in range(3):
        app.processEvents()
    if args.train:
        import time
        window.document.set_training("epochs", args.train)
        window.show_training()
        window.training.start()
        deadline = time.time() + 600
        while window.training.last_end is None and time.time() < deadline:
            app.processEvents()
            time.sleep(0.01)
        window.training.poll()
        tabs = window.training.plots
        for i in range(tabs.count()):
            if tabs.tabText(i) == args.tab:
                tabs.setCurrentIndex(i)
        for _ in range(5):
            app.processEvents()
    ok = window.grab().save(args.png)
    window.document.undo.setClean()
    window.close()
    print(f"wrote {args.png}" if ok else f"could not write {args.png}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
