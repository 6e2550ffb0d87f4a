"""Run in a fresh process by tests/backends/test_streaming.py: train one epoch on a streamed
data set and print, as JSON, how far the process's resident memory rose above where it stood
before (after a warm-up run on a small data set of the same kind, so that TensorFlow's and
NumPy's one-time costs are not counted), next to the data set's decoded size.

    python tests/backends/streaming_memory.py BACKEND DATASET_PATH SMALL_PATH SHAPE CLASSES BATCH

The peak is the kernel's high-water mark (VmHWM), reset after the warm-up by writing 5 to
/proc/self/clear_refs (Linux)."""
from __future__ import annotations

import gc
import math
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from netdesigner.backends import jobs  # noqa: E402
from tests.backends.streaming_data import mlp  # noqa: E402


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def train(backend: str, path: Path, shape: tuple, classes: int, batch: int):
    settings = {"dataset": str(path), "streaming": "on", "epochs": 1, "batch_size": batch,
                "normalize": "minmax", "seed": 0}
    prepared = jobs.prepare(mlp(shape, classes, settings), path.parent)
    outcome = jobs.train(prepared, backend, lambda e: None, stats_every=0)
    return prepared, outcome


def main(argv: list) -> None:
    backend, path, small = argv[0], Path(argv[1]), Path(argv[2])
    shape = tuple(int(d) for d in argv[3].split("x"))
    classes, batch = int(argv[4]), int(argv[5])
    train(backend, small, shape, classes, batch)            # warm-up
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")          # reset the high-water mark
    base = status_kb("VmRSS")
    t0 = time.perf_counter()
    prepared, outcome = train(backend, path, shape, classes, batch)
    seconds = time.perf_counter() - t0
    peak = status_kb("VmHWM")
    split = prepared.split
    n = len(split.x_train) + len(split.x_val) + len(split.x_test)
    sample = 4 * math.prod(split.x_train.shape[1:])
    print(json.dumps({"backend": backend, "samples": n, "decoded_bytes": n * (sample + 4),
                      "base_bytes": base * 1024, "grew_bytes": (peak - base) * 1024,
                      "seconds": seconds, "reason": outcome.result.reason,
                      "accuracy": outcome.evaluation["metrics"].get("accuracy")}))


if __name__ == "__main__":
    main(sys.argv[1:])
