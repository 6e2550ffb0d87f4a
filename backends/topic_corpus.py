"""A generated text corpus for learning word vectors (Word2Vec's skip-gram and CBOW), offline.

Every sentence is about one topic: its words are drawn from that topic's words, with shared
function words ("the", "of", ...) sprinkled in. Words of one topic therefore share their
contexts, and word vectors trained to predict a word's context (skip-gram: centre word ->
one context word) or a word from its context (CBOW: the context words -> the centre word) put
them near each other: the property `backends.embeddings.topic_separation` measures.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOPICS = {
    "animals": ["cat", "dog", "horse", "cow", "sheep", "lion", "tiger", "mouse", "bird",
                "wolf", "bear", "goat"],
    "food": ["bread", "cheese", "apple", "rice", "soup", "cake", "pasta", "salad", "butter",
             "honey", "milk", "egg"],
    "weather": ["rain", "snow", "wind", "cloud", "storm", "sun", "fog", "frost", "thunder",
                "hail", "ice", "breeze"],
    "sport": ["ball", "goal", "team", "match", "score", "coach", "kick", "race", "player",
              "referee", "pitch", "medal"],
}
FUNCTION_WORDS = ["the", "a", "of", "and", "to", "in"]
FUNCTION_TOPIC = ""                   # the topic of a function word: none


@dataclass
class Corpus:
    words: list            # the vocabulary: token id -> word
    topics: list           # token id -> its topic ("" for a function word)
    sentences: list        # arrays of token ids


def vocabulary() -> tuple[list, list]:
    """(words, topics): the topic words first, topic by topic, then the function words."""
    words, topics = [], []
    for topic, members in TOPICS.items():
        words += members
        topics += [topic] * len(members)
    return words + FUNCTION_WORDS, topics + [FUNCTION_TOPIC] * len(FUNCTION_WORDS)


def generate(seed: int, sentences: int = 1200, length: int = 8,
             function_share: float = 0.25) -> Corpus:
    """`sentences` sentences of `length` words, each about one topic (uniformly chosen): a word
    is a function word with probability `function_share`, else a word of the sentence's topic."""
    words, topics = vocabulary()
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    # row t: topic t's token ids (padded with its first id; never drawn past its size)
    sizes = np.array([len(TOPICS[t]) for t in names])
    members = np.zeros((len(names), sizes.max()), dtype=np.int64)
    for t, name in enumerate(names):
        ids = [i for i, w in enumerate(topics) if w == name]
        members[t] = ids + [ids[0]] * (sizes.max() - len(ids))
    function_ids = np.array([i for i, t in enumerate(topics) if t == FUNCTION_TOPIC])
    topic_of_sentence = rng.integers(0, len(names), sentences)
    pick = (rng.random((sentences, length)) * sizes[topic_of_sentence][:, None]).astype(np.int64)
    ids = members[topic_of_sentence[:, None], pick]
    function = rng.random((sentences, length)) < function_share
    ids[function] = function_ids[rng.integers(0, len(function_ids), int(function.sum()))]
    out = list(ids)
    return Corpus(words, topics, out)


def skipgram_pairs(sentences, window: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """x (n, 1): the centre word; y (n,): one word within `window` of it in its sentence (one
    pair per context word, as skip-gram trains)."""
    centres, contexts = [], []
    for s in sentences:
        n = len(s)
        for offset in range(1, window + 1):
            if offset >= n:
                break
            # both directions: (s[i], s[i + offset]) and (s[i + offset], s[i])
            centres += [s[:-offset], s[offset:]]
            contexts += [s[offset:], s[:-offset]]
    if not centres:
        return np.zeros((0, 1), np.int32), np.zeros(0, np.int64)
    return (np.concatenate(centres).astype(np.int32)[:, None],
            np.concatenate(contexts).astype(np.int64))


def cbow_pairs(sentences, window: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """x (n, 2 * window): the context words around a centre word (only centres with a full
    window); y (n,): the centre word."""
    contexts, centres = [], []
    for s in sentences:
        for i in range(window, len(s) - window):
            contexts.append(np.concatenate([s[i - window:i], s[i + 1:i + 1 + window]]))
            centres.append(s[i])
    if not contexts:
        return np.zeros((0, 2 * window), np.int32), np.zeros(0, np.int64)
    return np.array(contexts, np.int32), np.array(centres, np.int64)
