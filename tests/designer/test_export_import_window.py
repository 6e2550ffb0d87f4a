"""File > Export and File > Import in the real window: menu actions, a worker process, the
pre-flight check in the Problems panel, sentences for failures, and files that really work."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QPushButton

from netdesigner.graph import Graph, fileformat
from tests.designer.actions import menu_action

ROOT = Path(__file__).resolve().parents[2]
WORKER_MS = 120_000          # a worker process imports TensorFlow first


def answer_save_dialog(monkeypatch, path):
    asked = []

    def answer(parent, caption, start, filters=""):
        asked.append((caption, start))
        return str(path), filters
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    return asked


def record_boxes(monkeypatch):
    """QMessageBox.warning / critical / information, recorded instead of shown."""
    shown = []
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(
            lambda parent, title, text, *a, k=kind: shown.append((k, title, text))
            or QMessageBox.Ok))
    return shown


def transfer_done(qtbot, window):
    qtbot.waitUntil(lambda: window.transfers.last_outcome is not None, timeout=WORKER_MS)
    return window.transfers.last_outcome


def copy_sample(name, tmp_path, **training) -> Path:
    g = fileformat.load(ROOT / "samples" / name)
    g.training.update(training)
    path = tmp_path / name
    fileformat.save(g, path)
    return path


def gelu_net(path: Path) -> Path:
    g = Graph()
    i = g.add_node("Input", {"shape": (4,)})
    d = g.add_node("Dense", {"units": 3, "activation": "gelu"}, node_id="hidden")
    o = g.add_node("Dense", {"units": 2, "activation": "softmax"})
    g.connect(i, 0, d, 0)
    g.connect(d, 0, o, 0)
    fileformat.save(g, path)
    return path


def test_the_file_menu_offers_every_format(window, tmp_path, monkeypatch, qtbot):
    for entry in ("Python Script", "SavedModel", "Keras Model (.keras)", "ONNX"):
        assert menu_action(window, "File", "Export", entry).isEnabled()
    for entry in ("Keras Model (.keras)", "Keras Application"):
        assert menu_action(window, "File", "Import", entry).isEnabled()
    # without the onnx extra the entry says how to get it
    monkeypatch.setattr("netdesigner.backends.export.onnx_available", lambda: False)
    from netdesigner.designer.main_window import MainWindow
    other = MainWindow(settings=QSettings(str(tmp_path / "other.ini"), QSettings.IniFormat))
    qtbot.addWidget(other)
    onnx = next(a for a in menu_action(other, "File", "Export").menu().actions()
                if a.text().startswith("ONNX"))
    assert not onnx.isEnabled()
    assert "pip install netdesigner[onnx]" in onnx.text()
    assert "pip install netdesigner[onnx]" in onnx.toolTip()
    other.transfers.shutdown()


def test_an_empty_network_is_not_exported(window, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(
        lambda *a, **k: pytest.fail("nothing to export: no file dialog")))
    shown = record_boxes(monkeypatch)
    menu_action(window, "File", "Export", "SavedModel").trigger()
    assert shown == [("information", "Nothing to export",
                      "The network is empty: add layers before exporting it.")]
    assert not window.transfers.busy


def test_preflight_refuses_onnx_and_lists_the_layer(window, tmp_path, monkeypatch):
    assert window.open_file(gelu_net(tmp_path / "gelu.graph"), ask=False)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(
        lambda *a, **k: pytest.fail("a refused export must not ask where to write")))
    shown = record_boxes(monkeypatch)
    menu_action(window, "File", "Export", "ONNX").trigger()
    assert not window.transfers.busy
    ((kind, title, text),) = shown
    assert kind == "warning" and "cannot be exported as ONNX" in text and "hidden" in text
    assert "Traceback" not in text
    items = [window.problems.item(i) for i in range(window.problems.count())]
    flagged = [it for it in items if "activation=gelu" in it.text()]
    assert len(flagged) == 1
    window.problems.itemClicked.emit(flagged[0])          # a click focuses the layer
    assert window.scene.selected_node_ids() == ["hidden"]
    # the same design is fine as a SavedModel: no refusal (the dialog is asked; cancel it)
    asked = answer_save_dialog(monkeypatch, "")
    menu_action(window, "File", "Export", "SavedModel").trigger()
    assert len(asked) == 1 and len(shown) == 1 and not window.transfers.busy


@pytest.mark.long      # a worker loads TensorFlow (~4 s): make test's budget
def test_keras_export_ends_with_the_path_and_an_open_folder_button(window, qtbot, tmp_path,
                                                                   monkeypatch):
    assert window.open_file(copy_sample("xor_mlp.graph", tmp_path), ask=False)
    out = tmp_path / "out" / "xor.keras"
    out.parent.mkdir()
    answer_save_dialog(monkeypatch, out)
    opened = []
    monkeypatch.setattr("netdesigner.designer.transfer.QDesktopServices.openUrl",
                        lambda url: opened.append(url.toLocalFile()) or True)
    menu_action(window, "File", "Export", "Keras Model (.keras)").trigger()
    assert window.transfers.busy and window.transfers.progress is not None
    outcome = transfer_done(qtbot, window)
    assert outcome["ok"], outcome
    assert out.exists() and outcome["paths"] == [str(out.parent / n) for n in (
        "xor.keras", "xor.raw.keras", "xor.preprocessing.json")]
    box = window.transfers.last_box
    assert box is not None and str(out) in box.text()
    assert "initial weights" in box.text()            # not trained: it says so
    assert box.open_button.text() == "Open folder"
    assert box.open_button.toolTip() == str(out.parent)
    box.open_button.click()
    assert opened == [str(out.parent)] and box.isVisible(), "the box stays for another look"
    box.close()


@pytest.mark.long      # a worker loads TensorFlow (~4 s): make test's budget
def test_opening_the_export_menu_warms_a_worker_that_the_export_then_uses(window, qtbot,
                                                                         tmp_path, monkeypatch):
    assert window.open_file(copy_sample("xor_mlp.graph", tmp_path), ask=False)
    export_menu = menu_action(window, "File", "Export").menu()
    export_menu.aboutToShow.emit()                  # the user opens File > Export
    spare = window.transfers.spare
    assert spare is not None and spare.running and spare.job is None
    export_menu.aboutToShow.emit()                  # opened again: still the one spare
    assert window.transfers.spare is spare
    qtbot.waitUntil(lambda: spare.poll() is None and spare.ready, timeout=WORKER_MS)
    out = tmp_path / "xor.keras"
    answer_save_dialog(monkeypatch, out)
    menu_action(window, "File", "Export", "Keras Model (.keras)").trigger()
    assert window.transfers.process is spare and window.transfers.spare is None
    outcome = transfer_done(qtbot, window)
    assert outcome["ok"], outcome
    assert out.exists()
    window.transfers.last_box.close()


def test_import_asks_to_save_first_and_failures_are_sentences(window, qtbot, tmp_path,
                                                              monkeypatch):
    window.add_layer_at_centre("Dense")                      # unsaved work
    window.ask_save_changes = lambda: QMessageBox.Cancel
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(
        lambda *a, **k: pytest.fail("cancelled at the save question")))
    menu_action(window, "File", "Import", "Keras Model (.keras)").trigger()
    assert not window.transfers.busy and len(window.document.graph) == 1
    window.document.undo.setClean()
    # a long import can be cancelled
    window.transfers.import_source("keras.applications.ResNet50", "ResNet50")
    process = window.transfers.process.process
    window.transfers.progress.findChild(QPushButton).click()      # its Cancel button
    assert window.transfers.last_outcome["cancelled"] and not process.is_alive()
    assert "cancelled" in window.statusBar().currentMessage()
    # a file Keras cannot read: a sentence, and the open project stays
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip file")
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(bad), "")))
    shown = record_boxes(monkeypatch)
    before = window.document
    menu_action(window, "File", "Import", "Keras Model (.keras)").trigger()
    outcome = transfer_done(qtbot, window)
    assert not outcome["ok"]
    ((kind, title, text),) = shown
    assert kind == "critical" and title == "Import failed"
    assert "broken.keras" in text and "Keras cannot load it" in text and "Traceback" not in text
    assert window.document is before


@pytest.mark.long
def test_trained_network_exports_a_script_that_runs_and_a_savedmodel_and_onnx_that_load(
        window, qtbot, tmp_path, monkeypatch):
    path = copy_sample("cnn_digits.graph", tmp_path, epochs=2)
    assert window.open_file(path, ask=False)
    panel = window.training
    panel.start()
    qtbot.waitUntil(lambda: panel.last_end is not None, timeout=WORKER_MS)
    panel.poll()
    trained = panel.saved_weights()
    assert trained is not None and trained.exists()
    out = tmp_path / "export"
    out.mkdir()
    answer_save_dialog(monkeypatch, out / "lenet.py")
    menu_action(window, "File", "Export", "Python Script").trigger()
    outcome = transfer_done(qtbot, window)
    assert outcome["ok"], outcome
    assert {Path(p).name for p in outcome["paths"]} == {"lenet.py", "lenet.weights.h5",
                                                        "lenet.data.npz"}
    assert "initial weights" not in window.transfers.last_box.text()
    window.transfers.last_box.close()
    window.transfers.last_outcome = None
    for entry, target in (("SavedModel", out / "lenet_savedmodel"), ("ONNX", out / "lenet.onnx")):
        window.transfers.last_outcome = None
        answer_save_dialog(monkeypatch, target)
        menu_action(window, "File", "Export", entry).trigger()
        outcome = transfer_done(qtbot, window)
        assert outcome["ok"], outcome
        if entry == "SavedModel":     # with its preprocessing, named in the message
            assert outcome["paths"] == [str(target), f"{target}.preprocessing.json"]
            assert "serve_raw" in window.transfers.last_box.text()
        else:                         # beside it: raw samples in, and what they need
            assert outcome["paths"] == [str(target), str(out / "lenet.raw.onnx"),
                                        str(out / "lenet.preprocessing.json")]
        window.transfers.last_box.close()

    # the script, alone in a fresh process: trains on its data file from the trained weights
    run = subprocess.run([sys.executable, str(out / "lenet.py"), "--epochs", "1",
                          "--save", str(out / "again.weights.h5")], cwd=out,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (out / "again.weights.h5").exists()
    # the SavedModel carries the trained weights: it classifies the validation digits; the ONNX
    # file, run by onnxruntime, gives the same outputs
    check = (
        "import numpy as np, tensorflow as tf, onnxruntime as ort\n"
        f"m = tf.saved_model.load({str(out / 'lenet_savedmodel')!r})\n"
        f"d = np.load({str(out / 'lenet.data.npz')!r})\n"
        "x = d['x_val'].astype('float32')\n"
        "p = np.asarray(m.serve(x))\n"
        f"s = ort.InferenceSession({str(out / 'lenet.onnx')!r})\n"
        "q = s.run(None, {s.get_inputs()[0].name: x})[0]\n"
        "assert np.allclose(p, q, atol=1e-5), abs(p - q).max()\n"
        "y = d['y_val']\n"
        "y = y.argmax(1) if y.ndim == 2 else y.reshape(-1)      # one-hot or class ids\n"
        "print('accuracy', float((p.argmax(1) == y).mean()))\n")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(done.stdout.split("accuracy")[-1])
    assert accuracy > 0.5, f"untrained would be about 0.1; got {accuracy}"


@pytest.mark.long
def test_import_a_keras_file_and_a_keras_application(window, qtbot, tmp_path, monkeypatch):
    assert window.open_file(copy_sample("mlp_digits.graph", tmp_path), ask=False)
    layers = len(window.document.graph)
    answer_save_dialog(monkeypatch, tmp_path / "mlp.keras")
    menu_action(window, "File", "Export", "Keras Model (.keras)").trigger()
    assert transfer_done(qtbot, window)["ok"]
    window.transfers.last_box.close()
    window.transfers.last_outcome = None
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "mlp.keras"), "")))
    menu_action(window, "File", "Import", "Keras Model (.keras)").trigger()
    assert transfer_done(qtbot, window)["ok"]
    doc = window.document
    assert doc.path is None and doc.modified, "a new untitled document, not saved yet"
    assert len(doc.graph) == layers
    assert doc.analysis.errors() == []
    weights = window.training.saved_weights()
    assert weights is not None and weights.suffix == ".npz", "the model's weights come along"
    # save it: the weights go beside the project
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "imported.graph"), "")))
    assert window.save()
    assert (tmp_path / "imported.weights.npz").exists()

    window.transfers.last_outcome = None
    monkeypatch.setattr("netdesigner.designer.transfer.ApplicationsDialog.exec",
                        lambda self: QDialog.Accepted)        # MobileNetV2 is preselected
    # the live conversion, as with another Keras version (the shipped catalogue is not used)
    monkeypatch.setattr("netdesigner.backends.applications.available", lambda name: False)
    menu_action(window, "File", "Import", "Keras Application").trigger()
    outcome = transfer_done(qtbot, window)
    assert outcome["ok"], outcome
    graph = window.document.graph
    assert len(graph) > 100 and graph.metadata["title"].lower().startswith("mobilenet")
    # fitted: the network's input is on screen
    (first,) = graph.inputs()
    item = window.scene.nodes[first]
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.intersects(item.sceneBoundingRect())


def choose_application(monkeypatch, name):
    """ApplicationsDialog answered with `name` chosen in its list; its entries recorded."""
    from netdesigner.designer.transfer import APPLICATIONS
    entries = []

    def answer(dialog):
        entries.extend(dialog.list.item(i).text() for i in range(dialog.list.count()))
        dialog.list.setCurrentRow(APPLICATIONS.index(name))
        return QDialog.Accepted
    monkeypatch.setattr("netdesigner.designer.transfer.ApplicationsDialog.exec", answer)
    return entries


def test_a_shipped_keras_application_opens_at_once_without_a_worker(window, monkeypatch):
    """File > Import > Keras Application > ResNet50 with the Keras the catalogue was made
    with: its design is read from backends.applications, no worker, no TensorFlow."""
    had_tensorflow = "tensorflow" in sys.modules        # other tests of this process may
    monkeypatch.setattr("netdesigner.designer.transfer.TransferProcess",
                        lambda *a, **k: pytest.fail("a worker process was started"))
    entries = choose_application(monkeypatch, "ResNet50")
    menu_action(window, "File", "Import", "Keras Application").trigger()
    assert "ResNet50  —  177 layers, 25,636,712 parameters" in entries
    transfers = window.transfers
    assert transfers.process is None and transfers.last_outcome["ok"]
    doc = window.document
    assert doc.path is None and doc.modified, "a new untitled document, not saved yet"
    assert len(doc.graph) == 177 and doc.graph.metadata["title"] == "resnet50"
    assert doc.analysis.errors() == []
    assert window.training.saved_weights() is None, "weights=None: no weights come along"
    assert "Imported keras.applications.ResNet50: 177 layers" in \
        window.statusBar().currentMessage()
    # fitted: the network's input is on screen
    item = window.scene.nodes[doc.graph.inputs()[0]]
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.intersects(item.sceneBoundingRect())
    if not had_tensorflow:
        assert "tensorflow" not in sys.modules


def test_another_keras_version_imports_the_application_live(window, monkeypatch):
    monkeypatch.setattr("netdesigner.backends.applications.keras_version", lambda: "2.0.0")
    started = []
    monkeypatch.setattr("netdesigner.designer.transfer.Transfers.import_source",
                        lambda self, *a, **k: started.append((a, k)) or True)
    choose_application(monkeypatch, "ResNet50")
    menu_action(window, "File", "Import", "Keras Application").trigger()
    assert started == [(("keras.applications.ResNet50", "ResNet50"), {"weights": False})]


def test_a_damaged_shipped_design_is_a_failed_import_in_a_sentence(window, monkeypatch):
    shown = record_boxes(monkeypatch)
    before = window.document

    def damaged(name):
        raise ValueError(f"{name}.graph.gz: cannot be read (Not a gzipped file)")
    monkeypatch.setattr("netdesigner.backends.applications.load", damaged)
    choose_application(monkeypatch, "VGG16")
    menu_action(window, "File", "Import", "Keras Application").trigger()
    assert shown == [("critical", "Import failed",
                      "VGG16.graph.gz: cannot be read (Not a gzipped file)")]
    assert window.document is before and not window.transfers.last_outcome["ok"]


GUI_PROCESS_CHECK = r'''
import sys
from pathlib import Path
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QFileDialog
app = QApplication([])
from netdesigner.designer.main_window import MainWindow
out = Path(sys.argv[1])
w = MainWindow(settings=QSettings(str(out / "s.ini"), QSettings.IniFormat))
w.open_file(sys.argv[2], ask=False)
QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(out / "m.keras"), ""))
file_menu = next(a for a in w.menuBar().actions() if a.text() == "&File").menu()
export_menu = next(a for a in file_menu.actions() if a.text() == "&Export").menu()
next(a for a in export_menu.actions() if a.text().startswith("Keras")).trigger()
while w.transfers.last_outcome is None:
    app.processEvents()
    w.transfers.process is not None and w.transfers.process.process.join(0.05)
assert w.transfers.last_outcome["ok"], w.transfers.last_outcome
w.transfers.last_box.close()
w.transfers.shutdown()
print("tensorflow" in sys.modules, "keras" in sys.modules)
'''


def test_the_window_process_never_imports_tensorflow(tmp_path):
    """An export from the window runs TensorFlow in its worker only (a fresh interpreter, since
    other tests import TensorFlow into the test process)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", GUI_PROCESS_CHECK, str(tmp_path),
                           str(ROOT / "samples" / "xor_mlp.graph")], capture_output=True,
                          text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "m.keras").exists()
    assert done.stdout.split()[-2:] == ["False", "False"]
