"""Crash recovery and autosave through the window (issue 12, point 6): declining recovery keeps
the file until a clean exit, and an autosave that fails says so until one succeeds."""
import os

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from netdesigner.graph import fileformat


def crash(window) -> "Path":
    """Leave the window's recovery file as a crashed session would (its pid is gone)."""
    window.document.add_node("Dense", (0, 0), {"units": 77})
    assert window.autosave()
    info = window.recovery_file.with_suffix(".json")
    info.write_text(info.read_text().replace(f'"pid": {os.getpid()}', '"pid": 999999'))
    crashed = window.recovery_file.rename(window.recovery_file.with_name("session-999999.graph"))
    info.rename(crashed.with_suffix(".json"))
    window.document.undo.setClean()
    return crashed


def new_window(qtbot, tmp_path, name):
    from netdesigner.designer.main_window import MainWindow
    w = MainWindow(settings=QSettings(str(tmp_path / f"{name}.ini"), QSettings.IniFormat))
    qtbot.addWidget(w)
    return w


def test_declined_recovery_is_offered_again_until_a_clean_exit(window, qtbot, tmp_path,
                                                              monkeypatch):
    crashed = crash(window)
    questions = []
    answer = {"button": QMessageBox.No}
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *args, **kw: questions.append(args[2]) or answer["button"])
    second = new_window(qtbot, tmp_path, "second")
    assert not second.offer_recovery()
    assert len(questions) == 1 and "did not close properly" in questions[0]
    assert crashed.exists() and crashed.with_suffix(".json").exists(), \
        "answering No deleted the recovery file"
    assert not second.document.graph.nodes(), "declining left the new window's network alone"
    # if the second session crashes too, the next start asks again, and can take it in
    answer["button"] = QMessageBox.Yes
    third = new_window(qtbot, tmp_path, "third")
    assert third.offer_recovery(), "a declined recovery file was not offered again"
    assert len(questions) == 2
    assert third.document.graph.node("dense_1").params["units"] == 77
    # taken in: the work is in the third session's own recovery file before the old one goes
    assert fileformat.load(third.recovery_file).node("dense_1").params["units"] == 77
    assert not crashed.exists()
    third.document.undo.setClean()
    third.close()


def test_a_clean_exit_removes_the_recovery_file_it_declined(window, qtbot, tmp_path,
                                                           monkeypatch):
    crashed = crash(window)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: QMessageBox.No)
    second = new_window(qtbot, tmp_path, "second")
    assert not second.offer_recovery() and crashed.exists()
    assert second.close()
    assert not crashed.exists() and not crashed.with_suffix(".json").exists(), \
        "a clean exit after declining left the recovery file behind"
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(1))
    assert not new_window(qtbot, tmp_path, "third").offer_recovery() and asked == []


def test_a_failed_autosave_stays_visible_until_one_succeeds(window, qtbot):
    """`"l2": 1e999` (infinity) cannot be written as JSON: the autosave fails. It used to say so
    for 6 s in the status bar, then nothing: the work was silently unprotected."""
    window.document.add_node("Dense", (0, 0), {"units": 5})
    window.document.graph.training["l2"] = 1e999
    assert not window.autosave()
    assert not window.recovery_file.exists()
    assert window.status_autosave.isVisibleTo(window), "the failure is not shown"
    assert "Autosave failed: Out of range float values are not JSON compliant" in \
        window.status_autosave.toolTip()
    assert "lost in a crash" in window.statusBar().currentMessage()
    qtbot.wait(50)
    assert not window.autosave() and window.status_autosave.isVisibleTo(window), \
        "a second failure hid the warning"
    window.document.graph.training["l2"] = 0.0
    assert window.autosave() and window.recovery_file.exists()
    assert not window.status_autosave.isVisibleTo(window) and window.autosave_error is None


def test_an_unwritable_recovery_folder_is_reported_and_a_save_clears_it(window, qtbot,
                                                                        tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    window.recovery_file = blocker / "session.graph"
    window.document.add_node("Dense", (0, 0), {"units": 5})
    assert not window.autosave()
    assert window.status_autosave.isVisibleTo(window)
    assert "Not a directory" in window.autosave_error, window.autosave_error
    window.document.path = tmp_path / "net.graph"
    assert window.save()
    assert not window.status_autosave.isVisibleTo(window), "saving did not clear the warning"
