"""Word vectors: the generated topic corpus, its skip-gram / CBOW pairs, and the views of an
Embedding layer's rows (nearest neighbours, PCA projection, topic separation)."""
import json
from pathlib import Path

import numpy as np
import pytest

from netdesigner.backends import data, embeddings, protocol, topic_corpus
from netdesigner.backends.embeddings import EmbeddingError, WordVectors
from netdesigner.backends.jobs import Job, run_job
from netdesigner.graph import fileformat

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE = SAMPLES / "word_vectors_skipgram.graph"

# after training, words of one topic are near and words of different topics are not:
# measured (NumPy and Keras alike, seed 0) within 0.892, across -0.002, 100% of the 5 nearest
# neighbours of the same topic (CBOW sample: 0.768, 0.052, 100%); the untrained vectors:
# -0.013, 0.001 and 17%
MIN_MARGIN = 0.5            # mean within-topic minus mean across-topic cosine similarity
MIN_NEIGHBOUR_SHARE = 0.8   # of each topic word's 5 nearest neighbours, the share in its topic


def test_the_corpus_is_seeded_and_each_sentence_keeps_to_one_topic():
    a, b = topic_corpus.generate(3), topic_corpus.generate(3)
    assert all(np.array_equal(s, t) for s, t in zip(a.sentences, b.sentences))
    assert not all(np.array_equal(s, t)
                   for s, t in zip(a.sentences, topic_corpus.generate(4).sentences))
    assert len(a.words) == len(set(a.words)) == 54 and len(a.topics) == 54
    topics = np.array(a.topics)
    seen = set()
    for s in a.sentences:
        own = set(topics[s]) - {""}
        assert len(own) <= 1, [a.words[i] for i in s]
        seen |= own
    assert seen == set(topic_corpus.TOPICS)
    share = np.mean([topics[i] == "" for s in a.sentences for i in s])
    assert 0.2 < share < 0.3                       # function words: 25% of the words


def test_skipgram_and_cbow_pairs_of_a_sentence():
    x, y = topic_corpus.skipgram_pairs([np.array([5, 6, 7])], window=2)
    assert x.shape == (6, 1) and x.dtype == np.int32
    assert sorted(zip(x[:, 0].tolist(), y.tolist())) == [(5, 6), (5, 7), (6, 5), (6, 7),
                                                         (7, 5), (7, 6)]
    x, y = topic_corpus.skipgram_pairs([np.array([5, 6, 7])], window=1)
    assert sorted(zip(x[:, 0].tolist(), y.tolist())) == [(5, 6), (6, 5), (6, 7), (7, 6)]
    x, y = topic_corpus.cbow_pairs([np.array([1, 2, 3, 4, 5, 6])], window=2)
    assert x.tolist() == [[1, 2, 4, 5], [2, 3, 5, 6]] and y.tolist() == [3, 4]
    assert topic_corpus.cbow_pairs([np.array([1, 2])], window=2)[0].shape == (0, 4)


@pytest.mark.parametrize("name", ["topic_words", "topic_words_cbow"])
def test_the_data_sets_name_their_words_and_topics(name):
    d = data.load(name, seed=0)
    assert d.tokens == d.classes and len(d.token_topics) == len(d.tokens) == 54
    assert data.VOCABULARY[name]() == (d.tokens, d.token_topics)   # known without generating
    assert d.x.dtype == np.int32 and 0 <= d.x.min() and d.x.max() < 54
    assert set(np.unique(d.y)) <= set(range(54))
    # a pair never joins two topic words of different topics (one sentence, one topic)
    topics = np.array(d.token_topics)
    for column in d.x.T:
        a, b = topics[column], topics[d.y]
        assert np.all((a == b) | (a == "") | (b == ""))


def clustered(seed=0, spread=0.1) -> WordVectors:
    """Fixed vectors: each topic's words around their own axis, function words at random."""
    words, topics = topic_corpus.vocabulary()
    rng = np.random.default_rng(seed)
    names = list(topic_corpus.TOPICS)
    axes = np.eye(8)
    vectors = np.array([axes[names.index(t)] if t else axes[4 + rng.integers(0, 4)]
                        for t in topics]) + spread * rng.normal(size=(len(words), 8))
    return WordVectors("embedding_1", words, vectors, topics, "fixed")


def test_nearest_neighbours_by_cosine_similarity():
    wv = WordVectors("e", ["a", "b", "c", "d"],
                     np.array([[1.0, 0], [2.0, 0.1], [0, 1.0], [-1.0, 0]]), [])
    near = embeddings.nearest(wv, "a", 3)
    assert [w for w, _ in near] == ["b", "c", "d"]       # length does not matter, angle does
    assert near[0][1] == pytest.approx(2 / np.hypot(2, 0.1)) and near[2][1] == pytest.approx(-1)
    with pytest.raises(EmbeddingError, match="'z' is not in the vocabulary of layer e"):
        embeddings.nearest(wv, "z")
    sims = embeddings.cosine_matrix(np.array([[0.0, 0], [1, 1]]))
    assert sims[0].tolist() == [0, 0]                    # a zero vector: similar to nothing


def test_the_projection_is_pca():
    rng = np.random.default_rng(1)
    along = rng.normal(size=40)
    along -= along.mean()
    across = 0.1 * rng.normal(size=40)
    across -= across.mean()
    across -= (across @ along) / (along @ along) * along     # uncorrelated: the PCA axes exactly
    direction, other = np.array([3.0, 4, 0]) / 5, np.array([0, 0, 1.0])
    vectors = 7 + along[:, None] * direction + across[:, None] * other
    points = embeddings.projection(vectors)
    assert points.shape == (40, 2)
    np.testing.assert_allclose(np.abs(points[:, 0]), np.abs(along), atol=1e-9)
    np.testing.assert_allclose(np.abs(points[:, 1]), np.abs(across), atol=1e-9)
    np.testing.assert_array_equal(points, embeddings.projection(vectors[:, :]))   # signs fixed
    assert embeddings.projection(np.ones((3, 1))).shape == (3, 2)   # one dimension: padded


def test_topic_separation_tells_clustered_from_random_vectors():
    s = embeddings.topic_separation(clustered())
    assert s["words"] == 48 and s["neighbour_share"] == 1.0
    assert s["within"] - s["across"] > 0.9
    words, topics = topic_corpus.vocabulary()
    random = WordVectors("e", words, np.random.default_rng(0).normal(size=(54, 16)), topics)
    s = embeddings.topic_separation(random)
    assert abs(s["within"] - s["across"]) < 0.1 and s["neighbour_share"] < 0.5
    with pytest.raises(EmbeddingError, match="no topic has two words"):
        embeddings.topic_separation(WordVectors("e", ["a", "b"], np.eye(2), ["x", "y"]))


def test_untrained_sample_vectors_do_not_keep_topics_together():
    """The property the trained sample is tested for fails for its initial weights."""
    wv = embeddings.word_vectors(fileformat.load(SAMPLE))
    assert "initial (untrained)" in wv.source and wv.vectors.shape == (54, 16)
    s = embeddings.topic_separation(wv)
    assert s["within"] - s["across"] < MIN_MARGIN and s["neighbour_share"] < MIN_NEIGHBOUR_SHARE


def test_no_word_vectors_is_a_sentence(tmp_path):
    g = fileformat.load(SAMPLE)
    with pytest.raises(EmbeddingError, match="'dense_1' is not an Embedding layer"):
        embeddings.word_vectors(g, layer="dense_1")
    np.savez(tmp_path / "other.npz", **{"dense_9/kernel": np.zeros(2)})
    with pytest.raises(EmbeddingError, match="holds no weights of layer embedding_1"):
        embeddings.word_vectors(g, tmp_path / "other.npz")
    g.node("embedding_1").params["input_dim"] = 20
    with pytest.raises(EmbeddingError, match="set its input_dim to 54"):
        embeddings.word_vectors(g)
    g = fileformat.load(SAMPLES / "embedding_lstm_sentiment.graph")
    assert not embeddings.has_word_vectors(g)
    with pytest.raises(EmbeddingError, match="names no words"):
        embeddings.word_vectors(g)
    with pytest.raises(EmbeddingError, match="no Embedding layer"):
        embeddings.word_vectors(fileformat.load(SAMPLES / "mlp_digits.graph"))


def test_the_command_line_on_untrained_vectors(capsys, tmp_path):
    from netdesigner.designer.cli import main
    png = tmp_path / "words.png"
    assert main(["embeddings", str(SAMPLE), "--random", "--word", "cat", "--json",
                 "--png", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    from PIL import Image
    assert Image.open(png).size == (980, 720)
    assert out["layer"] == "embedding_1" and len(out["words"]) == 54
    assert [n["word"] for n in out["neighbours"]] and len(out["neighbours"]) == 5
    assert out["topic_separation"]["neighbour_share"] < MIN_NEIGHBOUR_SHARE
    assert main(["embeddings", str(SAMPLE), "--random", "--word", "kat"]) == 1
    assert "'kat' is not in the vocabulary" in capsys.readouterr().err


def train(graph, backend: str, weights_out: Path) -> dict:
    rec = protocol.Recorder()
    run_job(Job(fileformat.dumps(graph), backend, stats_every=0,
                weights_out=str(weights_out)), rec, lambda: False)
    assert not rec.of("error"), rec.of("error")
    return rec.of("evaluation")[0]["report"]


@pytest.mark.long
@pytest.mark.parametrize("backend", ["numpy", "keras"])
@pytest.mark.parametrize("sample", ["word_vectors_skipgram", "word_vectors_cbow"])
def test_the_trained_sample_puts_words_of_one_topic_together(sample, backend, tmp_path):
    g = fileformat.load(SAMPLES / f"{sample}.graph")
    train(g, backend, tmp_path / "w.npz")
    wv = embeddings.word_vectors(g, tmp_path / "w.npz")
    s = embeddings.topic_separation(wv)
    assert s["within"] - s["across"] >= MIN_MARGIN, s
    assert s["neighbour_share"] >= MIN_NEIGHBOUR_SHARE, s
    assert {w for w, _ in embeddings.nearest(wv, "rain", 5)} <= set(
        topic_corpus.TOPICS["weather"])


def test_one_epoch_already_separates_the_topics(tmp_path):
    """The quick variant of the test above: 8-number vectors, one epoch, NumPy."""
    g = fileformat.load(SAMPLE)
    g.node("embedding_1").params["output_dim"] = 8
    g.training["epochs"] = 1
    train(g, "numpy", tmp_path / "w.npz")
    s = embeddings.topic_separation(
        embeddings.word_vectors(g, tmp_path / "w.npz"))
    assert s["within"] - s["across"] >= MIN_MARGIN and s["neighbour_share"] >= 0.8, s


@pytest.mark.long        # a training run and two CLI runs in subprocesses
def test_the_command_line_on_the_trained_sample(tmp_path):
    import os
    import subprocess
    import sys
    project = tmp_path / "words.graph"
    project.write_text(SAMPLE.read_text())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cli = [sys.executable, "-m", "netdesigner.designer.cli"]
    done = subprocess.run(cli + ["train", str(project), "--quiet"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(cli + ["embeddings", str(project), "--word", "bread",
                                 "--png", str(tmp_path / "e.png")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "words.weights.npz" in lines[0] and "nearest to 'bread'" in lines[1]
    assert all("(food)" in line for line in lines[2:7]), lines
    assert "100% of each word's 5 nearest neighbours share its topic" in done.stdout
    from PIL import Image
    assert Image.open(tmp_path / "e.png").size == (980, 720)
