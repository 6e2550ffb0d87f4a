"""Faulty data sets, one per fault of issue 12 point 3, shared by the backend, command-line and
designer tests: each writes its files into a folder and says which project setting reads them
and which words the message must hold (the file and the place of the fault)."""
from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from netdesigner.graph import fileformat

ROOT = Path(__file__).resolve().parents[2]


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header that claims width x height grey pixels, with almost no data: what a
    decompression bomb looks like before it is decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def image_folder(folder: Path, extra: str, content: bytes | None) -> None:
    """Two class folders of small grey PNGs, and `extra` (in the second) holding `content`
    (None: a FIFO)."""
    from PIL import Image
    for name in ("cats", "dogs"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 30 * i, np.uint8)).save(folder / name / f"{i}.png")
    target = folder / "dogs" / extra
    if content is None:
        os.mkfifo(target)
        unblock_fifo_later(target, after_s=3.0, until_s=30.0)
    else:
        target.write_bytes(content)


def unblock_fifo_later(fifo: Path, after_s: float, until_s: float) -> None:
    """If the designer opens the FIFO for reading (the old behaviour), feed it a small CSV
    after `after_s` so that the test ends with a measured stall instead of hanging; opening
    with O_NONBLOCK fails while no reader has it open, so this never blocks itself."""
    def feed():
        time.sleep(after_s)
        deadline = time.monotonic() + until_s
        while time.monotonic() < deadline:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:              # no reader: nobody is blocked on it
                time.sleep(0.05)
                continue
            os.write(fd, b"a,b,label\n1,2,0\n3,4,1\n")
            os.close(fd)
            return
    threading.Thread(target=feed, daemon=True).start()


def rows(n: int, label) -> str:
    return "".join(f"{i},{i % 7}.5,{label(i)}\n" for i in range(n))


@dataclass
class Fault:
    name: str
    write: object                  # write(folder) -> the dataset setting (a path in folder)
    expect: list                   # words the message must hold
    settings: dict = field(default_factory=dict)


def _csv(name, text):
    def write(folder):
        (folder / name).write_text(text)
        return name
    return write


def _npz(name, **arrays):
    def write(folder):
        np.savez(folder / name, **arrays)
        return name
    return write


def _fifo(folder):
    os.mkfifo(folder / "stream.csv")
    unblock_fifo_later(folder / "stream.csv", after_s=3.0, until_s=30.0)
    return "stream.csv"


FAULTS = [
    Fault("csv cell over 128 KB",
          _csv("big.csv", "a,b,label\n1,2,0\n3," + "9" * 200_000 + ",1\n" + rows(8, int)),
          ["big.csv", "line 3, column 'b'"]),
    Fault("csv NaN in a feature",
          _csv("nan.csv", "a,b,label\n1,2,0\n3,nan,1\n" + rows(8, lambda i: i % 2)),
          ["nan.csv", "line 3, column 'b'", "not a finite number"]),
    Fault("csv infinite label",
          _csv("inf.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,inf\n" + rows(8, lambda i: i % 2)),
          ["inf.csv", "line 4, column 'label'", "not a finite number"]),
    Fault("csv text among numeric labels",
          _csv("typo.csv", "a,b,label\n1,2,0\n3,4,one\n" + rows(8, lambda i: i % 2)),
          ["typo.csv", "line 3, column 'label'", "'one' is not a number"]),
    Fault("csv fractional labels for a class loss",
          _csv("frac.csv", "a,b,label\n1,2,0\n3,4,1.5\n" + rows(8, lambda i: i % 3)),
          ["frac.csv", "line 3, column 'label'", "1.5 is not a whole number"],
          {"loss": "sparse_categorical_crossentropy"}),
    Fault("npz 0-d array",
          _npz("scalar.npz", x=np.array(3.0), y=np.array(1)),
          ["scalar.npz", "array 'x'", "0-d"]),
    Fault("npz text where numbers belong",
          _npz("words.npz", x=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1])),
          ["words.npz", "array 'x'", "text"]),
    Fault("npz NaN in the targets",
          _npz("nan.npz", x=np.ones((20, 64)), y=np.r_[np.ones(5), np.nan, np.ones(14)]),
          ["nan.npz", "array 'y', sample 5", "not a finite number"], {"loss": "mse"}),
    Fault("npz infinity in a sample",
          _npz("inf.npz", x=np.where(np.arange(64 * 20).reshape(20, 64) == 70, np.inf, 1.0),
               y=np.arange(20) % 2),
          ["inf.npz", "array 'x', sample 1 at (6,)", "not a finite number"]),
    Fault("npz fractional labels for a class loss",
          _npz("frac.npz", x=np.ones((20, 64)), y=np.r_[np.zeros(3), 0.25, np.ones(16)]),
          ["frac.npz", "array 'y', sample 3", "0.25 is not a whole number"],
          {"loss": "categorical_crossentropy"}),
    Fault("png claiming 40000 x 40000",
          lambda folder: image_folder(folder / "pics", "bomb.png", png_claiming(40_000, 40_000))
          or "pics",
          ["bomb.png", "larger than the limit"]),
    Fault("png claiming 6000 x 6000 (Pillow's warning)",
          lambda folder: image_folder(folder / "pics", "big.png", png_claiming(6000, 6000))
          or "pics",
          ["big.png", "larger than the limit"]),
    Fault("data set path is a FIFO", _fifo, ["stream.csv", "named pipe (FIFO)", "not opened"]),
    Fault("a FIFO among the images",
          lambda folder: image_folder(folder / "pics", "pipe.png", None) or "pics",
          ["pipe.png", "named pipe (FIFO)", "not opened"]),
]


def fault_project(fault: Fault, folder: Path, **training) -> Path:
    """The MLP digits sample reading the fault's data, saved in `folder`."""
    g = fileformat.load(ROOT / "samples" / "mlp_digits.graph")
    g.training.update(dataset=fault.write(folder), epochs=1, **fault.settings, **training)
    path = folder / "project.graph"
    fileformat.save(g, path)
    return path
