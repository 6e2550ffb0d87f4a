"""Decoded samples of a streamed data set kept on disk after their first read, so that every
epoch after the first reads them back instead of decoding them again (as `tf.data`'s
`cache(filename)` does, but by sample index: every epoch still draws its own order, and a batch
gives the same values either way).

    read = DecodedCache(n, sample_shape, decode, stored=np.uint8).read   # read(indices)

Decoding a PNG or parsing a CSV line costs more than a step of a small network: the first epoch
is paced by the decoder, the later ones by the network. The cache holds the samples in
`stored` (uint8 for 8-bit images: a quarter of their float32 size; checked to be lossless on
every write, else the cache turns itself off) in an anonymous temporary file (deleted when the
process ends, however it ends), written with pwrite and read through a read-only memory map (one
gather a batch): its pages are the kernel's page cache, which the kernel takes back when memory
runs short; those a batch touched count in the process's resident memory, as for a mapped NPZ
file, at most the file's size. It is on only while a run trains (`kept()`; the designer's data checks read the
training split for the scaling statistics and would fill a cache nobody reads), and holds
what fits: at most `LIMIT_BYTES` (`NETDESIGNER_CACHE_BYTES`: 8G, 512M, 0 for none), and never more than half the
free space of its folder (`NETDESIGNER_CACHE_DIR`, else the temporary folder); samples
beyond that are decoded every time. Any failure to write or read it (a full disk) turns it off
and the samples are decoded again: the cache can make training faster, never wrong.
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import threading
from typing import Callable

import numpy as np

#: the most bytes one data set's cache takes on disk (NETDESIGNER_CACHE_BYTES overrides)
LIMIT_BYTES = 8 * 2**30
DIR_ENV, BYTES_ENV = "NETDESIGNER_CACHE_DIR", "NETDESIGNER_CACHE_BYTES"

_active = 0                         # runs training in this process (kept() nests)
_active_lock = threading.Lock()


@contextlib.contextmanager
def kept():
    """Samples read inside this block are cached (a training run). A size in
    NETDESIGNER_CACHE_BYTES that cannot be read is said here, before the run starts."""
    global _active
    limit_bytes()
    with _active_lock:
        _active += 1
    try:
        yield
    finally:
        with _active_lock:
            _active -= 1


def active() -> bool:
    return _active > 0


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def limit_bytes() -> int:
    """NETDESIGNER_CACHE_BYTES (bytes, or with K, M, G or T: 8G, 512M; 0 turns caching off),
    else LIMIT_BYTES. A value that is not a size raises ValueError, naming it."""
    text = os.environ.get(BYTES_ENV, "").strip()
    if not text:
        return LIMIT_BYTES
    number = text.upper().removesuffix("B").removesuffix("I")
    unit = number[-1:] if number[-1:] in _UNITS else ""
    try:
        value = float(number[:len(number) - len(unit)].strip()) * _UNITS[unit]
    except ValueError:
        value = float("nan")
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{BYTES_ENV}={text!r} is not a size: give the most bytes the decoded "
                         f"cache may take, as a number (8000000000) or with K, M, G or T "
                         f"(8G, 512M); 0 turns the cache off")
    return int(value)


class DecodedCache:
    """`decode(indices) -> array (k, *sample_shape)` with the samples read before kept on disk."""

    def __init__(self, n: int, sample_shape: tuple, decode: Callable, stored=np.float32,
                 out=np.float32):
        self.n, self.sample_shape, self.decode = int(n), tuple(sample_shape), decode
        self.stored, self.out = np.dtype(stored), np.dtype(out)
        self.row_bytes = max(1, math.prod(self.sample_shape)) * self.stored.itemsize
        self.cached = np.zeros(self.n, bool)
        self.capacity = None            # rows that fit (the first `capacity` indices), once known
        self.file = None
        self.mapped = None              # the file, mapped for reading
        self.off = False
        self._lock = threading.Lock()

    @property
    def cached_count(self) -> int:
        return int(self.cached.sum())

    def _open(self):
        """The cache file, made on the first write; None when off or nothing fits."""
        if self.file is not None or self.off:
            return self.file
        with self._lock:
            if self.file is None and not self.off:
                folder = os.environ.get(DIR_ENV) or tempfile.gettempdir()
                try:
                    free = shutil.disk_usage(folder).free
                    budget = min(limit_bytes(), free // 2)
                    self.capacity = min(self.n, budget // self.row_bytes)
                    if self.capacity < 1:
                        self.off = True
                    else:
                        file = tempfile.TemporaryFile(dir=folder, prefix="netdesigner-decoded-")
                        os.ftruncate(file.fileno(), self.capacity * self.row_bytes)  # sparse
                        self.mapped = np.memmap(file, self.stored, "r",
                                                shape=(self.capacity,) + self.sample_shape)
                        self.file = file
                except (OSError, ValueError):
                    self.off = True
        return self.file

    def _turn_off(self) -> None:
        self.off = True
        self.cached[:] = False
        self.mapped = None
        file, self.file = self.file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()

    def read(self, idx: np.ndarray) -> np.ndarray:
        """The samples at `idx`, in the `out` dtype."""
        return self._read(idx, self.out)

    def read_stored(self, idx: np.ndarray) -> np.ndarray:
        """The samples at `idx` in the `stored` dtype (uint8 images: a quarter of the bytes
        to hand over); the source promises that its values are exactly that dtype's."""
        return self._read(idx, self.stored)

    def _read(self, idx: np.ndarray, dtype: np.dtype) -> np.ndarray:
        idx = np.asarray(idx, np.int64)
        if not active() or self.off:
            return self._as(self.decode(idx), dtype)
        hit = self.cached[idx]
        mapped = self.mapped
        if mapped is not None and hit.all():
            # every epoch after the first: one gather (and a conversion to `out`)
            return mapped[idx].astype(dtype, copy=False)
        out = np.empty((len(idx),) + self.sample_shape, dtype)
        if hit.any() and not self._read_back(idx[hit], out, np.flatnonzero(hit)):
            hit[:] = False
        miss = np.flatnonzero(~hit)
        if len(miss):
            values = self.decode(idx[miss])
            out[miss] = self._as(values, dtype)
            self._store(idx[miss], values)
        return out

    def _as(self, values: np.ndarray, dtype: np.dtype) -> np.ndarray:
        if values.dtype == dtype:
            return values
        converted = values.astype(dtype)
        if dtype == self.stored and not np.array_equal(converted, values):
            raise ValueError(f"decoded samples are not exactly {dtype} values (the cache of "
                             f"this data source was told they are)")
        return converted

    def _read_back(self, rows: np.ndarray, out: np.ndarray, positions: np.ndarray) -> bool:
        mapped = self.mapped
        if mapped is None:
            return False
        # one gather from the mapped file: a pread per sample gave the interpreter lock up
        # and waited for it again 64 times a batch, while the training step's thread wanted it
        out[positions] = mapped[rows]
        return True

    def _store(self, rows: np.ndarray, values: np.ndarray) -> None:
        file = self._open()
        if file is None:
            return
        keep = rows < self.capacity
        if not keep.any():
            return
        rows, values = rows[keep], values[keep]
        stored = values.astype(self.stored)
        if self.stored != values.dtype and not np.array_equal(stored, values):
            self._turn_off()                  # not what this source promised: never lossy
            return
        size = self.row_bytes
        try:
            fd = file.fileno()
            for i, v in zip(rows, stored):
                if os.pwrite(fd, v.tobytes(), int(i) * size) != size:
                    raise OSError("short write")
        except (OSError, ValueError):
            self._turn_off()
            return
        self.cached[rows] = True              # only once its bytes are written
