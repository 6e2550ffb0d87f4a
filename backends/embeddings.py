"""Learned word vectors: an Embedding layer's rows, labelled with the data set's vocabulary.

What the designer's Embeddings tab and `netdesigner embeddings` show, computed here once for
both: a word's nearest neighbours by cosine similarity, a 2-D projection of every word vector
(PCA), and — when the data set knows a topic per word (`topic_words`) — how well the vectors
keep topics together (`topic_separation`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from netdesigner.graph import Graph
from netdesigner.graph.expand import expand_blocks

from . import data
from .initial_weights import initial_weights
from .weights_file import read_npz


class EmbeddingError(ValueError):
    """Why there are no word vectors to show, as a sentence."""


@dataclass
class WordVectors:
    layer: str
    words: list                       # token id -> word
    vectors: np.ndarray               # (words, dimensions): the layer's rows for those ids
    topics: list = field(default_factory=list)   # token id -> topic ("": none); [] unknown
    source: str = ""                  # where the weights came from, in words

    def index(self, word: str) -> int:
        try:
            return self.words.index(word)
        except ValueError:
            raise EmbeddingError(f"{word!r} is not in the vocabulary of layer {self.layer} "
                                 f"({len(self.words)} words: "
                                 f"{', '.join(self.words[:12])}"
                                 f"{', ...' if len(self.words) > 12 else ''})") from None


def embedding_layers(graph: Graph) -> list[str]:
    """The design's Embedding layers (outside blocks), in the order they were added (not the
    topological one: the Embeddings tab asks after every edit, a wire drawn into a loop too)."""
    return [n for n in graph.nodes() if graph.node(n).type == "Embedding"]


def vocabulary(graph: Graph) -> tuple[list, list]:
    """(words, topics) of the design's data set, without generating it: only built-in sets
    name their words (`data.VOCABULARY`); ([], []) for any other."""
    known = data.VOCABULARY.get((graph.training or {}).get("dataset", ""))
    if known is None:
        return [], []
    words, topics = known()
    return list(words), list(topics)


def has_word_vectors(graph: Graph) -> bool:
    """An Embedding layer, and a data set that names its tokens."""
    return bool(embedding_layers(graph)) and bool(vocabulary(graph)[0])


def word_vectors(graph: Graph, weights=None, layer: str | None = None) -> WordVectors:
    """The word vectors of `layer` (default: the first Embedding layer) from `weights` (an .npz
    path or {"node/name": array}); None: the design's seeded initial (untrained) weights."""
    layers = embedding_layers(graph)
    if not layers:
        raise EmbeddingError("the design has no Embedding layer: word vectors are an Embedding "
                             "layer's rows")
    if layer is None:
        layer = layers[0]
    elif layer not in layers:
        raise EmbeddingError(f"{layer!r} is not an Embedding layer of the design (its "
                             f"Embedding layers: {', '.join(layers)})")
    words, topics = vocabulary(graph)
    if not words:
        raise EmbeddingError(f"data set {graph.training.get('dataset', '')!r} names no words "
                             f"for its token ids (a built-in text set such as topic_words does)")
    key = f"{layer}/embeddings"
    if weights is None:
        source = "initial (untrained) weights, seed " + str(graph.training.get("seed", 0))
        table = initial_weights(expand_blocks(graph), graph.training.get("seed", 0))[key]
    else:
        source = Path(weights).name if isinstance(weights, (str, Path)) else "given weights"
        table = read_npz(weights) if isinstance(weights, (str, Path)) else weights
        if key not in table:
            raise EmbeddingError(f"{source} holds no weights of layer {layer} (no {key}): "
                                 f"were they trained for another design?")
        table = table[key]
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] < len(words):
        raise EmbeddingError(f"layer {layer} has {table.shape[0]} rows but the data set's "
                             f"vocabulary has {len(words)} words: set its input_dim to "
                             f"{len(words)}")
    return WordVectors(layer, words, table[:len(words)], topics, source)


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows (a zero row is similar to nothing: 0)."""
    v = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    unit = np.divide(v, norms, out=np.zeros_like(v), where=norms > 0)
    return unit @ unit.T


def nearest(wv: WordVectors, word: str, k: int = 5) -> list[tuple[str, float]]:
    """The k words whose vectors are most cosine-similar to `word`'s, most similar first."""
    i = wv.index(word)
    sims = cosine_matrix(wv.vectors)[i]
    order = [j for j in np.argsort(-sims, kind="stable") if j != i][:max(k, 0)]
    return [(wv.words[j], float(sims[j])) for j in order]


def projection(vectors: np.ndarray, dims: int = 2) -> np.ndarray:
    """The rows projected on their first `dims` principal components (centred; each axis's
    sign fixed so that its largest loading is positive, for the same picture every time)."""
    v = np.asarray(vectors, dtype=np.float64)
    centred = v - v.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:dims]
    signs = np.sign(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)])
    axes = axes * np.where(signs == 0, 1, signs)[:, None]
    out = centred @ axes.T
    if out.shape[1] < dims:                      # fewer dimensions than asked: zeros
        out = np.pad(out, ((0, 0), (0, dims - out.shape[1])))
    return out


def topic_separation(wv: WordVectors, k: int = 5) -> dict:
    """How well the vectors keep topics together, over the words that have a topic:
    `within` the mean cosine similarity of two different words of one topic, `across` that of
    two words of different topics, `neighbour_share` the share of each such word's k nearest
    neighbours (among all other words, function words too) that share its topic."""
    topics = np.array(wv.topics if wv.topics else [""] * len(wv.words))
    has = np.flatnonzero(topics != "")
    if len(set(topics[has])) < 2:
        raise EmbeddingError("the data set gives fewer than two topics: nothing to separate")
    sims = cosine_matrix(wv.vectors)
    same = topics[has][:, None] == topics[has][None, :]
    sub = sims[np.ix_(has, has)]
    off_diagonal = ~np.eye(len(has), dtype=bool)
    if not (same & off_diagonal).any():
        raise EmbeddingError("no topic has two words: nothing to compare within a topic")
    shares = []
    for i in has:
        order = [j for j in np.argsort(-sims[i], kind="stable") if j != i][:k]
        shares.append(np.mean(topics[order] == topics[i]))
    return {"within": float(sub[same & off_diagonal].mean()),
            "across": float(sub[~same].mean()),
            "neighbour_share": float(np.mean(shares)), "k": k, "words": int(len(has))}


#: topic colours (RGB), in the order topics first appear; words without a topic are grey
TOPIC_COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189),
                 (255, 127, 14), (23, 190, 207), (140, 86, 75), (227, 119, 194)]
NO_TOPIC_COLOUR = (120, 120, 120)


def topic_colours(wv: WordVectors) -> dict:
    """topic -> RGB for every topic of the vocabulary ("" -> grey)."""
    out, n = {"": NO_TOPIC_COLOUR}, 0
    for t in wv.topics:
        if t not in out:
            out[t] = TOPIC_COLOURS[n % len(TOPIC_COLOURS)]
            n += 1
    return out


def to_dict(wv: WordVectors, word: str | None = None, k: int = 5) -> dict:
    points = projection(wv.vectors)
    out = {"layer": wv.layer, "source": wv.source,
           "words": [{"word": w, "topic": wv.topics[i] if wv.topics else "",
                      "x": float(points[i, 0]), "y": float(points[i, 1])}
                     for i, w in enumerate(wv.words)]}
    if word is not None:
        out["word"] = word
        out["neighbours"] = [{"word": w, "similarity": s} for w, s in nearest(wv, word, k)]
    try:
        out["topic_separation"] = topic_separation(wv)
    except EmbeddingError:
        pass                                  # no topics, or none with two words: nothing to say
    return out


def write_png(wv: WordVectors, path, word: str | None = None, k: int = 5,
              size: int = 720) -> None:
    """Every word at its 2-D projection, labelled and coloured by topic; the chosen word and
    its k nearest neighbours listed on the right."""
    from PIL import Image, ImageDraw
    points = projection(wv.vectors)
    colours = topic_colours(wv)
    side = 260 if word is not None else 0
    pad = 40
    canvas = Image.new("RGB", (size + side, size), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    span = np.ptp(points, axis=0)
    span[span == 0] = 1
    xy = (points - points.min(axis=0)) / span * (size - 2 * pad - 60) + pad
    chosen = wv.index(word) if word is not None else None
    for i, w in enumerate(wv.words):
        x, y = xy[i, 0], size - xy[i, 1]
        colour = colours[wv.topics[i] if wv.topics else ""]
        r = 6 if i == chosen else 3
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        draw.text((x + 5, y - 6), w, fill=colour)
    draw.text((pad, 10), f"word vectors of {wv.layer} ({wv.source}): PCA, 2 components",
              fill=(0, 0, 0))
    y = 28
    for topic, colour in colours.items():
        if topic == "" and "" not in wv.topics:
            continue
        draw.rectangle((pad, y + 3, pad + 7, y + 10), fill=colour)
        draw.text((pad + 12, y), topic or "no topic", fill=colour)
        y += 14
    if word is not None:
        y = 40
        draw.text((size + 10, y), f"nearest to {word!r} (cosine):", fill=(0, 0, 0))
        for w, s in nearest(wv, word, k):
            y += 18
            t = wv.topics[wv.index(w)] if wv.topics else ""
            draw.text((size + 20, y), f"{w:12s} {s:+.3f}", fill=colours[t])
    canvas.save(path)
