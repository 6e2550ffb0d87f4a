"""How the designer copes with a large network (500 layers).

Measures, offscreen: (1) opening a 500-node .graph file and rendering the window once;
(2) one property edit (a Dense width in the middle) re-validated and repainted. Targets: <= 0.3 s (issue #13; 1 s before)
and <= 50 ms. The peer is the bare cost of the same work without the GUI (loading + validating
the file; validating after the same edit), measured in the same run, so the ratio is the GUI's
overhead.

(3) importing keras.applications.ResNet50 (weights=None) live, laying it out top-down and
rendering it in the window, each phase timed apart: importing TensorFlow, building the
Keras model, converting it (ours), the layout (ours), opening and rendering (ours); then the
same through the window's import worker, which loads TensorFlow while the File > Import menu
and its dialog are open (the user's wait is from the choice to the rendered network).

(4) the same choice as the window makes it with the Keras the catalogue was made with
(`backends.applications`): ResNet50's design converted ahead of time by the same import job,
read from the package, opened and rendered, in this process before TensorFlow is imported
(it is checked that it is not). This is the figure for the <= 2 s target; (3) is what .keras
files and other Keras versions cost (the live conversion).

Run: .venv/bin/python bench/gui_scaling.py [--no-resnet]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from netdesigner.graph import Analysis, Graph, fileformat  # noqa: E402
from netdesigner.graph.layout import RIGHT, layered_positions  # noqa: E402

NODES = 500


def build(n: int) -> Graph:
    """Residual-style units (Dense, Dense, Add, Activation) so the graph has branches."""
    g = Graph()
    x = g.add_node("Input", {"shape": (64,)})
    while len(g) + 4 <= n:
        a = g.add_node("Dense", {"units": 64, "activation": "relu"})
        b = g.add_node("Dense", {"units": 64})
        add = g.add_node("Add")
        out = g.add_node("Activation", {"activation": "relu"})
        for src, dst, port in ((x, a, 0), (a, b, 0), (b, add, 0), (x, add, 1), (add, out, 0)):
            g.connect(src, 0, dst, port)
        x = out
    while len(g) < n:
        d = g.add_node("Dropout")
        g.connect(x, 0, d, 0)
        x = d
    for node, pos in layered_positions(g, direction=RIGHT).items():   # as measured before
        g.move_node(node, pos)
    return g


def main() -> None:
    app = QApplication.instance() or QApplication([])
    from netdesigner.designer import collection
    from netdesigner.designer.main_window import MainWindow
    folder = Path(tempfile.mkdtemp())
    path = folder / "big.graph"
    fileformat.save(build(NODES), path)

    t = time.perf_counter()
    g = fileformat.load(path)
    Analysis(g, live=False)
    bare_open = time.perf_counter() - t

    window = MainWindow(settings=QSettings(str(folder / "s.ini"), QSettings.IniFormat))
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    # the start-up project's data check runs in a thread: let it end (a user takes longer than
    # that to choose a file), else it competes for the interpreter with what is timed
    deadline = time.perf_counter() + 30
    while window.training.data_state == "checking" and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.005)
    collection.startup_done()            # as `netdesigner` does once its window is up
    t, cpu = time.perf_counter(), time.process_time()
    window.open_file(path, ask=False)
    window.view.fit()
    app.processEvents()
    window.view.viewport().grab()        # force a full render of the visible canvas
    gui_open = time.perf_counter() - t
    # this process's CPU time: what the wall time would be on cores nobody else is using
    gui_open_cpu = time.process_time() - cpu

    doc = window.document
    middle = [n for n in doc.graph.nodes() if doc.graph.node(n).type == "Dense"][60]
    window.focus_node(middle)
    app.processEvents()
    edits, bare = [], []
    for i in range(15):
        t = time.perf_counter()
        doc.set_param(middle, "activation", "tanh" if i % 2 else "relu")
        doc.revalidate()
        window.view.viewport().repaint()
        app.processEvents()
        edits.append(time.perf_counter() - t)
        t = time.perf_counter()
        g.set_param(middle, "activation", "tanh" if i % 2 else "relu")
        Analysis(g, live=False)
        bare.append(time.perf_counter() - t)
    edit = statistics.median(edits)
    full = statistics.median(bare)
    print(f"{NODES} layers, {len(doc.graph.edges())} wires")
    print(f"open + render:          {gui_open * 1e3:7.1f} ms  (target <= 300 ms; load + "
          f"validate alone {bare_open * 1e3:.1f} ms, GUI x{gui_open / bare_open:.1f}; "
          f"CPU {gui_open_cpu * 1e3:.0f} ms)")
    print(f"property edit:          {edit * 1e3:7.1f} ms  (target <= 50 ms; a full "
          f"re-validation alone {full * 1e3:.1f} ms, ratio {edit / full:.2f})")
    if "--no-resnet" not in sys.argv:
        shipped_resnet50(app, window)         # first: TensorFlow is not imported yet
        resnet50(app, window)
    doc.undo.setClean()
    window.close()


def shipped_resnet50(app, window) -> None:
    """File > Import > Keras Application > ResNet50 with the catalogue's Keras: from the choice
    to the rendered network, as `Transfers.import_application` does it after the dialog."""
    from netdesigner.backends import applications
    from netdesigner.graph.layout import DOWN
    assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    window.document.undo.setClean()
    window.resize(1280, 800)
    app.processEvents()
    t = time.perf_counter()
    assert applications.available("ResNet50"), (          # the dialog's question, timed too
        f"the catalogue is for Keras {applications.manifest().get('keras')}, installed is "
        f"{applications.keras_version()}: run python -m netdesigner.backends.applications.make")
    assert window.transfers.open_shipped_application("ResNet50")
    app.processEvents()
    window.view.viewport().grab()
    total = time.perf_counter() - t
    assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    graph = window.document.graph
    top_down = all(graph.node(e.target).position[1] > graph.node(e.source).position[1]
                   for e in graph.edges())
    # the phases apart, once more (the files are now in the page cache)
    t = time.perf_counter()
    text = applications.design_text("ResNet50")
    read = time.perf_counter() - t
    t = time.perf_counter()
    fileformat.loads(text, "ResNet50")
    parse = time.perf_counter() - t
    print(f"ResNet50 from the shipped catalogue (converted ahead of time for Keras "
          f"{applications.manifest()['keras']} by the same import; {len(graph)} layers, "
          f"{'top-down' if top_down else 'NOT top-down'}, no TensorFlow in this process):")
    print(f"  choice -> rendered network: {total * 1e3:7.1f} ms  (target <= 2000 ms; read + "
          f"decompress {read * 1e3:.1f} ms, parse + check {parse * 1e3:.1f} ms, no layout: "
          f"stored; zoom {window.view.zoom():.2f}, {DOWN if window.scene.vertical else 'right'})")


def resnet50(app, window) -> None:
    """Import + lay out + render ResNet50, phase by phase (the first three in wall time)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from netdesigner.designer.document import Document
    from netdesigner.graph.layout import DOWN

    t = time.perf_counter()
    import keras                          # noqa: F401  (imports TensorFlow)
    tf_import = time.perf_counter() - t
    t = time.perf_counter()
    model = keras.applications.ResNet50(weights=None)
    build_model = time.perf_counter() - t
    from netdesigner.backends.keras.importer import import_model
    t = time.perf_counter()
    graph = import_model(model)               # converting, and its layout
    convert = time.perf_counter() - t
    t = time.perf_counter()
    positions = layered_positions(graph)
    layout = time.perf_counter() - t
    convert -= layout                         # the layout is timed on its own
    top_down = all(positions[e.target][1] > positions[e.source][1] for e in graph.edges())
    window.document.undo.setClean()
    window.resize(1280, 800)
    app.processEvents()
    t = time.perf_counter()
    window.set_document(Document(graph))
    app.processEvents()
    window.view.viewport().grab()
    render = time.perf_counter() - t
    total = tf_import + build_model + convert + layout + render
    print(f"ResNet50 converted live, cold: a .keras file or another Keras version "
          f"({len(graph)} layers, {len(graph.edges())} wires, "
          f"{'top-down' if top_down else 'NOT top-down'}):")
    for name, v in (("import TensorFlow", tf_import), ("build the Keras model", build_model),
                    ("convert (ours)", convert), ("lay out (ours)", layout),
                    ("open + render (ours)", render), ("total", total)):
        print(f"  {name + ':':24s}{v * 1e3:7.1f} ms")
    ours = convert + layout + render
    print(f"  ours {ours * 1e3:.0f} ms; TensorFlow and Keras {(total - ours) * 1e3:.0f} ms "
          f"(zoom after opening {window.view.zoom():.2f}, {DOWN if window.scene.vertical else 'right'})")
    warm_import(app, window)


def warm_import(app, window) -> None:
    """File > Import > Keras Application > ResNet50 as the window does it: the worker process
    that the opening File > Import menu started has loaded TensorFlow while the user chose
    (not timed: menu and dialog time); timed is the choice to the rendered network."""
    from netdesigner.backends.quiet_tf import quiet
    from netdesigner.backends.transfer import ImportJob, TransferProcess
    from netdesigner.designer.document import Document
    quiet()                               # the worker inherits it, as the designer's do
    worker = TransferProcess(warm=True)
    t = time.perf_counter()
    worker.start()
    while not worker.ready and worker.poll() is None:
        time.sleep(0.01)
    warming = time.perf_counter() - t
    out = Path(tempfile.mkdtemp()) / "resnet50.graph"
    t = time.perf_counter()
    worker.submit(ImportJob("keras.applications.ResNet50", str(out), weights=False))
    while worker.poll() is None:
        time.sleep(0.01)
    if not worker.outcome["ok"]:
        print(f"  warm import failed: {worker.outcome['message']}")
        return
    imported = time.perf_counter() - t
    window.document.undo.setClean()
    window.set_document(Document(fileformat.load(out)))
    app.processEvents()
    window.view.viewport().grab()
    total = time.perf_counter() - t
    print(f"ResNet50 converted live through the window's worker, warmed while the menu "
          f"opened ({warming * 1e3:.0f} ms, not counted): {total * 1e3:.0f} ms from the choice "
          f"to the rendered network (worker {imported * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
