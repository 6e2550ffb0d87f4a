"""File > Compare With… on cnn_digits and an edited copy: exactly the changed layers are
coloured, the list centres a difference, and neither design changes."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from netdesigner.graph import Edge, fileformat

from tests.designer.actions import menu_action

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def edited_copy(tmp_path) -> Path:
    graph = fileformat.load(SAMPLES / "cnn_digits.graph")
    graph.set_param("dense_1", "units", 48)                 # changed
    graph.remove_node("dropout_1")                          # removed (bypassed)
    graph.connect("dense_1", 0, "dense_2", 0)
    graph.disconnect(Edge("conv2d_1", 0, "max_pooling2d_1", 0))
    extra = graph.add_node("BatchNormalization", position=(500.0, 400.0))   # added
    graph.connect("conv2d_1", 0, extra, 0)
    graph.connect(extra, 0, "max_pooling2d_1", 0)
    path = tmp_path / "cnn_v2.graph"
    fileformat.save(graph, path)
    return path


def test_compare_with_colours_exactly_the_changed_layers(window, qtbot, tmp_path,
                                                          monkeypatch):
    from netdesigner.designer.compare import CompareWindow
    project = tmp_path / "cnn_digits.graph"
    project.write_text((SAMPLES / "cnn_digits.graph").read_text())
    assert window.open_file(str(project), ask=False)
    other = edited_copy(tmp_path)
    before = fileformat.dumps(window.document.graph)
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(other), "")))
    menu_action(window, "File", "Compare With").trigger()
    compare = window.findChild(CompareWindow)
    assert compare is not None and compare.isVisible()
    qtbot.waitExposed(compare)

    # from the edited copy to the open design: the copy's BatchNormalization is gone, the
    # Dropout it lacked is back, dense_1 has its 64 units again (so dense_2 has more weights)
    kinds = {n: item.kind for n, item in compare.mark_items.items()}
    assert kinds == {"dense_1": "changed", "batch_normalization_1": "removed",
                     "dropout_1": "added", "dense_2": "affected"}
    unmarked = set(compare.scene.nodes) - set(kinds)
    assert unmarked and all(not any(isinstance(c, type(compare.mark_items["dense_1"]))
                                    for c in compare.scene.nodes[n].childItems())
                            for n in unmarked)
    assert "units 48 -> 64" in compare.mark_items["dense_1"].toolTip()
    assert compare.mark_items["dense_1"].pen().color().name() == "#f9a825"
    assert compare.mark_items["dropout_1"].pen().color().name() == "#2e7d32"
    assert compare.mark_items["batch_normalization_1"].pen().color().name() == "#d32f2f"

    # choosing an entry of the list selects and centres that layer, details show old -> new
    entries = [compare.list.item(i) for i in range(compare.list.count())]
    entry = next(e for e in entries if e.data(Qt.UserRole) == "dense_1")
    compare.view.centerOn(-5000, -5000)
    compare.list.setCurrentItem(entry)
    assert compare.scene.selected_node_ids() == ["dense_1"]
    centre = compare.view.mapToScene(compare.view.viewport().rect().center())
    assert compare.scene.nodes["dense_1"].sceneBoundingRect().adjusted(-60, -60, 60, 60
                                                                       ).contains(centre)
    assert "48" in compare.details.toPlainText() and "64" in compare.details.toPlainText()

    compare.close()
    assert fileformat.dumps(window.document.graph) == before
    assert not window.document.modified
    assert fileformat.load(other).node("dense_1").params["units"] == 48


def test_compare_with_an_unreadable_file_says_why(window, tmp_path, monkeypatch):
    broken = tmp_path / "broken.graph"
    broken.write_text("{ not json")
    said = []
    monkeypatch.setattr(QMessageBox, "critical",
                        staticmethod(lambda parent, title, text: said.append(text)))
    assert window.compare_with(str(broken)) is None
    assert said and "broken.graph" in said[0]
