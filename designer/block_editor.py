"""Edit a block's definition (the sub-graph a Block node stands for) in a canvas of its own.

Double-clicking a Block node (or Edit > Edit Block Definition) opens this window. It is the
main canvas over the block's graph: drop layers from the palette, wire them, edit parameters,
delete; the block's Input nodes are its input ports (their shapes are what the inner layers
see) and its output ports are listed at the top. Every edit goes into the project's undo history
(Ctrl+Z here or in the main window undoes it), and every Block node that uses the definition is
re-validated at once: a change that no longer fits where the block is used shows up in the main
window's problems.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from .canvas.editing import add_layer, delete_selection
from .canvas.scene import NetworkScene
from .canvas.view import NetworkView
from .document import Document
from .properties import PropertyEditor


class BlockEditor(QMainWindow):
    def __init__(self, main_window, block_name: str):
        super().__init__(main_window, Qt.Window)
        self.main = main_window
        self.block_name = block_name
        project = main_window.document
        self.block = project.graph.blocks[block_name]
        self.document = Document(self.block.graph, undo=project.undo, parent=self)
        self.setObjectName(f"block_editor_{block_name}")
        self.resize(1000, 620)

        self.scene = NetworkScene(self.document, main_window.theme, self)
        self.view = NetworkView()
        self.view.setScene(self.scene)
        self.view.layerDropped.connect(
            lambda type_id, pos: add_layer(self.document, self.scene, type_id, pos))
        self.ports = QLabel()
        self.ports.setWordWrap(True)
        self.ports.setContentsMargins(8, 4, 8, 4)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.ports)
        column.addWidget(self.view, 1)
        self.setCentralWidget(central)

        self.properties = PropertyEditor()
        self.properties.set_document(self.document)
        dock = QDockWidget("Properties", self)
        dock.setObjectName("block_properties")
        dock.setWidget(self.properties)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        self._properties_dock = dock
        self.scene.selectionChanged.connect(self._selection_changed)
        self.scene.wireRefused.connect(
            lambda reason: self.statusBar().showMessage(f"Wire refused: {reason}", 6000))

        for text, keys, slot in (("Delete", QKeySequence.Delete, self.delete_selection),
                                 ("Undo", QKeySequence.Undo, project.undo.undo),
                                 ("Redo", QKeySequence.Redo, project.undo.redo),
                                 ("Close", QKeySequence.Close, self.close)):
            action = QAction(text, self)
            action.setShortcut(keys)
            action.triggered.connect(slot)
            self.addAction(action)
        self.document.validated.connect(self._validated)
        project.validated.connect(self._validated)
        self._validated()
        self.view.show_network()

    def showEvent(self, event):
        super().showEvent(event)
        # dock sizes asked for before the window is laid out are ignored
        QTimer.singleShot(0, lambda: self.resizeDocks([self._properties_dock], [290],
                                                      Qt.Horizontal))

    def users(self) -> list[str]:
        graph = self.main.document.graph
        return [n for n in graph.nodes() if graph.node(n).type == "Block"
                and graph.node(n).params.get("block") == self.block_name]

    def _validated(self) -> None:
        users = self.users()
        self.setWindowTitle(f"Block {self.block_name} — used by "
                            f"{', '.join(users) if users else 'no Block node'}")
        inputs = ", ".join(self.block.inputs) or "none"
        outputs = ", ".join(f"{n} (port {p})" for n, p in self.block.outputs) or "none"
        problems = self.document.analysis.errors()
        state = (f"<span style='color:#d32f2f'>{len(problems)} problem"
                 f"{'s' if len(problems) != 1 else ''} inside: {problems[0]}</span>"
                 if problems else "<span style='color:#2e7d32'>✔ valid inside</span>")
        self.ports.setText(f"<b>Block {self.block_name}</b> &nbsp; inputs (its Input layers): "
                           f"{inputs} &nbsp; outputs: {outputs} &nbsp; {state}<br>Edits apply "
                           f"to every Block node that uses it ({', '.join(users) or 'none'}); "
                           f"Ctrl+Z here or in the main window undoes them.")

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.properties.set_node(ids[0] if len(ids) == 1 else None)

    def delete_selection(self) -> None:
        delete_selection(self.document, self.scene)

    def closeEvent(self, event):
        try:
            self.main.document.validated.disconnect(self._validated)
        except (RuntimeError, TypeError):
            pass
        self.document.close()
        self.main.block_editors.pop(self.block_name, None)
        super().closeEvent(event)
