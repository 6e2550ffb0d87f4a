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
import os
from array import array
from collections import Counter
from pathlib import Path

import numpy as np

from netdesigner.backends import data, progress, tfrecord
from netdesigner.backends.decoded_cache import DecodedCache
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
    return (path.is_dir() or (path.is_file() and path.suffix.lower() in (".csv", ".npz"))
            or is_tfrecord(path))


def is_tfrecord(path: Path) -> bool:
    """A TFRecord file, or a folder of them (shards: no sub-folders, at least one file)."""
    if path.is_file():
        return path.suffix.lower() in tfrecord.SUFFIXES
    return bool(path.is_dir() and tfrecord_files(path))


def tfrecord_files(folder: Path) -> list:
    """A folder's TFRecord files (sorted), when it holds those and no sub-folders; else []."""
    entries = list(folder.iterdir())
    if any(e.is_dir() for e in entries):
        return []
    return sorted(e for e in entries if e.is_file() and e.suffix.lower() in tfrecord.SUFFIXES)


def estimated_bytes(path: Path) -> int:
    """About how many bytes the decoded samples would take in memory, without reading them:
    an image folder's file count times the first image's decoded size; a CSV file's size
    (a value written as text takes about as many bytes as its float32 does, or more); an NPZ
    file's x array, as float32."""
    if is_tfrecord(path):
        files = [path] if path.is_file() else tfrecord_files(path)
        return sum(f.stat().st_size for f in files)    # floats or compressed images: at least
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
    if not name or name in data.BUILTIN:
        return data.load(name, base_dir, seed)
    path = resolve(name, base_dir)
    if path.exists() and is_tfrecord(path):
        dataset = first_pass(path, "tfrecord", tfrecord_set)
        if streaming == "off" or (streaming == "auto"
                                  and estimated_bytes(path) <= STREAM_BYTES):
            return in_memory(dataset)
        return dataset
    if streaming == "off":
        return data.load(name, base_dir, seed)
    if not streamable(path):
        return data.load(name, base_dir, seed)
    if streaming == "auto" and estimated_bytes(path) <= STREAM_BYTES:
        return data.load(name, base_dir, seed)
    if path.suffix.lower() == ".npz":
        return first_pass(path, f"npz-{streaming}",
                          lambda p: npz_file(p, required=(streaming == "on")))
    return first_pass(path, "images" if path.is_dir() else "csv",
                      image_folder if path.is_dir() else csv_file)


# -- the first pass, remembered -------------------------------------------------------------------

#: streamed data sets read lately: {(path, kind, fingerprint): Dataset}, newest last
FIRST_PASSES: dict = {}
FIRST_PASSES_KEPT = 2


def fingerprint(path: Path) -> tuple:
    """What changes when the data change: a file's size and modification time, or those of
    every file and folder under a folder (one stat each: far less than reading them)."""
    if path.is_file():
        st = path.stat()
        return (st.st_size, st.st_mtime_ns)
    out = []
    pending = [str(path)]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for e in entries:
                st = e.stat()
                out.append((e.path, st.st_size, st.st_mtime_ns))
                if e.is_dir():
                    pending.append(e.path)
    return tuple(sorted(out))


def first_pass(path: Path, kind: str, read) -> Dataset:
    """`read(path)`, or the data set read before from the same files unchanged (the same
    sizes and modification times): the designer checks the data after every edit, and a
    streamed data set's first pass reads every file. The data set's rows carry the key
    (`source_key`), which the scaling statistics are remembered by (`data.prepare`)."""
    key = (str(path.resolve()), kind, fingerprint(path))
    dataset = FIRST_PASSES.pop(key, None)
    if dataset is None:
        dataset = read(path)
        if isinstance(dataset.x, Rows):
            dataset.x.source_key = key
    FIRST_PASSES[key] = dataset
    while len(FIRST_PASSES) > FIRST_PASSES_KEPT:
        FIRST_PASSES.pop(next(iter(FIRST_PASSES)))
    return dataset


# -- image folders --------------------------------------------------------------------------------

def image_folder(path: Path) -> Dataset:
    """An image folder (one sub-folder per class) whose images are decoded and resized when
    read: only the headers are read now (size and colour of every image, as `data.load` sizes
    them: grey when all are grey, resized to the most common size)."""
    files, classes = data.image_files(path)
    headers = []
    for k, (f, _) in enumerate(files):
        progress.report("reading image headers", k, len(files), "images")
        headers.append(data.open_image(f, decode=False))
    progress.report("reading image headers", len(files), len(files), "images")
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
    # 8-bit images (every mode read_image makes): uint8 on disk, a quarter of float32
    cache = DecodedCache(len(paths), shape, read, stored=np.uint8)
    # the raw samples (uint8) are there for a backend that scales them itself (Rows.deferred)
    raw = Rows(len(paths), shape, np.uint8, cache.read_stored)
    x = Rows(len(paths), shape, np.float32, cache.read, deferred=(raw, (data.AsFloat32(shape),)))
    return Dataset(path.name, x, labels,
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
        size = path.stat().st_size
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
                    progress.report("reading CSV rows", offset, size, "bytes")
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
    progress.report("reading CSV rows", size, size, "bytes")
    n = len(offsets)
    if n < 1:
        raise DataError(f"{path}: needs a header line and at least one row")
    if first_text is not None and len(numbers):
        raise DataError(f"{path}: line {first_text[0]}, column {header[target]!r}: "
                        f"{first_text[1]!r} is not a number, but the other labels are")
    line_of = FileLines(first_row, np.frombuffer(skipped, np.uint64))
    origin = Origin(path, "csv", line_of, [header[i] for i in feats] + [header[target]])
    described = f"CSV file {path.name}, streamed"
    cache = DecodedCache(n, (len(feats),), _csv_reader(path, np.frombuffer(offsets, np.uint64),
                                                       feats))
    x = Rows(n, (len(feats),), np.float32, cache.read)
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
        progress.report("checking NPZ values", start, len(mapped), "samples")
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


# -- TFRecord files -------------------------------------------------------------------------------

class RecordPlaces:
    """'FILE record K' of each sample of a TFRecord set (a fault's place)."""

    def __init__(self, files: list, file_of: np.ndarray, number: np.ndarray):
        self.files, self.file_of, self.number = files, file_of, number

    def __getitem__(self, i: int) -> str:
        return f"{self.files[int(self.file_of[i])].name} record {int(self.number[i])}"


def tfrecord_set(path: Path) -> Dataset:
    """A TFRecord file (or a folder of them, read in name order) of tf.train.Example records
    with the features `backends.tfrecord` describes, read in one pass now (every record parsed
    and checked: a fault names the file and the record number), keeping each record's byte
    offset and its label; a batch's records are read and parsed again when training asks for
    them."""
    files = [path] if path.is_file() else tfrecord_files(path)
    offsets, file_of, numbers = array("Q"), array("I"), array("I")
    ids, values = array("q"), []
    shape = None
    total, before = sum(f.stat().st_size for f in files), 0
    for fi, f in enumerate(files):
        try:
            for k, offset, body in tfrecord.records(f):
                progress.report("reading TFRecord examples", before + offset, total, "bytes")
                where = f"{f}: record {k}"
                features = tfrecord.parse(body, where)
                x = tfrecord.sample(features, where)
                if shape is None:
                    shape, first = x.shape, where
                elif x.shape != shape:
                    raise DataError(f"{where}: x has shape {x.shape}, but {first} has {shape}: "
                                    f"every example of a data set needs the same shape.")
                if not np.isfinite(x).all():
                    at = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
                    raise DataError(f"{where}: x at {at} is {x[at]}, not a finite number "
                                    f"(NaN or infinity): remove or fill in that value.")
                y = tfrecord.target(features, where)
                _check_target(y, ids, values, where)
                if isinstance(y, int):
                    ids.append(y)
                else:
                    values.append(y)
                offsets.append(offset)
                file_of.append(fi)
                numbers.append(k)
        except OSError as e:
            raise DataError(f"{f}: cannot read ({e})") from None
        before += f.stat().st_size
    progress.report("reading TFRecord examples", total, total, "bytes")
    n = len(offsets)
    if n < 1:
        raise DataError(f"{path}: holds no records")
    offsets_np = np.frombuffer(offsets, np.uint64)
    file_np = np.frombuffer(file_of, np.uint32)
    places = RecordPlaces(files, file_np, np.frombuffer(numbers, np.uint32))

    def read(idx: np.ndarray) -> np.ndarray:
        out = np.empty((len(idx),) + tuple(shape), np.float32)
        handles = {}
        try:
            for k, i in enumerate(idx):
                fi = int(file_np[i])
                if fi not in handles:
                    handles[fi] = files[fi].open("rb")
                where = f"{files[fi]}: record {places.number[i]}"
                body = tfrecord.read_at(handles[fi], int(offsets_np[i]))
                out[k] = tfrecord.sample(tfrecord.parse(body, where), where)
        finally:
            for h in handles.values():
                h.close()
        return out
    x = Rows(n, tuple(shape), np.float32, DecodedCache(n, tuple(shape), read).read)
    origin = data.Origin(path, "tfrecord", places, files=files)
    described = (f"TFRecord {'file' if path.is_file() else 'folder'} {path.name}: {n} examples"
                 f"{'' if path.is_file() else f' in {len(files)} files'}, streamed")
    name = path.stem if path.is_file() else path.name
    if ids:
        y = np.frombuffer(ids, np.int64)
        classes_ids, classes = data.as_classes(y)
        return Dataset(name, x, classes_ids, CLASSIFICATION, classes, described, origin)
    return Dataset(name, x, np.stack(values).astype(np.float32), REGRESSION, [], described,
                   origin)


def _check_target(y, ids, values, where: str) -> None:
    """A record's y agrees with the records before it (all class ids, or all float lists of
    one length) and is finite."""
    if isinstance(y, int):
        if values:
            raise DataError(f"{where}: y is an int64 class id, but the records before it have "
                            f"float lists.")
        return
    if ids:
        raise DataError(f"{where}: y is a float list, but the records before it have int64 "
                        f"class ids.")
    if values and y.shape != values[0].shape:
        raise DataError(f"{where}: y has {len(y)} values, but the records before it have "
                        f"{len(values[0])}.")
    if not np.isfinite(y).all():
        raise DataError(f"{where}: y {y.tolist()} is not finite (NaN or infinity): remove or "
                        f"fill in that value.")


def in_memory(dataset: Dataset) -> Dataset:
    """A streamed data set read whole into memory (`streaming: off`, or small with auto)."""
    from dataclasses import replace
    return replace(dataset, x=np.asarray(dataset.x),
                   description=dataset.description.removesuffix(", streamed"))
