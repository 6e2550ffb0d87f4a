"""Data sets and preprocessing, shared by both backends, the CLI and the designer.

Everything is available offline: small sets shipped with scikit-learn (digits, iris) and sets
generated from a seed (XOR, spirals, moons, circles, noisy sine waves, a token-sequence
classification task, a long-memory recall task). User data comes from CSV or NPZ files.

`prepare()` fits the data to a network: reshapes samples to the Input layer's shape when the
sizes agree, scales with statistics of the training split only, one-hot encodes labels, and
splits train / validation / test (70/15/15 by default, seeded). A mismatch gets a sentence
naming the layer and both shapes. `prepare_network()` does the same for a network with several
Inputs or outputs: each takes the data set's array named after its id (or the one the
training setting `arrays` names), one split for all, scaling per Input, encoding per output.
The `*_teacher` sequence sets feed a decoder with teacher forcing (`teacher_forced`).
"""
from __future__ import annotations

import csv
import os
import stat
import warnings
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from pathlib import Path
from typing import Callable

import numpy as np

from . import progress, topic_corpus

CLASSIFICATION, REGRESSION = "classification", "regression"


class DataError(ValueError):
    """Data that cannot be loaded or does not fit the network; the message says why."""


@dataclass
class Origin:
    """Where a file's samples come from, so that a faulty value is named by its place in the
    file (a CSV line and column, an NPZ array and index, an image file), not by an index into
    arrays the user never sees."""
    path: Path
    kind: str                                   # csv | npz | images | tfrecord
    lines: list = field(default_factory=list)   # csv: the file line of each sample
    columns: list = field(default_factory=list)  # csv: feature columns' names, then the label's
    files: list = field(default_factory=list)   # images: the file of each sample

    def place(self, array: str, index: tuple) -> str:
        i = int(index[0])
        if self.kind == "csv":
            column = (self.columns[-1] if array == "y"
                      else self.columns[int(index[1])] if len(index) > 1 else None)
            return f"line {self.lines[i]}" + (f", column {column!r}" if column else "")
        if self.kind == "images":
            return f"image {self.files[i]}"
        if self.kind == "tfrecord":              # lines: datasources.RecordPlaces
            return f"{self.lines[i]}, feature {array!r}"
        rest = tuple(int(k) for k in index[1:])
        return f"array {array!r}, sample {i}" + (f" at {rest}" if rest else "")


@dataclass
class Dataset:
    name: str
    x: np.ndarray
    y: np.ndarray
    task: str                         # classification | regression
    classes: list = field(default_factory=list)
    description: str = ""
    origin: Origin | None = None      # files only: where each sample comes from
    # token-id inputs with a vocabulary: the word of every input token id, and its topic ("":
    # none), so that views of learned word vectors can label and colour them
    tokens: list = field(default_factory=list)
    token_topics: list = field(default_factory=list)
    #: a data set for several Inputs or outputs: its arrays by name, matched to the design's
    #: Input and output ids by `prepare_network` ("x" / "y" feed a lone Input / output); empty
    #: for a data set of one x and one y
    arrays: dict = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.x.shape[1:])

    def where(self, array: str, index) -> str:
        """'FILE: line 7, column 'b'' (or 'array 'x', sample 3 at (1,)'): a value's place."""
        index = tuple(np.atleast_1d(index))
        if self.origin is None:
            return f"data set {self.name!r}: " + Origin(Path(), "npz").place(array, index)
        return f"{self.origin.path}: {self.origin.place(array, index)}"


def class_mapping(dataset: Dataset) -> list[tuple[str, int]]:
    """(label as written in the data, class id) for every class, when the labels are not
    already the ids 0..n-1 (1..3, {0, 5, 9}, -1/0/1, cat/dog); else []."""
    names = [str(c) for c in dataset.classes]
    if dataset.task != CLASSIFICATION or names == [str(i) for i in range(len(names))]:
        return []
    return [(name, i) for i, name in enumerate(names)]


def _label_name(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def as_classes(labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Class ids 0..n-1 for labels of any values: the sorted distinct labels are the classes,
    in order, and keep their own names (labels 1..3 -> ids 0..2 named '1'..'3'; -1 stays the
    first class, never the last as negative indexing would make it)."""
    values, ids = np.unique(labels, return_inverse=True)
    return ids.reshape(np.shape(labels)).astype(np.int64), [_label_name(v) for v in values]


def check_finite(dataset: Dataset) -> None:
    """NaN or infinity anywhere in x or y is named by its place: one such value makes every
    loss it touches NaN (and, in the test split only, a run that 'finishes' with loss nan)."""
    for array, values in (("x", dataset.x), ("y", dataset.y)):
        if values.dtype.kind not in "fc":
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            index = tuple(np.argwhere(bad)[0])
            raise DataError(f"{dataset.where(array, index)}: {values[index]} is not a finite "
                            f"number (NaN or infinity): remove or fill in that value.")


# -- built-in data sets ---------------------------------------------------------------------------

BUILTIN: dict[str, tuple[str, Callable[[int], Dataset]]] = {}


def builtin(name: str, description: str):
    def register(fn):
        BUILTIN[name] = (description, fn)
        return fn
    return register


@builtin("digits", "8x8 grey images of hand-written digits 0-9 (1,797 samples, scikit-learn).")
def _digits(seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    d = load_digits()
    return Dataset("digits", d.images.astype(np.float32)[..., None], d.target.astype(np.int64),
                   CLASSIFICATION, [str(i) for i in range(10)], BUILTIN["digits"][0])


@builtin("iris", "Four flower measurements, three iris species (150 samples, scikit-learn).")
def _iris(seed: int) -> Dataset:
    from sklearn.datasets import load_iris
    d = load_iris()
    return Dataset("iris", d.data.astype(np.float32), d.target.astype(np.int64), CLASSIFICATION,
                   list(d.target_names), BUILTIN["iris"][0])


def _truth_table(name: str, fn) -> Dataset:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([fn(int(a), int(b)) for a, b in x], dtype=np.int64)
    return Dataset(name, x, y, CLASSIFICATION, ["0", "1"], BUILTIN[name][0])


@builtin("xor", "The four points of XOR: not linearly separable.")
def _xor(seed: int) -> Dataset:
    return _truth_table("xor", lambda a, b: a ^ b)


@builtin("and", "The four points of AND: linearly separable.")
def _and(seed: int) -> Dataset:
    return _truth_table("and", lambda a, b: a & b)


@builtin("or", "The four points of OR: linearly separable.")
def _or(seed: int) -> Dataset:
    return _truth_table("or", lambda a, b: a | b)


@builtin("spirals", "Two interleaved spirals in the plane (600 points): needs a deep network.")
def _spirals(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    n = 300
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.02, (2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.int64)
    return Dataset("spirals", x.astype(np.float32), y, CLASSIFICATION, ["0", "1"],
                   BUILTIN["spirals"][0])


@builtin("moons", "Two interleaving half circles (500 points, scikit-learn).")
def _moons(seed: int) -> Dataset:
    from sklearn.datasets import make_moons
    x, y = make_moons(500, noise=0.15, random_state=seed)
    return Dataset("moons", x.astype(np.float32), y.astype(np.int64), CLASSIFICATION, ["0", "1"],
                   BUILTIN["moons"][0])


@builtin("circles", "A circle inside a ring (500 points, scikit-learn).")
def _circles(seed: int) -> Dataset:
    from sklearn.datasets import make_circles
    x, y = make_circles(500, noise=0.08, factor=0.5, random_state=seed)
    return Dataset("circles", x.astype(np.float32), y.astype(np.int64), CLASSIFICATION,
                   ["0", "1"], BUILTIN["circles"][0])


@builtin("sine", "Noisy sine waves: from 30 steps, forecast the next value (1,000 windows).")
def _sine(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    n, steps = 1000, 30
    freq = rng.uniform(0.1, 0.3, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    t = np.arange(steps + 1)[None, :]
    wave = np.sin(freq * t + phase) + rng.normal(0, 0.05, (n, steps + 1))
    return Dataset("sine", wave[:, :steps, None].astype(np.float32),
                   wave[:, steps:].astype(np.float32), REGRESSION, [], BUILTIN["sine"][0])


@builtin("sentiment", "Token sequences (20 ids from a 100-word vocabulary): positive when "
                      "'good' words (1-10) outnumber 'bad' ones (11-20). 2,000 samples.")
def _sentiment(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    n, steps, vocab = 2000, 20, 100
    x = rng.integers(21, vocab, (n, steps))
    for i in range(n):
        k = rng.integers(1, 6)
        pos = rng.choice(steps, size=2 * k, replace=False)
        good = rng.integers(0, 2 * k + 1)
        x[i, pos[:good]] = rng.integers(1, 11, good)
        x[i, pos[good:]] = rng.integers(11, 21, 2 * k - good)
    goods = ((x >= 1) & (x <= 10)).sum(1)
    bads = ((x >= 11) & (x <= 20)).sum(1)
    y = (goods > bads).astype(np.int64)
    return Dataset("sentiment", x.astype(np.int32), y, CLASSIFICATION, ["negative", "positive"],
                   BUILTIN["sentiment"][0])


@builtin("recall", "Long memory: 50 steps of random symbols (4 kinds, one-hot) and a marker "
                   "channel that flags one step; the label is the flagged symbol, 0 to 49 steps "
                   "back. LSTMs and GRUs learn it; a SimpleRNN stays at chance (5,000 samples).")
def _recall(seed: int) -> Dataset:
    x, y = marked_recall(seed)
    return Dataset("recall", x, y, CLASSIFICATION, [str(i) for i in range(x.shape[-1] - 1)],
                   BUILTIN["recall"][0])


def marked_recall(seed: int, steps: int = 50, n: int = 5000,
                  symbols: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """x (n, steps, symbols + 1): a one-hot symbol at every step, the last channel marks one step
    (uniformly placed); y (n,): the marked symbol.

    Every step shows a symbol, so the network must store the flagged one when the marker comes
    and then hold it unchanged through the later symbols: a gate's job. With the NumPy backend
    (the memory_* samples' settings, seeds 0-4) a SimpleRNN learns this over 10 steps (>= 99.8%),
    partly over 20 (28-62%), not over 50 (24-30%), where LSTMs and GRUs reach 100%. The marker's
    position is uniform: with long lags only (marker in the first 30 of 60 steps) the gated
    cells too learned late or not at all."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, symbols, (n, steps))
    marked = rng.integers(0, steps, n)
    x = np.zeros((n, steps, symbols + 1), dtype=np.float32)
    x[..., :symbols] = np.eye(symbols, dtype=np.float32)[ids]
    x[np.arange(n), marked, symbols] = 1
    return x, ids[np.arange(n), marked].astype(np.int64)


@builtin("reverse", "Sequence to sequence: 6 random digits (token ids 0-9); the target is the "
                    "same digits reversed, one class per time step (5,000 samples).")
def _reverse(seed: int) -> Dataset:
    return _reversed_digits("reverse", seed, steps=6)


@builtin("reverse_long", "Sequence to sequence, longer: 16 random digits (token ids 0-9); the "
                         "target is the same digits reversed, one class per time step (5,000 "
                         "samples). Too long for one encoder vector; attention solves it.")
def _reverse_long(seed: int) -> Dataset:
    return _reversed_digits("reverse_long", seed, steps=16)


#: the Input ids the teacher-forcing data sets feed: the sequence read, and the decoder's input
TEACHER_INPUTS = ("encoder_in", "decoder_in")


@builtin("reverse_teacher", "Sequence to sequence with teacher forcing: the reverse data set "
                            "for a network with two Inputs: encoder_in reads the 6 digits, "
                            "decoder_in the target shifted right by one step (start token 10, "
                            "then the reversed digits but the last); the target is the reversed "
                            "digits, one class per time step (5,000 samples).")
def _reverse_teacher(seed: int) -> Dataset:
    return teacher_forced(_reversed_digits("reverse", seed, steps=6), "reverse_teacher")


@builtin("reverse_long_teacher", "Sequence to sequence with teacher forcing, 16 digits: as "
                                 "reverse_teacher (Inputs encoder_in and decoder_in, start token "
                                 "10) on the reverse_long data set.")
def _reverse_long_teacher(seed: int) -> Dataset:
    return teacher_forced(_reversed_digits("reverse_long", seed, steps=16),
                          "reverse_long_teacher")


def start_token(dataset: Dataset) -> int:
    """The token a teacher-forced decoder input starts with: one past the data set's classes."""
    return len(dataset.classes)


def teacher_forced(dataset: Dataset, name: str) -> Dataset:
    """A sequence data set (x: token ids, y: one class per step) for a decoder trained with
    teacher forcing: arrays encoder_in (x), decoder_in (y shifted right by one step, starting
    with `start_token`: the decoder reads the previous right token at each step) and y."""
    shifted = np.empty_like(dataset.y, dtype=np.int32)
    shifted[:, 0] = start_token(dataset)
    shifted[:, 1:] = dataset.y[:, :-1]
    encoder, decoder = TEACHER_INPUTS
    return dataclass_replace(dataset, name=name, description=BUILTIN[name][0],
                             arrays={encoder: dataset.x, decoder: shifted, "y": dataset.y})


def _reversed_digits(name: str, seed: int, steps: int, n: int = 5000) -> Dataset:
    rng = np.random.default_rng(seed)
    digits = 10
    x = rng.integers(0, digits, (n, steps))
    return Dataset(name, x.astype(np.int32), x[:, ::-1].astype(np.int64), CLASSIFICATION,
                   [str(i) for i in range(digits)], BUILTIN[name][0])


#: built-in sets whose token ids name words: name -> () -> (words, topics), known without
#: generating the set (the Embeddings tab asks after every edit)
VOCABULARY: dict[str, Callable[[], tuple[list, list]]] = {}


@builtin("topic_words", "Word vectors, skip-gram: a generated corpus of 1,200 eight-word "
                        "sentences, each about one of 4 topics (12 words each) with 6 shared "
                        "function words; one sample per (centre word, context word within 2) "
                        "pair: the input is the centre word's id, the class the context word "
                        "(54-word vocabulary).")
def _topic_words(seed: int) -> Dataset:
    corpus = topic_corpus.generate(seed)
    x, y = topic_corpus.skipgram_pairs(corpus.sentences)
    return Dataset("topic_words", x, y, CLASSIFICATION, list(corpus.words),
                   BUILTIN["topic_words"][0], tokens=list(corpus.words),
                   token_topics=list(corpus.topics))


@builtin("topic_words_cbow", "Word vectors, CBOW: the corpus of topic_words; the input is the "
                             "4 words around a centre word (2 each side), the class the centre "
                             "word (54-word vocabulary).")
def _topic_words_cbow(seed: int) -> Dataset:
    corpus = topic_corpus.generate(seed)
    x, y = topic_corpus.cbow_pairs(corpus.sentences)
    return Dataset("topic_words_cbow", x, y, CLASSIFICATION, list(corpus.words),
                   BUILTIN["topic_words_cbow"][0], tokens=list(corpus.words),
                   token_topics=list(corpus.topics))


VOCABULARY["topic_words"] = VOCABULARY["topic_words_cbow"] = topic_corpus.vocabulary


# -- files ----------------------------------------------------------------------------------------

def _cell_lengths(line: str, delimiter: str = ",", quote: str = '"') -> list[int]:
    """The length of each cell of one CSV line (quotes understood), to find the cell the csv
    module refused as too large: its error names neither the cell nor its column."""
    lengths, n, quoted = [], 0, False
    for ch in line.rstrip("\r\n"):
        if ch == quote:
            quoted = not quoted
        elif ch == delimiter and not quoted:
            lengths.append(n)
            n = 0
        else:
            n += 1
    return lengths + [n]


def _too_large_cell(path: Path, line_no: int, header: list) -> str:
    """'line 3, column 'b'' for the first cell over the csv module's limit on that line."""
    limit = csv.field_size_limit()
    with path.open(newline="") as f:
        for k, line in enumerate(f, start=1):
            if k == line_no:
                big = next((j for j, n in enumerate(_cell_lengths(line)) if n > limit), None)
                if big is not None and big < len(header):
                    return f"line {line_no}, column {header[big]!r}"
                break
    return f"line {line_no}"


def _load_csv(path: Path) -> Dataset:
    """Last column (or one named label/target/class/y) is the target; the rest are features.

    Labels that are all whole numbers (and few distinct ones) or all text are classes: the
    sorted distinct labels become the class ids 0..n-1 and keep their names; other numbers
    are regression targets. Every fault is named with its line and column."""
    rows, lines, header = [], [], None
    try:
        with path.open(newline="") as f:
            reader = csv.reader(f)
            try:
                for row in reader:
                    if row and any(c.strip() for c in row):
                        rows.append(row)
                        lines.append(reader.line_num)
                        if header is None:
                            header = row
            except csv.Error as e:
                # the csv module refuses cells over its limit (128 KB): one number or label
                # per cell never comes near it, so the file is not the data it claims to be
                where = (_too_large_cell(path, reader.line_num, header or [])
                         if "field larger" in str(e) else f"line {reader.line_num}")
                raise DataError(f"{path}: {where}: cannot read it as CSV ({e}); a cell holds "
                                f"one number or label") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header line and at least one row")
    header, body, lines = rows[0], rows[1:], lines[1:]
    target, feats = csv_columns(header)
    origin = Origin(path, "csv", lines, [header[i] for i in feats] + [header[target]])
    x = np.empty((len(body), len(feats)), dtype=np.float32)
    labels = []
    for k, (line, row) in enumerate(zip(lines, body)):
        x[k] = csv_features(path, line, row, header, feats)
        labels.append(row[target].strip())
    numbers = []
    for label in labels:
        try:
            numbers.append(float(label))
        except ValueError:
            numbers.append(None)
    text = [k for k, v in enumerate(numbers) if v is None]
    described = f"CSV file {path.name}"
    if text and len(text) < len(labels):
        # mostly numbers with a few words: a typo or a stray note, not text classes
        k = text[0]
        raise DataError(f"{path}: line {lines[k]}, column {header[target]!r}: "
                        f"{_short(labels[k])} is not a number, but the other labels are")
    if text:
        y, classes = as_classes(np.array(labels))
        dataset = Dataset(path.stem, x, y, CLASSIFICATION, classes, described, origin)
    else:
        y = np.array(numbers, dtype=np.float32)
        dataset = Dataset(path.stem, x, y[:, None], REGRESSION, [], described, origin)
        check_finite(dataset)
        if whole_number_classes(y):
            ids, classes = as_classes(y)
            dataset = Dataset(path.stem, x, ids, CLASSIFICATION, classes, described, origin)
    check_finite(dataset)
    return dataset


def csv_columns(header: list) -> tuple[int, list[int]]:
    """(label column, feature columns) of a CSV header: the column named label / target /
    class / y, else the last one."""
    names = [h.strip().lower() for h in header]
    target = next((i for i, h in enumerate(names) if h in ("label", "target", "class", "y")),
                  len(header) - 1)
    return target, [i for i in range(len(header)) if i != target]


def csv_features(path: Path, line: int, row: list, header: list, feats: list) -> list:
    """One CSV row's feature values as numbers (a sentence naming the line and column when a
    value is not a number or the row is short)."""
    if len(row) != len(header):
        raise DataError(f"{path}: line {line} has {len(row)} values, the header has "
                        f"{len(header)}")
    out = []
    for i in feats:
        try:
            out.append(float(row[i]))
        except ValueError:
            raise DataError(f"{path}: line {line}, column {header[i]!r}: "
                            f"{_short(row[i])} is not a number") from None
    return out


def whole_number_classes(y: np.ndarray) -> bool:
    """Numeric labels that read as classes: all whole numbers, and few distinct ones."""
    return bool(np.all(y == np.round(y))) and len(np.unique(y)) <= max(20, len(y) // 10)


def _short(value: str, limit: int = 40) -> str:
    """A cell's text for a message, cut short when long."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


KIND_NAMES = {"U": "text", "S": "bytes", "O": "Python objects", "c": "complex numbers",
              "M": "dates", "m": "time spans", "V": "records"}


def _load_npz(path: Path) -> Dataset:
    """Arrays x (one sample per entry along the first axis) and y. Integer or text labels (1-D)
    are classes, mapped to ids 0..n-1 in sorted order; float labels are regression targets."""
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = {k.lower(): k for k in data.files}
            if not data.files:
                raise DataError(f"{path}: holds no arrays: it needs arrays x and y, or one "
                                f"named after each Input and output of the network")
            if set(keys) != {"x", "y"}:
                return _named_npz(path, {k: data[k] for k in data.files})
            x, y = data[keys["x"]], data[keys["y"]]
    except (OSError, ValueError, EOFError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{path}: cannot read ({e})") from None
    for name, a in (("x", x), ("y", y)):
        if a.ndim == 0:
            raise DataError(f"{path}: array {name!r} is a single value (0-d, shape ()); it "
                            f"needs one entry per sample along its first axis")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: array 'x' holds {KIND_NAMES.get(x.dtype.kind, x.dtype)} "
                        f"(dtype {x.dtype}), where numbers belong; e.g. sample 0 is "
                        f"{_short(str(x.reshape(len(x), -1)[0, :1].tolist()))}")
    if y.dtype.kind not in "biufUS":
        raise DataError(f"{path}: array 'y' holds {KIND_NAMES.get(y.dtype.kind, y.dtype)} "
                        f"(dtype {y.dtype}), where numbers or class names belong")
    if len(x) != len(y):
        raise DataError(f"{path}: x has {len(x)} samples but y has {len(y)}")
    origin = Origin(path, "npz")
    described = f"NPZ file {path.name}"
    if y.dtype.kind in "US" or (y.dtype.kind in "iu" and y.ndim == 1):
        ids, classes = as_classes(y)
        dataset = Dataset(path.stem, x, ids, CLASSIFICATION, classes, described, origin)
    else:
        dataset = Dataset(path.stem, x, y.astype(np.float32), REGRESSION, [], described,
                          origin)
    check_finite(dataset)
    return dataset


def _named_npz(path: Path, arrays: dict) -> Dataset:
    """An NPZ file of arrays named after the network's Input and output ids (several inputs or
    targets; "x" / "y" may stand for a lone Input / output): which array is a sample and which
    a target is decided by the design (`prepare_network`). Every array needs one entry per
    sample along its first axis, numbers (or class names), and finite values."""
    lengths = {}
    for name, a in arrays.items():
        if a.ndim == 0:
            raise DataError(f"{path}: array {name!r} is a single value (0-d, shape ()); it "
                            f"needs one entry per sample along its first axis")
        if a.dtype.kind not in "biufUS":
            raise DataError(f"{path}: array {name!r} holds "
                            f"{KIND_NAMES.get(a.dtype.kind, a.dtype)} (dtype {a.dtype}), where "
                            f"numbers or class names belong")
        lengths[name] = len(a)
        if a.dtype.kind in "fc":
            bad = ~np.isfinite(a)
            if bad.any():
                index = tuple(int(k) for k in np.argwhere(bad)[0])
                raise DataError(f"{path}: {Origin(path, 'npz').place(name, index)}: "
                                f"{a[index]} is not a finite number (NaN or infinity): remove "
                                f"or fill in that value.")
    check_rows(lengths, str(path))
    first = next(iter(arrays.values()))
    return Dataset(path.stem, first, first, "", [], f"NPZ file {path.name} (arrays "
                   f"{', '.join(arrays)})", Origin(path, "npz"), arrays=dict(arrays))


def check_rows(lengths: dict, where: str) -> None:
    """Every array of a data set has one row per sample: a DataError naming two that differ."""
    (first, n), *rest = lengths.items()
    for name, k in rest:
        if k != n:
            raise DataError(f"{where}: array {name!r} has {k} samples but {first!r} has {n}: "
                            f"every array needs one row per sample, in the same order.")


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


#: the most pixels one image may have (about 5000 x 5000), set as Pillow's own limit: Pillow
#: warns above it and refuses twice that (a decompression bomb: a small file that claims an
#: enormous picture); both become a sentence naming the file
MAX_IMAGE_PIXELS = 25_000_000


def open_image(f: Path, decode: bool = True):
    """The image in `f`, decoded (grey images as L, the others as RGB); with decode=False only
    its header is read: (size, grey)."""
    from PIL import Image, UnidentifiedImageError
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    # os.path, not Path: pathlib interns every name it parses, for good (a streamed folder
    # opens each of its files once per epoch)
    if not os.path.isfile(f):
        raise DataError(f"{f}: not a regular file ({_file_kind(Path(f))}); not opened")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as im:
                if not decode:
                    return im.size, im.mode in ("L", "1")
                return im.convert("RGB") if im.mode not in ("L", "1") else im.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{f}: the image is larger than the limit of {MAX_IMAGE_PIXELS:,} "
                        f"pixels per image, not loaded ({e}); shrink it") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        raise DataError(f"{f}: not a readable image ({e})") from None


def image_files(path: Path) -> tuple[list, list]:
    """([(file name, class id)], class names) of an image folder: one sub-folder per class,
    files in name order."""
    classes = sorted(p.name for p in path.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{path}: an image folder needs one sub-folder per class")
    # names as text, not Path objects (a Path takes about ten times the memory of its text,
    # which counts for a streamed folder of 100,000 images)
    files = [(os.path.join(path, c, f), i) for i, c in enumerate(classes)
             for f in sorted(os.listdir(path / c))
             if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES]
    if not files:
        raise DataError(f"{path}: no images found in its class folders ({', '.join(classes)})")
    return files, classes


def image_array(im, size: tuple, grey: bool) -> np.ndarray:
    """A decoded image as float32 (height, width, channels): RGB unless every image of the
    set is grey, resized to the set's `size`."""
    im = im if grey or im.mode == "RGB" else im.convert("RGB")
    if im.size != size:
        im = im.resize(size)
    x = np.asarray(im, dtype=np.float32)
    return x[..., None] if grey else x


def read_image(f: str, size: tuple, grey: bool) -> np.ndarray:
    """`image_array(open_image(f), size, grey)` for one image of a streamed set, whose header
    was checked already: no file-kind check and no warnings filter on this per-sample path (a
    third of its time); an image that fails to decode is named as `open_image` names it."""
    from PIL import Image
    try:
        with Image.open(f) as im:
            if im.mode in ("L", "1"):
                im = im.convert("L")
                if not grey:
                    im = im.convert("RGB")
            elif im.mode != "RGB":
                im = im.convert("RGB")
            else:
                im.load()
            return image_array(im, size, grey)
    except Exception:                       # say which file, and why, as open_image does
        return image_array(open_image(f), size, grey)


def image_set_description(path: Path, n: int, classes: list) -> str:
    return f"Image folder {path.name}: {n} images, {len(classes)} classes"


def _load_image_folder(path: Path) -> Dataset:
    """One sub-folder per class, images inside; all are resized to the most common size."""
    from collections import Counter
    files, classes = image_files(path)
    images = [open_image(f) for f, _ in files]
    grey = all(im.mode == "L" for im in images)
    size = Counter(im.size for im in images).most_common(1)[0][0]
    x = np.stack([image_array(im, size, grey) for im in images])
    y = np.array([i for _, i in files], dtype=np.int64)
    return Dataset(path.name, x, y, CLASSIFICATION, classes,
                   image_set_description(path, len(files), classes),
                   Origin(path, "images", files=[f for f, _ in files]))


def _file_kind(path: Path) -> str:
    """What a path that is not a regular file or folder is, from its mode (never opened)."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        return f"cannot inspect it: {e.strerror}"
    for test, kind in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def load(name: str, base_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """A built-in data set by name, a .csv / .npz file, or a folder of images (one sub-folder
    per class), relative to `base_dir`."""
    if not name:
        raise DataError("no data set chosen: pick one in the training settings")
    if name in BUILTIN:
        return BUILTIN[name][1](seed)
    path = Path(name)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if not path.exists():
        raise DataError(f"unknown data set {name!r}: not one of {', '.join(BUILTIN)}, and no "
                        f"file {path}")
    if not (path.is_file() or path.is_dir()):
        # reading a FIFO or a device blocks until someone writes, or never ends: refuse it by
        # its mode, without opening it
        raise DataError(f"{path}: {_file_kind(path)}, not a data file or folder; not opened")
    if path.suffix.lower() == ".csv":
        return _load_csv(path)
    if path.suffix.lower() == ".npz":
        return _load_npz(path)
    if path.is_dir():
        return _load_image_folder(path)
    raise DataError(f"{path}: only .csv and .npz files and image folders can be read")


# -- preprocessing --------------------------------------------------------------------------------

@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    dataset: Dataset
    scaling: dict = field(default_factory=dict)   # what was fitted on the training split
    #: several Inputs or outputs (`prepare_network`): their ids, in the order of the lists
    #: x_* (and y_*) hold; with one Input (output) x (y) stays one array
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)

    @property
    def multi(self) -> bool:
        """Whether x or y are lists of arrays (a network with several Inputs or outputs)."""
        return isinstance(self.x_train, list) or isinstance(self.y_train, list)

    def summary(self) -> str:
        n = len(as_list(self.x_train)[0])
        parts = f"{self.dataset.name}: train {n}, validation {len(as_list(self.x_val)[0])}, " \
                f"test {len(as_list(self.x_test)[0])}; "
        if not self.multi:
            return parts + (f"samples {tuple(self.x_train.shape[1:])}, targets "
                            f"{tuple(self.y_train.shape[1:])}")
        ins = ", ".join(f"{name} {tuple(x.shape[1:])}"
                        for name, x in zip(self.inputs, as_list(self.x_train)))
        outs = ", ".join(f"{name} {tuple(y.shape[1:])}"
                         for name, y in zip(self.outputs, as_list(self.y_train)))
        return parts + f"inputs {ins}; targets {outs}"


def fit_shape(x: np.ndarray, shape: tuple, what: str, node: str) -> np.ndarray:
    """Reshape samples to a layer's shape when the sizes agree ((64,) <-> (8, 8, 1))."""
    sample = tuple(x.shape[1:])
    if sample == tuple(shape):
        return x
    known = [d for d in shape if d is not None]
    if None not in shape and int(np.prod(sample)) == int(np.prod(known)):
        return x.reshape((len(x),) + tuple(shape))
    if None in shape and len(shape) == len(sample) and all(
            d is None or d == s for d, s in zip(shape, sample)):
        return x
    raise DataError(f"The {what} has samples of shape {sample}, but {node} expects "
                    f"{tuple(shape)}: change the layer's shape or pick other data.")


def split_indices(n: int, validation: float, test: float, seed: int):
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_test = int(round(n * test))
    n_val = int(round(n * validation))
    if n - n_test - n_val < 1:
        raise DataError(f"{n} samples leave nothing to train on after the validation and test "
                        f"splits")
    return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]


def prepare(dataset: Dataset, settings: dict, input_shape: tuple, output_shape: tuple | None,
            input_node: str = "the Input layer", output_node: str = "the output layer") -> Split:
    """Split, scale, reshape and encode a data set for a network with one input and output.

    When the split fractions leave no validation or test data (XOR's four points), the
    training data stands in for them. `output_shape` None (GAN mode: real samples only) keeps
    the labels as they are, unencoded."""
    seed = settings.get("seed", 0)
    if output_shape is not None and settings.get("mode") not in RECONSTRUCTION_MODES:
        dataset = targets_for_loss(dataset, settings.get("loss", ""))
    if isinstance(dataset.x, Rows):
        return _streamed_split(dataset, settings, input_shape, output_shape, input_node,
                               output_node)
    x = dataset.x
    x = fit_shape(x, input_shape, f"data set {dataset.name!r}", input_node)
    train, val, test = split_indices(len(x), settings.get("validation_split", 0.15),
                                     settings.get("test_split", 0.15), seed)
    if not len(val):
        val = train
    if not len(test):
        test = train
    x = x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x
    scaling, scale = {}, None
    mode = settings.get("normalize", "none")
    if mode != "none" and np.issubdtype(x.dtype, np.floating):
        scaling, scale = fit_scaling(mode, stats_chunks(x, train))
        x = scale(x)
    if settings.get("mode") in RECONSTRUCTION_MODES and output_shape is not None:
        return _reconstruction_split(dataset, x, (train, val, test), settings, output_shape,
                                     output_node, scaling)
    y = (dataset.y if output_shape is None
         else encode_targets(dataset, settings, output_shape, output_node))
    x_train, y_train = augment(x[train], y[train], settings, np.random.default_rng([seed, 7]))
    return Split(x_train, y_train, x[val], y[val], x[test], y[test], dataset, scaling)


def prepare_network(dataset: Dataset, settings: dict, inputs: dict, outputs: dict) -> Split:
    """Split, scale, reshape and encode a data set for a network's Inputs and outputs (each
    {node id: shape}, in the network's order). One Input and one output fed by a data set's x
    and y is `prepare` itself; otherwise (several Inputs or outputs, or a data set of named
    arrays) every Input and output gets the array named after its id, see `match_arrays`."""
    if (not dataset.arrays and len(inputs) == 1 and len(outputs) == 1
            and not str(settings.get("arrays", "")).strip()):
        (input_node, input_shape), = inputs.items()
        (output_node, output_shape), = outputs.items()
        return prepare(dataset, settings, input_shape, output_shape, input_node, output_node)
    return _named_split(dataset, settings, inputs, outputs)


def array_choices(text: str, nodes: list) -> dict:
    """{node id: array name} from the training setting `arrays` ("input_1=encoder_in,
    input_2=decoder_in"); a DataError names a pair that is not node=array, or a node the
    network does not have."""
    chosen = {}
    for pair in filter(None, (p.strip() for p in str(text or "").split(","))):
        node, sep, name = (part.strip() for part in pair.partition("="))
        if not sep or not node or not name:
            raise DataError(f"training setting arrays: {pair!r} is not node=array (e.g. "
                            f"input_1=encoder_in)")
        if node not in nodes:
            raise DataError(f"training setting arrays: {node!r} is no Input or output of the "
                            f"network (they are {', '.join(nodes)})")
        chosen[node] = name
    return chosen


def match_arrays(dataset: Dataset, inputs: list, outputs: list,
                 chosen: dict | None = None) -> tuple[dict, dict]:
    """({Input id: array name}, {output id: array name}): each Input and output takes the
    array `chosen` for it (the training setting `arrays`, see `array_choices`), else the data
    set's array of its own id; "x" feeds a network's only Input and "y" its only output when
    no array has their id. A missing or unused array is a DataError naming it."""
    arrays = dataset.arrays or {"x": dataset.x, "y": dataset.y}
    where = f"data set {dataset.name!r}"
    used = set()
    chosen = chosen or {}

    def pick(ids: list, fallback: str, kind: str) -> dict:
        found = {}
        for node in ids:
            if node in chosen:
                if chosen[node] not in arrays:
                    raise DataError(f"{where} has no array named {chosen[node]!r}, which the "
                                    f"training setting arrays gives the {kind} {node} (its "
                                    f"arrays: {', '.join(arrays)}).")
                name = chosen[node]
            else:
                name = node if node in arrays else (
                    fallback if len(ids) == 1 and fallback in arrays else None)
            if name is None or name in used:
                teacher = f"{dataset.name}_teacher"
                hint = (f"; for teacher forcing pick the data set {teacher!r}, whose arrays "
                        f"{TEACHER_INPUTS[0]} and {TEACHER_INPUTS[1]} feed the Inputs of those "
                        f"ids (or those the setting arrays names)"
                        if teacher in BUILTIN else "")
                if name in used:
                    raise DataError(f"{where}: array {name!r} feeds two nodes; give the {kind} "
                                    f"{node} its own array (training setting arrays).")
                raise DataError(f"{where} has no array named {node!r} for the {kind} {node} "
                                f"(its arrays: {', '.join(arrays)}): a network with several "
                                f"Inputs or outputs needs one array named after each of them, "
                                f"or the training setting arrays (e.g. {node}="
                                f"{next(iter(arrays))})" + hint + ".")
            used.add(name)
            found[node] = name
        return found
    ins, outs = pick(list(inputs), "x", "Input"), pick(list(outputs), "y", "output")
    extra = [name for name in arrays if name not in used]
    if extra:
        raise DataError(f"{where}: array {extra[0]!r} matches no Input or output of the network "
                        f"(Inputs: {', '.join(inputs)}; outputs: {', '.join(outputs)}): name "
                        f"it after one of them, or remove it from the data set.")
    return ins, outs


def _target_set(dataset: Dataset, name: str, values: np.ndarray) -> Dataset:
    """The data set with one named array as its targets: the data set's own task and classes
    for its y; text, whole-number or boolean labels (one per sample or per time step) as
    classes 0..n-1; floats as regression targets."""
    if values is dataset.y and dataset.task:
        return dataclass_replace(dataset, arrays={})
    if values.dtype.kind in "USbiu" and values.ndim <= 2:
        ids, classes = as_classes(values)
        return dataclass_replace(dataset, y=ids, task=CLASSIFICATION, classes=classes,
                                 arrays={})
    return dataclass_replace(dataset, y=values.astype(np.float32), task=REGRESSION, classes=[],
                             arrays={})


def _named_split(dataset: Dataset, settings: dict, inputs: dict, outputs: dict) -> Split:
    """`prepare_network` for several Inputs or outputs: one split of the samples for every
    array (so shuffling and batching keep their rows together), each Input's array reshaped
    and scaled on its own (statistics of the training split), each target encoded for its
    output."""
    where = f"data set {dataset.name!r}"
    if isinstance(dataset.x, Rows) or any(isinstance(a, Rows) for a in dataset.arrays.values()):
        raise DataError(f"{where} is streamed from disk, and a network with several Inputs or "
                        f"outputs trains from data in memory only: set streaming to off.")
    mode = settings.get("mode")
    if mode in RECONSTRUCTION_MODES:
        raise DataError(f"the {mode} mode trains a network with one Input and one output; this "
                        f"one has {len(inputs)} Inputs and {len(outputs)} outputs.")
    if int(settings.get("augment_copies", 0) or 0) > 0:
        raise DataError(f"augmentation (augment_copies) works on a network with one Input and "
                        f"one output; set augment_copies to 0 for this one.")
    in_names, out_names = match_arrays(
        dataset, list(inputs), list(outputs),
        array_choices(settings.get("arrays", ""), [*inputs, *outputs]))
    arrays = dataset.arrays or {"x": dataset.x, "y": dataset.y}
    check_rows({name: len(arrays[name]) for name in [*in_names.values(), *out_names.values()]},
               where)
    n = len(arrays[next(iter(in_names.values()))])
    seed = settings.get("seed", 0)
    train, val, test = split_indices(n, settings.get("validation_split", 0.15),
                                     settings.get("test_split", 0.15), seed)
    if not len(val):
        val = train
    if not len(test):
        test = train
    normalize = settings.get("normalize", "none")
    xs, scalings = [], {}
    for node, shape in inputs.items():
        name = in_names[node]
        x = fit_shape(arrays[name], shape, f"array {name!r} of {where}", f"the Input {node}")
        if np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float32)
            if normalize != "none":
                scalings[node], scale = fit_scaling(normalize, stats_chunks(x, train))
                x = scale(x)
        xs.append(x)
    ys, first = [], None
    for node, shape in outputs.items():
        name = out_names[node]
        targets = _target_set(dataset, name, arrays[name])
        targets = targets_for_loss(targets, settings.get("loss", ""))
        first = first or dataclass_replace(targets, x=arrays[next(iter(in_names.values()))],
                                           arrays=dict(arrays))
        ys.append(encode_targets(targets, settings, shape, f"the output {node}"))

    def part(values: list, idx):
        return values[0][idx] if len(values) == 1 else [v[idx] for v in values]
    scaling = (next(iter(scalings.values())) if len(inputs) == 1 and scalings
               else scalings)
    return Split(part(xs, train), part(ys, train), part(xs, val), part(ys, val), part(xs, test),
                 part(ys, test), first, scaling, list(inputs), list(outputs))


def _streamed_split(dataset: Dataset, settings: dict, input_shape: tuple,
                    output_shape: tuple | None, input_node: str, output_node: str) -> Split:
    """`prepare` for a streamed data set (its x are `Rows`): the same split, scaling (fitted
    in one pass over the training split), reshaping and target encoding as for data in memory,
    applied batch by batch as the rows are read, so both give the same batches."""
    rows = dataset.x
    reconstruction = settings.get("mode") in RECONSTRUCTION_MODES and output_shape is not None
    shape = fit_shape(np.zeros((1,) + rows.sample_shape, np.float32), input_shape,
                      f"data set {dataset.name!r}", input_node).shape[1:]
    train, val, test = split_indices(len(rows), settings.get("validation_split", 0.15),
                                     settings.get("test_split", 0.15), settings.get("seed", 0))
    if not len(val):
        val = train
    if not len(test):
        test = train

    x = rows.take(None, AsFloat32(tuple(shape)), shape, np.float32)
    scaling, scale = {}, None
    mode = settings.get("normalize", "none")
    if mode != "none":
        # remembered for the same files, split and shape: the designer checks the data after
        # every edit, and this pass reads the whole training split
        source = getattr(rows, "source_key", None)
        key = source and (source, mode, shape, settings.get("seed", 0),
                          settings.get("validation_split", 0.15),
                          settings.get("test_split", 0.15))
        scaling, scale = SCALINGS.pop(key, None) or fit_scaling(mode, stats_chunks(x, train))
        if key:
            SCALINGS[key] = scaling, scale
            while len(SCALINGS) > 4:
                SCALINGS.pop(next(iter(SCALINGS)))
        x = x.take(None, scale)
    augment_rng = np.random.default_rng([settings.get("seed", 0), 7])
    if reconstruction:
        check_reconstruction(dataset, shape, output_shape, output_node)
        x_train, _ = augment_rows(x.take(train), None, settings, augment_rng)

        def target(rows):            # the target of every sample is the sample itself
            return rows.take(None, lambda v: v.reshape((len(v),) + tuple(output_shape)),
                             tuple(output_shape))
        std, seed = float(settings.get("input_noise", 0.0) or 0.0), settings.get("seed", 0)

        def with_noise(rows, part):       # the inputs get the noise, the targets do not
            if std <= 0:
                return rows
            return Rows(len(rows), rows.sample_shape, np.float32,
                        lambda idx: noisy(rows[idx], idx, std, seed, part))
        task = dataclass_replace(dataset, task=RECONSTRUCTION)
        return Split(with_noise(x_train, 0), target(x_train), with_noise(x.take(val), 1),
                     target(x.take(val)), with_noise(x.take(test), 2), target(x.take(test)),
                     task, scaling)
    labels = dataset.y
    if output_shape is None:
        y = Rows(len(labels), labels.shape[1:], labels.dtype, lambda idx: labels[idx])
    else:
        def encode(idx):
            return encode_targets(dataclass_replace(dataset, y=labels[idx]), settings,
                                  output_shape, output_node)
        first = encode(np.arange(min(1, len(labels))))       # a misfit is named now
        y = Rows(len(labels), first.shape[1:], first.dtype, encode)
    x_train, y_train = augment_rows(x.take(train), y.take(train), settings, augment_rng)
    return Split(x_train, y_train, x.take(val), y.take(val), x.take(test), y.take(test),
                 dataset, scaling)


def augment_rows(x: Rows, y: Rows | None, settings: dict, rng: np.random.Generator):
    """`augment` for streamed training rows: the same copies (the same draws, `augment_draws`)
    made as each batch is read - row k of copy c is sample k changed by copy c's draw - so
    a batch gives the same images as the augmented arrays in memory, without holding them."""
    n = len(x)
    draws = augment_draws(n, x.ndim, settings, rng)
    if not draws:
        return x, y
    total = n * (len(draws) + 1)

    def read(idx):
        copy, which = np.divmod(np.asarray(idx, np.int64), n)
        values = x[which]
        for c in np.unique(copy[copy > 0]):
            chosen = copy == c
            values[chosen] = augmented(values[chosen], draws[c - 1], which[chosen])
        return values
    rows = Rows(total, x.sample_shape, x.dtype, read)
    if y is None:
        return rows, None
    return rows, Rows(total, y.sample_shape, y.dtype, lambda idx: y[np.asarray(idx) % n])


#: scaling statistics of streamed data sets lately fitted: {key: (scaling, scale)}
SCALINGS: dict = {}

#: bytes (float32) per chunk of the scaling statistics' pass
STATS_CHUNK_BYTES = 2**20


def stats_chunks(x, train: np.ndarray):
    """The training samples in chunks of about `STATS_CHUNK_BYTES`, in ascending sample
    order: the same chunks for data in memory and streamed data (`Rows`), so that both get
    bit-identical statistics, and a streamed pass holds one chunk at a time."""
    ordered = np.sort(train)
    rows = max(1, STATS_CHUNK_BYTES // (4 * max(1, int(np.prod(x.shape[1:])))))
    report = progress.report if isinstance(x, Rows) else (lambda *a: None)   # streamed only
    for k in range(0, len(ordered), rows):
        report("scaling statistics", k, len(ordered), "samples")
        yield x[ordered[k:k + rows]]
    report("scaling statistics", len(ordered), len(ordered), "samples")


def fit_scaling(mode: str, chunks) -> tuple[dict, Callable | None]:
    """(description, scale function) of the scaling `mode` fitted in one pass over `chunks`
    of the training samples (in ascending sample order): min-max over all values, or each
    feature's mean and standard deviation (float64, chunks merged as Chan et al.)."""
    if mode == "minmax":
        lo = hi = None
        for c in chunks:
            lo = float(c.min()) if lo is None else min(lo, float(c.min()))
            hi = float(c.max()) if hi is None else max(hi, float(c.max()))
        description = {"mode": "minmax", "min": lo, "max": hi}
        return description, scaler(description)
    if mode == "standard":
        n, mean, m2 = 0, 0.0, 0.0
        for c in chunks:
            c = c.astype(np.float64)
            k = len(c)
            c_mean = c.mean(axis=0)
            c_m2 = ((c - c_mean) ** 2).sum(axis=0)
            delta = c_mean - mean
            total = n + k
            mean = mean + delta * (k / total)
            m2 = m2 + c_m2 + delta ** 2 * (n * k / total)
            n = total
        std = np.sqrt(m2 / n)
        description = {"mode": "standard", "mean": np.asarray(mean, np.float32),
                       "std": np.where(std > 0, std, 1.0).astype(np.float32)}
        return description, scaler(description)
    return {}, None


@dataclass(frozen=True)
class AsFloat32:
    """A sample step: values as float32, each sample in `shape` (what a streamed data set's
    samples are made for the network)."""
    shape: tuple

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return values.astype(np.float32, copy=False).reshape((len(values),) + self.shape)


@dataclass(frozen=True, eq=False)
class Scale:
    """A sample step: (x - subtract) / divide in float32 (`subtract` and `divide` are float32,
    one value or one per feature): a fitted min-max or standard scaling."""
    subtract: np.ndarray
    divide: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = x - self.subtract        # a new array: the caller's stays as it was
        x /= self.divide
        return x.astype(np.float32, copy=False)


#: the element-wise steps a streamed sample goes through that a backend may apply itself,
#: after reading the raw samples (`Rows.deferred`): each backend that does registers them all
SAMPLE_STEPS = (AsFloat32, Scale)


def scaler(scaling: dict) -> Scale | None:
    """The scale function of a fitted scaling (`fit_scaling`'s description, as `Split.scaling`
    keeps it): what `prepare` applies to every sample, and a sample given later (a drawn digit
    to trace) gets the same. None: no scaling."""
    mode = scaling.get("mode")
    if mode == "minmax":
        lo, hi = scaling["min"], scaling["max"]
        span = hi - lo if hi > lo else 1.0
        return Scale(np.float32(lo), np.float32(span))
    if mode == "standard":
        return Scale(np.asarray(scaling["mean"], np.float32),
                     np.asarray(scaling["std"], np.float32))
    return None


def prepare_samples(x, split: Split, input_node: str = "the Input layer") -> np.ndarray:
    """Samples given as the data set has them (raw) made what `prepare` makes of the data set's
    own for the network: reshaped to the network's input shape, float32 and scaled with the
    statistics fitted on `split`'s training samples (token ids stay whole numbers)."""
    x = np.asarray(x)
    x = fit_shape(x, tuple(split.x_test.shape[1:]), "sample", input_node)
    if np.issubdtype(x.dtype, np.integer) and np.issubdtype(split.x_test.dtype, np.integer):
        return x.astype(split.x_test.dtype)
    if np.issubdtype(x.dtype, np.floating) or np.issubdtype(split.x_test.dtype, np.floating):
        x = x.astype(np.float32)
        scale = scaler(split.scaling or {})
        if scale is not None:
            x = scale(x)
    return x


class Rows:
    """Samples read on demand (a streamed data set, `backends.datasources`): len(), shape,
    dtype, and rows[index array or slice] -> a NumPy array of those samples. np.asarray(rows)
    reads them all (for the test split's report)."""

    def __init__(self, n: int, sample_shape: tuple, dtype, read: Callable,
                 deferred: tuple | None = None):
        self.n, self.sample_shape, self.dtype, self._read = int(n), tuple(sample_shape), \
            np.dtype(dtype), read
        # (raw Rows, steps): self[idx] is raw[idx] put through the SAMPLE_STEPS in turn, so a
        # backend may read the raw samples (uint8 images: a quarter of the bytes) and apply
        # the steps itself (the Keras backend, in its tf.data pipeline); None: read self
        self.deferred = deferred

    @property
    def shape(self) -> tuple:
        return (self.n,) + self.sample_shape

    @property
    def ndim(self) -> int:
        return 1 + len(self.sample_shape)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            key = np.arange(self.n)[key]
        elif np.ndim(key) == 0:
            return self._read(np.array([int(key)]))[0]
        key = np.asarray(key)
        if key.dtype == bool:
            key = np.flatnonzero(key)
        return self._read(key.astype(np.int64))

    def __array__(self, dtype=None, copy=None):
        out = np.concatenate([self[k:k + 4096] for k in range(0, self.n, 4096)]) if self.n \
            else np.zeros(self.shape, self.dtype)
        return out if dtype is None else out.astype(dtype)

    def take(self, positions: np.ndarray | None, transform: Callable | None = None,
             sample_shape: tuple | None = None, dtype=None) -> "Rows":
        """These rows at `positions` (None: all), optionally transformed batch by batch."""
        read = self._read
        if positions is not None:
            positions = np.asarray(positions, np.int64)

        def sub(idx):
            values = read(idx if positions is None else positions[idx])
            return transform(values) if transform is not None else values
        raw, steps = self.deferred or (self, ())
        if transform is None and self.deferred is not None:
            deferred = (raw.take(positions), steps)
        elif isinstance(transform, SAMPLE_STEPS):
            deferred = (raw if positions is None else raw.take(positions), steps + (transform,))
        else:
            deferred = None                  # a transform only NumPy knows: read self
        return Rows(self.n if positions is None else len(positions),
                    self.sample_shape if sample_shape is None else sample_shape,
                    self.dtype if dtype is None else dtype, sub, deferred)


def streamed(arrays) -> bool:
    """Are any of these arrays (or lists of arrays) `Rows` read from disk?"""
    return any(isinstance(a, Rows) for a in as_list(arrays))


#: bytes of samples (float32) a streamed evaluation or prediction reads per batch
READ_BATCH_BYTES = 4 * 2**20


def read_batch(arrays, limit: int) -> int:
    """The batch size to evaluate or predict with: `limit`, or fewer when `arrays` are
    streamed and `limit` samples would take over `READ_BATCH_BYTES`."""
    arrays = as_list(arrays)
    if not streamed(arrays):
        return limit
    size = max(4 * int(np.prod(a.shape[1:])) for a in arrays)
    return max(1, min(limit, READ_BATCH_BYTES // max(1, size)))


def prefetched(read, items, depth: int = 4):
    """read(item) for each item in turn, computed ahead by a background thread (at most
    `depth` waiting): the NumPy backend reads the next batches from disk while it trains on
    this one. An error in the reader is raised here, at the item it belongs to."""
    import queue
    import threading
    done = object()
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not put((read(item), None)):
                    return
        except BaseException as e:          # handed to the consumer, raised there
            put((None, e))
            return
        put((done, None))
    thread = threading.Thread(target=work, name="batch-reader", daemon=True)
    thread.start()
    try:
        while True:
            value, error = ready.get()
            if error is not None:
                raise error
            if value is done:
                return
            yield value
    finally:
        stop.set()
        thread.join()


#: losses that compare against class ids (or their one-hot encoding)
CLASS_ID_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")


def targets_for_loss(dataset: Dataset, loss: str) -> Dataset:
    """The data set with targets a classification loss can take, or a DataError naming the
    first one it cannot: whole-number targets read as regression (an NPZ of float labels,
    a CSV with many distinct labels) become classes for a class-id loss; a fraction there,
    or a binary cross-entropy target outside [0, 1], is named by its place. (Fractions inside
    [0, 1] are soft targets binary cross-entropy takes as probabilities.)"""
    if dataset.task != REGRESSION:
        return dataset
    y = dataset.y
    if loss in CLASS_ID_LOSSES and (y.ndim == 1 or y.shape[1:] == (1,)):
        fraction = y != np.round(y)
        if fraction.any():
            index = tuple(np.argwhere(fraction)[0])
            raise DataError(f"{dataset.where('y', index)}: the label {y[index]:g} is not a "
                            f"whole number, but the loss {loss} needs class labels; pick a "
                            f"regression loss (mse) or use whole-number labels.")
        ids, classes = as_classes(y.reshape(len(y)))
        return dataclass_replace(dataset, y=ids, task=CLASSIFICATION, classes=classes)
    if loss == "binary_crossentropy":
        outside = (y < 0) | (y > 1)
        if outside.any():
            index = tuple(np.argwhere(outside)[0])
            raise DataError(f"{dataset.where('y', index)}: the target {y[index]:g} is outside "
                            f"0..1, but binary cross-entropy needs targets between 0 and 1.")
    return dataset


RECONSTRUCTION_MODES = ("autoencoder", "vae")
RECONSTRUCTION = "reconstruction"


def check_reconstruction(dataset: Dataset, sample: tuple, output_shape: tuple,
                         output_node: str) -> None:
    """An autoencoder's output must hold as many values as its input's samples."""
    if int(np.prod(sample)) != int(np.prod([d or 0 for d in output_shape])):
        raise DataError(f"An autoencoder's output must have as many values as its input: the "
                        f"samples have shape {sample} ({int(np.prod(sample))} values) but "
                        f"{output_node} gives {tuple(output_shape)}. Give the last layer "
                        f"{int(np.prod(sample))} units (or reshape it to {sample}).")


def _reconstruction_split(dataset: Dataset, x: np.ndarray, parts: tuple, settings: dict,
                          output_shape: tuple, output_node: str, scaling: dict) -> Split:
    """Autoencoder and VAE modes: the target of every sample is the sample itself (scaled,
    shaped like the output); with `input_noise` the inputs, but not the targets, get Gaussian
    noise (drawn once, seeded), so the network learns to remove it. Labels are ignored."""
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"An autoencoder reconstructs its input, but data set {dataset.name!r} "
                        f"holds integer token ids: use numeric features or images.")
    check_reconstruction(dataset, tuple(x.shape[1:]), output_shape, output_node)
    seed = settings.get("seed", 0)
    train, val, test = parts
    x_train, _ = augment(x[train], np.zeros(len(train)), settings,
                         np.random.default_rng([seed, 7]))
    noise = float(settings.get("input_noise", 0.0) or 0.0)

    def pair(clean, part):
        target = clean.reshape((len(clean),) + tuple(output_shape))
        if noise > 0:
            clean = noisy(clean, np.arange(len(clean)), noise, seed, part)
        return clean, target
    (xt, yt), (xv, yv), (xs, ys) = pair(x_train, 0), pair(x[val], 1), pair(x[test], 2)
    task = dataclass_replace(dataset, task=RECONSTRUCTION)
    return Split(xt, yt, xv, yv, xs, ys, task, scaling)


def noisy(values: np.ndarray, rows: np.ndarray, std: float, seed: int, part: int) -> np.ndarray:
    """`values` (the samples at `rows` of one part of the split: 0 training, 1 validation,
    2 test) plus Gaussian noise of standard deviation `std` (`input_noise`), as float32.
    Each row's noise comes from its own counter-based stream (Philox, keyed by the seed and
    the part, counting from the row), not from one sequence over all samples: a batch read
    from disk in any order gets exactly the noise of the same rows in memory."""
    key = np.random.SeedSequence([int(seed), 11, int(part)]).generate_state(2, np.uint64)
    noise = np.empty(values.shape, np.float64)
    for i, row in enumerate(np.asarray(rows, np.int64)):
        stream = np.random.Philox(counter=np.array([0, 0, 0, row], np.uint64), key=key)
        noise[i] = np.random.Generator(stream).standard_normal(values.shape[1:])
    return (values + std * noise).astype(np.float32)


def augment(x: np.ndarray, y: np.ndarray, settings: dict, rng: np.random.Generator):
    """Add `augment_copies` randomly flipped / shifted / rotated copies of each training image
    (samples shaped (height, width, channels)); other data is returned unchanged."""
    draws = augment_draws(len(x), x.ndim, settings, rng)
    if not draws:
        return x, y
    out_x, out_y = [x], [y]
    for draw in draws:
        out_x.append(augmented(x, draw, np.arange(len(x))))
        out_y.append(y)
    return np.concatenate(out_x), np.concatenate(out_y)


def augment_draws(n: int, ndim: int, settings: dict, rng: np.random.Generator) -> list:
    """The random choices of each augmented copy of `n` images, drawn up front: per copy
    (mirror or not, rotation angle, shift) of every image, or None where that change is off.
    Drawn in this order for data in memory and streamed data, so both get the same copies."""
    copies = int(settings.get("augment_copies", 0) or 0)
    if copies <= 0 or ndim != 4:
        return []
    flip = settings.get("augment_flip", False)
    shift = int(settings.get("augment_shift", 0) or 0)
    rotate = float(settings.get("augment_rotate", 0.0) or 0.0)
    draws = []
    for _ in range(copies):
        mirror = rng.random(n) < 0.5 if flip else None
        angles = rng.uniform(-rotate, rotate, n) if rotate else None
        shifts = rng.integers(-shift, shift + 1, (n, 2)) if shift else None
        draws.append((mirror, angles, shifts))
    return draws


def augmented(batch: np.ndarray, draw: tuple, which: np.ndarray) -> np.ndarray:
    """A copy of the images `batch` changed by one copy's `draw` (`augment_draws`) of the
    images numbered `which`: flipped, then rotated, then shifted, each image on its own."""
    from scipy import ndimage
    mirror, angles, shifts = draw
    batch = batch.copy()
    if mirror is not None:
        flipped = mirror[which]
        batch[flipped] = batch[flipped, :, ::-1]
    if angles is not None:
        for i, angle in enumerate(angles[which]):
            batch[i] = ndimage.rotate(batch[i], angle, axes=(0, 1), reshape=False,
                                      order=1, mode="constant", cval=float(batch[i].min()))
    if shifts is not None:
        for i, (dy, dx) in enumerate(shifts[which]):
            batch[i] = ndimage.shift(batch[i], (dy, dx, 0), order=0, mode="constant",
                                     cval=float(batch[i].min()))
    return batch


def encode_targets(dataset: Dataset, settings: dict, output_shape: tuple,
                   output_node: str) -> np.ndarray:
    y = dataset.y
    width = output_shape[-1] if output_shape else None
    loss = settings.get("loss", "")
    if dataset.task == CLASSIFICATION:
        n = len(dataset.classes) or int(y.max()) + 1
        if y.ndim == 2:
            return _encode_sequence_targets(y, n, loss, output_shape, output_node)
        if loss == "sparse_categorical_crossentropy":
            if width != n:
                raise DataError(f"{output_node} gives {width} values per sample but the data "
                                f"has {n} classes: give it {n} units.")
            return y.astype(np.int64)
        if width == 1 and n == 2:
            target = y.astype(np.float32)[:, None]
            return target * 2 - 1 if loss == "hinge" else target
        if settings.get("one_hot", True) or loss == "categorical_crossentropy":
            if width != n:
                raise DataError(f"{output_node} gives {width} values per sample but the data "
                                f"has {n} classes: give it {n} units (one per class).")
            return np.eye(n, dtype=np.float32)[y]
        return y.astype(np.float32)[:, None]
    target = y.astype(np.float32)
    if target.ndim == 1:
        target = target[:, None]
    if tuple(target.shape[1:]) != tuple(output_shape):
        raise DataError(f"The targets have shape {tuple(target.shape[1:])} but {output_node} "
                        f"gives {tuple(output_shape)}.")
    return target


def _encode_sequence_targets(y: np.ndarray, n: int, loss: str, output_shape: tuple,
                             output_node: str) -> np.ndarray:
    """One class per time step (y of shape (samples, steps)): the output must give (steps, n)
    per sample; targets stay class ids for the sparse loss, else become one-hot (steps, n)."""
    steps = y.shape[1]
    if tuple(output_shape) != (steps, n):
        raise DataError(f"The data has one class out of {n} at each of {steps} time steps, so "
                        f"{output_node} must give ({steps}, {n}) per sample, but it gives "
                        f"{tuple(output_shape)}: end the network with a TimeDistributed layer "
                        f"of {n} units (softmax) on a sequence of {steps} steps.")
    if loss == "sparse_categorical_crossentropy":
        return y.astype(np.int64)
    return np.eye(n, dtype=np.float32)[y]


def as_list(v) -> list:
    if v is None:
        return []
    return list(v) if isinstance(v, (list, tuple)) else [v]


def split_arrays(split) -> tuple:
    """(x_train, y_train, x_val, y_val) as lists of arrays (one per input / output), from a
    `Split`, a dict with those keys, or a tuple (x_train, y_train[, x_val, y_val])."""
    if isinstance(split, dict):
        get = split.get
    elif isinstance(split, (tuple, list)):
        parts = list(split) + [None] * (4 - len(split))
        return tuple(as_list(p) for p in parts[:4])
    else:
        def get(key):
            return getattr(split, key, None)
    return (as_list(get("x_train")), as_list(get("y_train")), as_list(get("x_val")),
            as_list(get("y_val")))


def batches(n: int, batch_size: int, rng: np.random.Generator | None):
    """Index arrays of mini-batches; shuffled when an rng is given."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
