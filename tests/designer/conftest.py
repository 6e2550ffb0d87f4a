"""A main window per test, with its own settings file and recovery folder."""
import pytest
from PySide6.QtCore import QSettings, QStandardPaths


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    QStandardPaths.setTestModeEnabled(True)
    monkeypatch.setattr("netdesigner.designer.main_window.recovery_dir",
                        lambda: (tmp_path / "recovery").mkdir(exist_ok=True) or tmp_path / "recovery")
    from netdesigner.designer.main_window import MainWindow
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(settings=settings)
    w.ask_save_changes = lambda: pytest.fail("unexpected unsaved-changes prompt")
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.undo.setClean()
    w.close()
    w.deleteLater()
