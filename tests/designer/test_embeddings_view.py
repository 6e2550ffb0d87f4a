"""The Embeddings tab: a trained word-vector design's neighbours and 2-D projection."""
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends import protocol
from netdesigner.backends.jobs import Job, run_job
from netdesigner.backends.topic_corpus import TOPICS
from netdesigner.backends.weights_file import weights_path
from netdesigner.designer.document import Document
from netdesigner.designer.project_view import ProjectState
from netdesigner.designer.training.embeddings import EmbeddingsView
from netdesigner.graph import fileformat

ROOT = Path(__file__).resolve().parents[2]


def tiny_project(tmp_path) -> Path:
    """samples/word_vectors_skipgram.graph with 8-number vectors and 2 epochs."""
    g = fileformat.load(ROOT / "samples" / "word_vectors_skipgram.graph")
    g.node("embedding_1").params["output_dim"] = 8
    g.training["epochs"] = 2
    path = tmp_path / "words.graph"
    fileformat.save(g, path)
    return path


def train_beside(path: Path) -> Path:
    """Train the project in this process (no worker) and save its weights beside it."""
    rec = protocol.Recorder()
    run_job(Job(path.read_text(), str(path.parent), "numpy", stats_every=0,
                weights_out=str(weights_path(path))), rec, lambda: False)
    assert not rec.of("error"), rec.of("error")
    return weights_path(path)


def test_the_view_shows_a_trained_models_neighbours_and_projection(qtbot, tmp_path):
    path = tiny_project(tmp_path)
    trained = []
    view = EmbeddingsView(lambda: trained[-1] if trained else None)
    qtbot.addWidget(view)
    view.show_project(ProjectState(Document.open(path)))
    assert view.vectors is None and view.stale        # hidden: nothing computed yet
    view.show()
    # before training: the initial vectors, said to be untrained, topics mixed
    assert view.vectors is not None and "initial (untrained)" in view.vectors.source
    assert "Train the design" in view.caption.text()
    trained.append(train_beside(path))
    view.weights_changed()                        # what the panel does when a run finishes
    assert view.vectors.source == "words.weights.npz"
    assert "100% of each word's 5 nearest neighbours share its topic" in view.caption.text()
    view.word.setCurrentText("cat")
    near = view.neighbour_words()
    assert len(near) == 5 and set(near) <= set(TOPICS["animals"]), near
    view.count.setValue(3)
    assert len(view.neighbour_words()) == 3
    x, y = view.points.getData()
    assert len(x) == 54 and len(view.labels) == 54
    assert view.labels[view.vectors.index("cat")].toPlainText() == "cat"
    # the projection keeps each topic's words together: a topic's spread is a small part of
    # the whole picture's
    points = np.c_[x, y]
    for words in TOPICS.values():
        group = points[[view.vectors.index(w) for w in words]]
        assert np.ptp(group, axis=0).max() < 0.5 * np.ptp(points, axis=0).max()


@pytest.mark.long          # a main window (~2 s to set up)
def test_the_tab_shows_for_word_vector_designs_only_and_forgets_the_last_project(
        window, tmp_path):
    panel = window.training
    view = panel.embeddings
    tab = panel.plots.indexOf(view)
    assert not panel.plots.isTabVisible(tab)          # the empty design has no word vectors
    path = tiny_project(tmp_path)
    train_beside(path)
    assert window.open_file(path, ask=False)
    assert panel.plots.isTabVisible(tab)
    window.show()
    panel.plots.setCurrentWidget(view)               # the user opens the tab
    assert view.isVisible()
    assert view.vectors is not None and view.vectors.source == "words.weights.npz"
    assert view.neighbours.count() == 5
    # a data set without words: no tab
    window.document.set_training("dataset", "sentiment")
    window.document.revalidate()
    assert not panel.plots.isTabVisible(tab) and view.vectors is None
    window.document.undo.undo()
    window.document.revalidate()
    assert panel.plots.isTabVisible(tab)
    if not view.isVisible():                          # another tab became current meanwhile
        assert view.vectors is None and view.stale   # nothing computed behind the user's back
        panel.plots.setCurrentWidget(view)
    assert view.vectors is not None
    # another project: nothing of these vectors stays, and its design has none to show
    assert window.open_file(ROOT / "samples" / "mlp_digits.graph", ask=False)
    assert view.vectors is None and view.neighbours.count() == 0
    assert not panel.plots.isTabVisible(tab)
