"""The Embeddings tab: an Embedding layer's word vectors, when the data set names its words.

A word's nearest neighbours (cosine similarity) and every word at its 2-D projection (PCA),
coloured by topic when the data set knows topics (`topic_words`). Computed by
`backends.embeddings`, the same functions as `netdesigner embeddings`. The tab is shown only for
designs with an Embedding layer whose data set has a vocabulary; it reads the newest trained
weights (the last run's, or those saved beside the project) and, before any training, the
design's initial ones, so the contrast is visible. Only built-in data sets carry a vocabulary,
known without generating them (`data.VOCABULARY`); with a weights file of an Embedding layer's
size it all takes milliseconds, so the work stays on the GUI thread.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QSpinBox, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from netdesigner.backends import embeddings

from .plots import make_plot

#: words labelled on the projection at most (a bigger vocabulary shows points only)
MAX_LABELS = 300
IDLE_CAPTION = ("Word vectors appear here for a design with an Embedding layer whose data set "
                "names its words (e.g. topic_words).")


class EmbeddingsView(QWidget):
    def __init__(self, weights, tabs: QTabWidget | None = None, parent=None):
        """`weights()`: the newest trained weights file or None; `tabs`: the tab widget this
        view is a tab of, which shows the tab only for designs with word vectors."""
        super().__init__(parent)
        self.weights = weights
        self.tabs = tabs
        self.document = None
        self.vectors: embeddings.WordVectors | None = None
        self.caption = QLabel(IDLE_CAPTION)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.RichText)
        self.word = QComboBox()
        self.word.setMinimumContentsLength(12)
        self.count = QSpinBox()
        self.count.setRange(1, 50)
        self.count.setValue(5)
        self.neighbours = QListWidget()
        self.plot = make_plot("Word vectors: 2-D projection (PCA)", "component 1",
                              "component 2", long_series=False)
        self.plot.getPlotItem().legend.setVisible(False)
        self.points = pg.ScatterPlotItem(size=8, pen=None)
        self.plot.addItem(self.points)
        self.labels: list[pg.TextItem] = []
        self.stale = False            # the design or its weights changed while it was hidden

        pick = QHBoxLayout()
        pick.addWidget(QLabel("word"))
        pick.addWidget(self.word, 1)
        pick.addWidget(QLabel("neighbours"))
        pick.addWidget(self.count)
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(pick)
        col.addWidget(QLabel("nearest (cosine similarity)"))
        col.addWidget(self.neighbours, 1)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.plot)
        splitter.setSizes([220, 700])
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(splitter, 1)
        self.word.currentTextChanged.connect(self.show_neighbours)
        self.count.valueChanged.connect(lambda _: self.show_neighbours())
        self.clear()

    # -- project changes ------------------------------------------------------------------------
    def show_project(self, project) -> None:
        """Another project is open: nothing of the last one's vectors stays (ProjectViews)."""
        self.clear()
        self.document = project.document
        # after a burst of edits (a new data set, an Embedding added or resized)
        project.document.validated.connect(self.refresh)
        self.refresh()

    def clear(self) -> None:
        self.vectors = None
        self.word.blockSignals(True)
        self.word.clear()
        self.word.blockSignals(False)
        self.neighbours.clear()
        self.points.setData([], [])
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        self.caption.setText(IDLE_CAPTION)
        self._set_available(False)

    def _set_available(self, available: bool) -> None:
        if self.tabs is not None and self.tabs.indexOf(self) >= 0:
            self.tabs.setTabVisible(self.tabs.indexOf(self), available)

    def weights_changed(self) -> None:
        """A run finished (or the weights were saved): show the new vectors."""
        self.refresh()

    # -- computing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the design's word vectors again (the newest weights) and show them."""
        if self.document is None:
            return
        graph = self.document.graph
        if not embeddings.has_word_vectors(graph):
            self.clear()
            return
        self._set_available(True)
        if not self.isVisible():
            # reading the vectors and projecting them costs tens of ms after every burst of
            # edits: done when the tab is shown (showEvent)
            self.stale = True
            return
        self.stale = False
        weights = self.weights()
        try:
            vectors = embeddings.word_vectors(graph, None if weights is None else str(weights))
        except Exception as e:   # noqa: BLE001 - EmbeddingError, unreadable weights, a design
            # mid-edit: said in the tab, never raised into the event loop
            self.vectors = None
            self.points.setData([], [])
            self.neighbours.clear()
            self.caption.setText(f"<span style='color:#d32f2f'>No word vectors: {e}</span>")
            return
        self.show_vectors(vectors, trained=weights is not None)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.stale:
            self.refresh()

    # -- showing --------------------------------------------------------------------------------
    def show_vectors(self, vectors: embeddings.WordVectors, trained: bool = True) -> None:
        previous = self.word.currentText()
        self.vectors = vectors
        text = (f"{len(vectors.words)} word vectors of <b>{vectors.layer}</b> "
                f"({vectors.vectors.shape[1]} numbers each), {vectors.source}.")
        if not trained:
            text += " Train the design to see words that share contexts move together."
        try:
            s = embeddings.topic_separation(vectors)
        except embeddings.EmbeddingError:
            s = None                          # no topics to compare
        if s is not None:
            text += (f" Mean cosine similarity within a topic {s['within']:+.3f}, across "
                     f"topics {s['across']:+.3f}; {s['neighbour_share']:.0%} of each word's "
                     f"{s['k']} nearest neighbours share its topic.")
        self.caption.setText(text)
        self.word.blockSignals(True)
        self.word.clear()
        self.word.addItems(vectors.words)
        self.word.setCurrentIndex(max(self.word.findText(previous), 0))
        self.word.blockSignals(False)
        self._draw_projection()
        self.show_neighbours()

    def _draw_projection(self) -> None:
        vectors = self.vectors
        points = embeddings.projection(vectors.vectors)
        colours = embeddings.topic_colours(vectors)
        topics = vectors.topics or [""] * len(vectors.words)
        brushes = [pg.mkBrush(*colours[t]) for t in topics]
        chosen = self.word.currentIndex()
        sizes = [14 if i == chosen else 8 for i in range(len(points))]
        self.points.setData(points[:, 0], points[:, 1], brush=brushes, size=sizes)
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        if len(vectors.words) <= MAX_LABELS:
            for i, word in enumerate(vectors.words):
                label = pg.TextItem(word, color=colours[topics[i]], anchor=(0, 0.5))
                label.setPos(float(points[i, 0]), float(points[i, 1]))
                self.plot.addItem(label)
                self.labels.append(label)
        self.plot.getPlotItem().autoRange()

    def show_neighbours(self, *_) -> None:
        self.neighbours.clear()
        if self.vectors is None or not self.word.currentText():
            return
        colours = embeddings.topic_colours(self.vectors)
        for word, similarity in embeddings.nearest(self.vectors, self.word.currentText(),
                                                   self.count.value()):
            topic = self.vectors.topics[self.vectors.index(word)] if self.vectors.topics else ""
            item = QListWidgetItem(f"{word}   {similarity:+.3f}" + (f"   ({topic})"
                                                                     if topic else ""))
            item.setForeground(pg.mkColor(*colours[topic]))
            self.neighbours.addItem(item)
        chosen = self.word.currentIndex()
        self.points.setSize(np.where(np.arange(len(self.vectors.words)) == chosen, 14, 8))

    def neighbour_words(self) -> list[str]:
        """The words listed as the current word's neighbours, nearest first."""
        return [self.neighbours.item(i).text().split()[0] for i in range(self.neighbours.count())]
