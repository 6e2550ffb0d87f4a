"""Data sets streamed from disk: image folders, CSV files and NPZ files read as training
needs them.

    dataset = load("photos", base_dir, seed, streaming="auto")   # a Dataset; x are data.Rows
    split = data.prepare(dataset, settings, input_shape, output_shape)   # the usual Split

A streamed data set is described, not copied: the project stores its path (the `dataset`
setting) and `streaming` (auto | on | off). `load` reads what it must know up front in one pass
(the image files' headers: size and colour; a CSV file's row offsets and labels, every value
checked; an NPZ file's labels, its x mapped in place with np.memmap, which works for arrays
stored uncompressed by np.savez only) and keeps only that; the samples are decoded when a batch asks for them
(`data.Rows`). `data.prepare` then splits, scales (statistics from one streaming pass over the
training split), reshapes and encodes exactly as for data in memory, batch by batch, so a small
data set gives the same batches either way. The NumPy backend reads batches ahead in a thread
(`data.prefetched`), the Keras backend through tf.data (`backends.keras.data`).

With `streaming: auto`, data sets whose decoded size is estimated above `STREAM_BYTES` are
streamed and smaller ones loaded into memory (`data.load`); built-in data sets, compressed
NPZ files (with auto; `on` refuses them with a sentence) and NPZ files of integer x (token ids)
always load into memory. A mapped file's pages that a batch touched count in the process's
resident memory, as page cache the kernel takes back when memory runs short.
"""
from __future__ import annotations

import csv
from array import array
from collections import Counter
from pathlib import Path

import numpy as np

from netdesigner.backends import data
from netdesigner.backends.data import CLASSIFICATION, REGRESSION, DataError, Dataset, Origin, Rows

#: `streaming: auto` streams a data set whose decoded samples would take more than this
STREAM_BYTES = 512 * 2**20
STREAMING = ("auto", "on", "off")
#: CSV rows checked together for values that are not finite
CHECK_ROWS = 1024


def resolve(name: str, base_dir) -> Path:
    path = Path(name)
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def streamable(path: Path) -> bool:
    return (path.is_dir() or (path.is_file() and path.suffix.lower() in (".csv", ".npz")))


def estimated_bytes(path: Path) -> int:
    """About how many bytes the decoded samples would take in memory, without reading them:
    an image folder's file count times the first image's decoded size; a CSV file's size
    (a value written as text takes about as many bytes as its float32 does, or more); an NPZ
    file's x array, as float32."""
    if path.is_file() and path.suffix.lower() == ".npz":
        try:
            members = npz_members(path)
            shape, _, _, _ = npz_array_header(path, members["x"])
            return 4 * int(np.prod(shape))
        except (DataError, KeyError):
            return 0                         # data.load says what is wrong with it
    if path.is_file():
        return path.stat().st_size
    files, _ = data.image_files(path)
    (w, h), grey = data.open_image(files[0][0], decode=False)
    return len(files) * w * h * (1 if grey else 3) * 4


def load(name: str, base_dir=None, seed: int = 0, streaming: str = "auto") -> Dataset:
    """The data set `name` (see `data.load`), streamed from disk when `streaming` is on, or
    auto and its decoded size is above `STREAM_BYTES`; in memory otherwise."""
    if streaming not in STREAMING:
        raise DataError(f"streaming must be one of {', '.join(STREAMING)}, not {streaming!r}")
    if streaming == "off" or not name or name in data.BUILTIN:
        return data.load(name, base_dir, seed)
    path = resolve(name, base_dir)
    if not streamable(path):
        return data.load(name, base_dir, seed)
    if streaming == "auto" and estimated_bytes(path) <= STREAM_BYTES:
        return data.load(name, base_dir, seed)
    if path.suffix.lower() == ".npz":
        return npz_file(path, required=(streaming == "on"))
    return image_folder(path) if path.is_dir() else csv_file(path)


# -- image folders --------------------------------------------------------------------------------

def image_folder(path: Path) -> Dataset:
    """An image folder (one sub-folder per class) whose images are decoded and resized when
    read: only the headers are read now (size and colour of every image, as `data.load` sizes
    them: grey when all are grey, resized to the most common size)."""
    files, classes = data.image_files(path)
    headers = [data.open_image(f, decode=False) for f, _ in files]
    grey = all(g for _, g in headers)
    size = Counter(s for s, _ in headers).most_common(1)[0][0]
    paths = [f for f, _ in files]
    shape = (size[1], size[0], 1 if grey else 3)

    def read(idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx),) + shape, np.float32)
        for k, i in enumerate(idx):
            out[k] = data.read_image(paths[i], size, grey)
        return out
    labels = np.array([i for _, i in files], dtype=np.int64)
    return Dataset(path.name, Rows(len(paths), shape, np.float32, read), labels,
                   CLASSIFICATION, classes,
                   data.image_set_description(path, len(paths), classes) + ", streamed",
                   Origin(path, "images", files=paths))


# -- CSV files ------------------------------------------------------------------------------------

def _cells(text: str) -> list:
    return next(csv.reader([text])) if '"' in text else text.rstrip("\r\n").split(",")


def csv_file(path: Path) -> Dataset:
    """A CSV file (header line, one sample per line; the label column as `data.load` picks it)
    read in one pass now, keeping each row's byte offset and label; a batch's rows are read
    and parsed again when training asks for them. Every value is checked in this pass: a
    fault names its line and column, as for a file loaded into memory."""
    offsets, skipped = array("Q"), array("Q")
    numbers, codes, names = array("f"), array("i"), {}
    first_text = None
    header = target = feats = first_row = None
    chunk, chunk_lines = [], []

    def check(chunk, chunk_lines):
        values = np.array(chunk, dtype=np.float32)
        bad = ~np.isfinite(values)
        if bad.any():
            k, j = np.argwhere(bad)[0]
            raise DataError(f"{path}: line {chunk_lines[k]}, column {header[feats[j]]!r}: "
                            f"{values[k, j]} is not a finite number (NaN or infinity): remove "
                            f"or fill in that value.")
    try:
        with path.open("rb") as f:
            offset, line = 0, 0
            for raw in f:
                line += 1
                start, offset = offset, offset + len(raw)
                try:
                    row = _cells(raw.decode("utf-8"))
                except (UnicodeDecodeError, csv.Error) as e:
                    raise DataError(f"{path}: line {line}: cannot read it as CSV ({e})") from None
                if not any(c.strip() for c in row):
                    if header is not None:
                        skipped.append(len(offsets))
                    continue
                if header is None:
                    header, first_row = row, line + 1
                    target, feats = data.csv_columns(header)
                    continue
                chunk.append(data.csv_features(path, line, row, header, feats))
                chunk_lines.append(line)
                if len(chunk) == CHECK_ROWS:
                    check(chunk, chunk_lines)
                    chunk, chunk_lines = [], []
                label = row[target].strip()
                try:
                    numbers.append(float(label))
                except ValueError:
                    if first_text is None:
                        first_text = (line, label)
                    codes.append(names.setdefault(label, len(names)))
                offsets.append(start)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    if chunk:
        check(chunk, chunk_lines)
    n = len(offsets)
    if n < 1:
        raise DataError(f"{path}: needs a header line and at least one row")
    if first_text is not None and len(numbers):
        raise DataError(f"{path}: line {first_text[0]}, column {header[target]!r}: "
                        f"{first_text[1]!r} is not a number, but the other labels are")
    line_of = FileLines(first_row, np.frombuffer(skipped, np.uint64))
    origin = Origin(path, "csv", line_of, [header[i] for i in feats] + [header[target]])
    described = f"CSV file {path.name}, streamed"
    x = Rows(n, (len(feats),), np.float32, _csv_reader(path, np.frombuffer(offsets, np.uint64),
                                                       feats))
    if first_text is not None:
        order = sorted(names)
        rank = np.empty(len(order), np.int32)      # int32: 4 bytes a row for 1M rows
        rank[[names[c] for c in order]] = np.arange(len(order))
        y = rank[np.frombuffer(codes, np.int32)]
        return Dataset(path.stem, x, y, CLASSIFICATION, order, described, origin)
    y = np.frombuffer(numbers, np.float32)
    bad = ~np.isfinite(y)
    if bad.any():
        k = int(np.argmax(bad))
        raise DataError(f"{path}: line {line_of[k]}, column {header[target]!r}: {y[k]} is not "
                        f"a finite number (NaN or infinity): remove or fill in that value.")
    if data.whole_number_classes(y):
        ids, classes = data.as_classes(y)
        return Dataset(path.stem, x, ids, CLASSIFICATION, classes, described, origin)
    return Dataset(path.stem, x, y[:, None], REGRESSION, [], described, origin)


class FileLines:
    """The file line of each CSV row, from the first row's line and the rows before which
    blank lines were skipped (not one number per row: a million rows would take 4-8 MB)."""

    def __init__(self, first: int, skipped: np.ndarray):
        self.first, self.skipped = first, skipped

    def __getitem__(self, row: int) -> int:
        return self.first + int(row) + int(np.searchsorted(self.skipped, row, side="right"))


def _csv_reader(path: Path, offsets: np.ndarray, feats: list):
    """read(row indices) -> float32 (k, features): each row found by its byte offset."""
    def read(idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx), len(feats)), np.float32)
        with path.open("rb") as f:
            for k, i in enumerate(idx):
                f.seek(int(offsets[i]))
                row = _cells(f.readline().decode("utf-8"))
                out[k] = [float(row[j]) for j in feats]
        return out
    return read


# -- NPZ files ------------------------------------------------------------------------------------

def npz_members(path: Path) -> dict:
    """{array name (lower case): ZipInfo} of an NPZ file's arrays."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            return {Path(i.filename).stem.lower(): i for i in z.infolist()
                    if i.filename.endswith(".npy")}
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot read ({e})") from None


def npz_array_header(path: Path, info) -> tuple:
    """(shape, dtype, fortran order, byte offset of the data) of an array stored uncompressed
    in an NPZ file: where np.load would read it, so that it can be mapped in place."""
    import struct
    with path.open("rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) < 30 or local[:4] != b"PK\x03\x04":
            raise DataError(f"{path}: array {Path(info.filename).stem!r}: damaged zip entry")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        try:
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = _array_header(f, version)
        except ValueError as e:
            raise DataError(f"{path}: array {Path(info.filename).stem!r} is not a NumPy array "
                            f"({e})") from None
        return shape, dtype, fortran, f.tell()


def _array_header(f, version):
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def npz_file(path: Path, required: bool = True) -> Dataset:
    """An NPZ file (arrays x and y) whose x is mapped from the file (np.memmap) and read a
    batch at a time; y is read into memory. Only arrays stored uncompressed (np.savez) can be
    mapped: a compressed one (np.savez_compressed) is refused when streaming is on, and loaded
    into memory with auto. Integer x (token ids) loads into memory too."""
    import zipfile
    members = npz_members(path)
    if set(members) != {"x", "y"}:
        # names what is missing; or arrays named after a network's Inputs and outputs, which
        # load into memory
        return data.load(str(path))
    info = members["x"]
    if info.compress_type != zipfile.ZIP_STORED:
        if not required:
            return data.load(str(path))
        raise DataError(f"{path}: array 'x' is compressed (np.savez_compressed), and a "
                        f"compressed array cannot be read in place: save it with np.savez, "
                        f"or set streaming to off.")
    shape, dtype, fortran, offset = npz_array_header(path, info)
    if dtype.kind != "f" or fortran or dtype.hasobject or len(shape) < 1:
        return data.load(str(path))                   # ints, objects: in memory, as before
    with np.load(path, allow_pickle=False) as arrays:
        keys = {k.lower(): k for k in arrays.files}
        y = arrays[keys["y"]]
    mapped = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(shape))
    if len(y) != len(mapped) or y.ndim == 0:
        return data.load(str(path))                   # names the mismatch
    origin = Origin(path, "npz")
    # every value is checked once, a chunk at a time, as data.load checks them all
    rows = max(1, data.STATS_CHUNK_BYTES // (dtype.itemsize * max(1, int(np.prod(shape[1:])))))
    for start in range(0, len(mapped), rows):
        bad = ~np.isfinite(mapped[start:start + rows])
        if bad.any():
            index = (start + int(np.argwhere(bad)[0][0]),) + tuple(int(k) for k in
                                                                    np.argwhere(bad)[0][1:])
            raise DataError(f"{path}: {origin.place('x', index)}: {mapped[index]} is not a "
                            f"finite number (NaN or infinity): remove or fill in that value.")

    def read(idx: np.ndarray) -> np.ndarray:
        return np.asarray(mapped[idx], dtype=np.float32)
    x = Rows(len(mapped), tuple(shape[1:]), np.float32, read)
    described = f"NPZ file {path.name}, streamed"
    if y.dtype.kind in "US" or (y.dtype.kind in "iu" and y.ndim == 1):
        ids, classes = data.as_classes(y)
        return Dataset(path.stem, x, ids, CLASSIFICATION, classes, described, origin)
    if y.dtype.kind not in "biuf":
        return data.load(str(path))
    dataset = Dataset(path.stem, x, y.astype(np.float32), REGRESSION, [], described, origin)
    bad = ~np.isfinite(dataset.y)
    if bad.any():
        index = tuple(np.argwhere(bad)[0])
        raise DataError(f"{dataset.where('y', index)}: {dataset.y[index]} is not a finite "
                        f"number (NaN or infinity): remove or fill in that value.")
    return dataset
