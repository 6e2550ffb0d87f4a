"""Render the designer with a file open to a PNG (for the README and for looking at the GUI).

    python -m netdesigner.designer.screenshot samples/cnn_digits.graph docs/designer.png [--select NODE]
    python -m netdesigner.designer.screenshot samples/cnn_digits.graph out.png --train 30 --mid-run 3
    python -m netdesigner.designer.screenshot keras.applications.ResNet50 out.png --import
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time


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
    parser.add_argument("--mid-run", type=int, metavar="EPOCHS",
                        help="with --train: capture while it runs, after this many epochs")
    parser.add_argument("--import", dest="import_keras", action="store_true",
                        help="FILE is a .keras file or keras.applications.NAME (weights=None): "
                             "import it (laid out as the importer does) instead of opening it")
    parser.add_argument("--compare", metavar="OTHER",
                        help="render File > Compare With… OTHER (what changed from OTHER to "
                             "FILE) instead of the main window")
    parser.add_argument("--trace", type=int, metavar="SAMPLE",
                        help="trace this test sample (Train > Trace a Sample…) and show it")
    parser.add_argument("--trace-layer", metavar="NODE",
                        help="with --trace: show this layer (an attention layer: its weights)")
    parser.add_argument("--draw", action="store_true",
                        help="with --trace: trace a seven drawn on the Trace panel's pad instead")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings, Qt
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
    if args.import_keras:
        from netdesigner.backends.keras.importer import import_model, load_keras_model

        from .document import Document
        window.set_document(Document(import_model(load_keras_model(args.file))))
    elif not window.open_file(args.file, ask=False):
        return 1
    for _ in range(3):
        app.processEvents()
    window.view.show_network()
    if args.select:
        window.focus_node(args.select)
    for _ in range(3):
        app.processEvents()
    if args.compare:
        compare = window.compare_with(args.compare)
        if compare is None:
            return 1
        compare.resize(width, height)
        for _ in range(5):
            app.processEvents()
        compare.list.setCurrentRow(0)
        for _ in range(5):
            app.processEvents()
        ok = compare.grab().save(args.png)
        compare.close()
        window.document.undo.setClean()
        window.close()
        print(f"wrote {args.png}" if ok else f"could not write {args.png}")
        return 0 if ok else 1
    if args.train:
        window.document.set_training("epochs", args.train)
        window.show_training()
        window.training.start()
        deadline = time.time() + 600

        def epochs_done() -> int:
            m = re.match(r"Epoch (\d+):", window.training.status.text())
            return int(m.group(1)) if m else 0
        while window.training.last_end is None and time.time() < deadline:
            app.processEvents()
            time.sleep(0.01)
            if args.mid_run and epochs_done() >= args.mid_run:
                break
        window.training.poll()
        tabs = window.training.plots
        for i in range(tabs.count()):
            if tabs.tabText(i) == args.tab:
                tabs.setCurrentIndex(i)
        for _ in range(5):
            app.processEvents()
    if args.trace is not None:
        window.show_trace()
        window.trace.index.setValue(args.trace)
        if args.draw:
            window.trace.pad.stroke([(1, 2), (1, 5), (6, 4)])       # a seven
            window.trace.trace_drawing()
        else:
            window.trace.start()
        deadline = time.time() + 120
        while window.trace.result is None and not window.trace.error and \
                time.time() < deadline:
            app.processEvents()
            time.sleep(0.01)
        if args.trace_layer:
            panel = window.trace
            for row in range(panel.layers.count()):
                if panel.layers.item(row).data(Qt.UserRole) == args.trace_layer:
                    panel.layers.setCurrentRow(row)
            if panel.views.isTabEnabled(2):
                panel.views.setCurrentIndex(2)          # the attention weights
        else:
            window.trace.step(1)
        for _ in range(5):
            app.processEvents()
        window.view.show_network()
        for _ in range(5):
            app.processEvents()
    ok = window.grab().save(args.png)
    if args.mid_run and window.training.last_end is None:
        window.training.stop()              # captured mid-run: end the run before closing
        deadline = time.time() + 60
        while window.training.last_end is None and time.time() < deadline:
            app.processEvents()
            time.sleep(0.01)
    window.document.undo.setClean()
    window.close()
    print(f"wrote {args.png}" if ok else f"could not write {args.png}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
