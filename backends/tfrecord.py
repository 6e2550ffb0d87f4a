"""TFRecord files of (x, y) examples, read and written without TensorFlow: the TFRecord framing
and the few fields of the `tf.train.Example` protobuf a data set needs.

A TFRecord file is a sequence of records, each framed as
    uint64 length | uint32 masked CRC-32C of the length | data | uint32 masked CRC-32C of data
(little-endian), and each record's data is a serialized `tf.train.Example`. The features a
data set's example must have:

    x      float_list: the sample's values, in C order, with
           shape int64_list (optional): the sample's shape (8, 8, 1); without it x is a vector
        or bytes_list: one encoded image (PNG, JPEG: what Pillow reads), its shape its own
    y      int64_list of one value: a class id (classification)
        or float_list: the regression target(s)

Every example of a set must have the same sample shape. `write` makes such a file (for tests,
samples and users whose data are arrays); TensorFlow reads what it writes
(`tf.data.TFRecordDataset` + `tf.io.parse_single_example`), and `read_example` reads what
TensorFlow writes. Reading skips the CRC checks (a damaged frame is still named by its file and
record number, as the length runs past the file's end or the protobuf does not parse).
"""
from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from netdesigner.backends.data import DataError

SUFFIXES = (".tfrecord", ".tfrecords")
FEATURES = "x (a float list with an optional int64 'shape', or one encoded image) and y " \
           "(one int64 class id, or a float list)"


# -- CRC-32C (Castagnoli), only for writing -----------------------------------------------------

def _crc_table() -> list:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    return int(_mask(np.array([crc32c(data)], np.uint64))[0])


def _mask(crc: np.ndarray) -> np.ndarray:
    crc = crc.astype(np.uint64)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def crc32c_many(blobs: list) -> np.ndarray:
    """crc32c of each byte string, computed for all of them at once (a Python loop over the
    bytes of one string is ~1 MB/s): the strings are left-padded with zeros to one length and
    run through the table together. A CRC started from 0 ignores leading zeros; the standard
    start value 0xFFFFFFFF adds, by linearity, its own run over as many zero bytes as the
    string is long, which is the same for all strings of one length."""
    if not blobs:
        return np.zeros(0, np.uint32)
    lengths = np.array([len(b) for b in blobs])
    longest = int(lengths.max())
    padded = np.zeros((len(blobs), longest), np.uint8)
    for i, b in enumerate(blobs):
        padded[i, longest - len(b):] = np.frombuffer(b, np.uint8)
    table = np.array(_TABLE, np.uint32)
    crc = np.zeros(len(blobs), np.uint32)
    for j in range(longest):
        crc = table[(crc ^ padded[:, j]) & 0xFF] ^ (crc >> 8)
    start, runs = 0xFFFFFFFF, [0xFFFFFFFF]
    for _ in range(longest):
        start = _TABLE[start & 0xFF] ^ (start >> 8)
        runs.append(start)
    return crc ^ np.array(runs, np.uint32)[lengths] ^ np.uint32(0xFFFFFFFF)


# -- protobuf wire format: just what tf.train.Example uses --------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of a message: value is an int for varints, bytes for
    length-delimited fields."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise ValueError("a field runs past the message's end")
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        else:
            raise ValueError(f"wire type {wire} is not used by tf.train.Example")
        yield number, wire, value


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _feature(buf: bytes):
    """One tf.train.Feature: ('bytes', [bytes]) | ('float', float32 array) | ('int64', int64
    array)."""
    for number, _, value in _fields(buf):
        if number == 1:                                     # BytesList
            return "bytes", [v for n, w, v in _fields(value) if n == 1]
        if number == 2:                                     # FloatList (packed, or not)
            parts = [np.frombuffer(v, "<f4") for n, w, v in _fields(value) if n == 1]
            return "float", (np.concatenate(parts) if parts else np.zeros(0, np.float32))
        if number == 3:                                     # Int64List
            out = []
            for n, w, v in _fields(value):
                if n != 1:
                    continue
                if w == 0:
                    out.append(_signed64(v))
                else:
                    pos = 0
                    while pos < len(v):
                        k, pos = _varint(v, pos)
                        out.append(_signed64(k))
            return "int64", np.array(out, np.int64)
    return "empty", []


def read_example(record: bytes) -> dict:
    """{feature name: (kind, values)} of a serialized tf.train.Example."""
    out = {}
    for number, _, features in _fields(record):
        if number != 1:
            continue
        for n, _, entry in _fields(features):
            if n != 1:
                continue
            key, value = None, b""
            for k, _, v in _fields(entry):
                if k == 1:
                    key = bytes(v).decode("utf-8")
                elif k == 2:
                    value = v
            if key is not None:
                out[key] = _feature(value)
    return out


def _key(number: int, wire: int) -> bytes:
    return _encode_varint((number << 3) | wire)


def _encode_varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def float_feature(values: np.ndarray) -> bytes:
    packed = np.asarray(values, "<f4").ravel().tobytes()
    return _delimited(2, _delimited(1, packed))


def int64_feature(values) -> bytes:
    packed = b"".join(_encode_varint(int(v)) for v in np.ravel(values))
    return _delimited(3, _delimited(1, packed))


def bytes_feature(value: bytes) -> bytes:
    return _delimited(1, _delimited(1, value))


def example(features: dict) -> bytes:
    """A serialized tf.train.Example of {name: feature bytes} (features in name order)."""
    entries = b"".join(_delimited(1, _delimited(1, name.encode()) + _delimited(2, feature))
                       for name, feature in sorted(features.items()))
    return _delimited(1, entries)


# -- files ---------------------------------------------------------------------------------------

def frame(record: bytes) -> bytes:
    length = struct.pack("<Q", len(record))
    return (length + struct.pack("<I", masked_crc(length)) + record
            + struct.pack("<I", masked_crc(record)))


def frames(records: list) -> bytes:
    """`frame` of each record, the CRCs computed together (`crc32c_many`)."""
    lengths = [struct.pack("<Q", len(r)) for r in records]
    length_crcs, data_crcs = _mask(crc32c_many(lengths)), _mask(crc32c_many(records))
    return b"".join(n + struct.pack("<I", int(a)) + r + struct.pack("<I", int(b))
                    for n, a, r, b in zip(lengths, length_crcs, records, data_crcs))


#: examples framed together by `write`
WRITE_CHUNK = 1024


def write(path, x: np.ndarray, y: np.ndarray, images: bool = False) -> Path:
    """Write samples `x` and targets `y` as a TFRecord file of examples with the features this
    module reads: x as a float list with its shape (or, with `images`, each sample as a PNG:
    x must then be whole numbers 0..255 shaped (height, width, 1 or 3)); y as one int64 class
    id when it is integer, else a float list."""
    from PIL import Image
    path = Path(path)
    x, y = np.asarray(x), np.asarray(y)
    with path.open("wb") as f:
        pending = []
        for sample, target in zip(x, y):
            features = {}
            if images:
                buf = io.BytesIO()
                pixels = np.asarray(sample, np.uint8)
                Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(
                    buf, "PNG")
                features["x"] = bytes_feature(buf.getvalue())
            else:
                features["x"] = float_feature(sample)
                features["shape"] = int64_feature(np.shape(sample))
            features["y"] = (int64_feature([target]) if y.dtype.kind in "iub"
                             else float_feature(target))
            pending.append(example(features))
            if len(pending) == WRITE_CHUNK:
                f.write(frames(pending))
                pending = []
        f.write(frames(pending))
    return path


def records(path: Path):
    """(record number, byte offset of the record's data, data) of each record in `path`; a
    frame cut short is named by its record number."""
    with path.open("rb") as f:
        k = 0
        while True:
            head = f.read(12)
            if not head:
                return
            if len(head) < 12:
                raise DataError(f"{path}: record {k}: the file ends inside the record's "
                                f"header (the file is cut short, or not a TFRecord file)")
            (length,) = struct.unpack("<Q", head[:8])
            offset = f.tell()
            body = f.read(length)
            if len(body) < length or len(f.read(4)) < 4:
                raise DataError(f"{path}: record {k}: the record says it holds {length} bytes "
                                f"but the file ends before that (the file is cut short, or not "
                                f"a TFRecord file)")
            yield k, offset, body
            k += 1


def read_at(f, offset: int) -> bytes:
    """The data of the record at `offset` in the open file `f`."""
    f.seek(offset - 12)
    (length,) = struct.unpack("<Q", f.read(12)[:8])
    return f.read(length)


def parse(record: bytes, where: str) -> dict:
    try:
        return read_example(record)
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        raise DataError(f"{where}: not a tf.train.Example ({e})") from None


def sample(features: dict, where: str) -> np.ndarray:
    """The record's x as float32 in its shape, or a DataError naming what is missing."""
    if "x" not in features:
        raise DataError(f"{where}: no feature 'x' (it has {', '.join(sorted(features)) or 'none'}"
                        f"); each example needs {FEATURES}.")
    kind, values = features["x"]
    if kind == "bytes":
        if len(values) != 1:
            raise DataError(f"{where}: feature 'x' holds {len(values)} byte strings; an image "
                            f"example needs exactly one encoded image.")
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(io.BytesIO(values[0])) as im:
                grey = im.mode in ("L", "1")
                im = im.convert("L" if grey else "RGB")
                x = np.asarray(im, dtype=np.float32)
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{where}: feature 'x' is not a readable image ({e})") from None
        return x[..., None] if grey else x
    if kind != "float":
        raise DataError(f"{where}: feature 'x' is a {kind} list; it must be a float list (the "
                        f"values) or one encoded image.")
    if "shape" not in features:
        return values.astype(np.float32)
    shape_kind, shape = features["shape"]
    if shape_kind != "int64" or int(np.prod(shape)) != len(values) or (shape < 1).any():
        raise DataError(f"{where}: feature 'x' has {len(values)} values, but 'shape' says "
                        f"{tuple(int(s) for s in np.atleast_1d(shape))}.")
    return values.astype(np.float32).reshape(tuple(int(s) for s in shape))


def target(features: dict, where: str):
    """The record's y: an int (class id) or a float32 vector."""
    if "y" not in features:
        raise DataError(f"{where}: no feature 'y' (it has {', '.join(sorted(features)) or 'none'}"
                        f"); each example needs {FEATURES}.")
    kind, values = features["y"]
    if kind == "int64" and len(values) == 1:
        return int(values[0])
    if kind == "float" and len(values) >= 1:
        return values.astype(np.float32)
    raise DataError(f"{where}: feature 'y' is a {kind} list of {len(values)} values; it must "
                    f"be one int64 class id or a float list.")
