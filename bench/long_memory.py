"""Long memory on the NumPy backend: the README's and samples/README's seed figures, measured.

The samples memory_simplernn, memory_lstm and memory_gru (the same network, data and settings,
16 units; only the recurrent layer differs) are trained as saved, once per seed, on the
`recall` task: 50 steps of random symbols, one flagged by a marker channel, the label is the
flagged symbol (chance: 25%). The seed is the project's training seed: it draws the data, the
split, the initial weights and the batches. Per seed the test accuracy of each network and the
seconds each run took are printed; then, per network, the range over the seeds and how many
seeds reached 100%.

Claims this reproduces (README, samples/README.md, tests/backends/numpy/test_memory_task.py):
seeds 0-9, LSTM and GRU 100% on every seed, SimpleRNN 24.4% to 29.5%. The exit status is 1 when
a run misses the samples' targets (LSTM and GRU >= 95%, SimpleRNN <= 35%).

Each run is a training job run by `backends.runner.run_job` (the designer's worker body), in a
process of a pool: `--jobs 1` (default) runs one at a time, so that each run's time is that of
one training on an otherwise idle core; more jobs finish sooner on a machine with spare cores.

Run: .venv/bin/python bench/long_memory.py [--seeds 0-9] [--cells simplernn,lstm,gru] [--jobs 1]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netdesigner.backends import protocol  # noqa: E402
from netdesigner.backends.jobs import Job, run_job  # noqa: E402
from netdesigner.graph import fileformat  # noqa: E402

SAMPLES = ROOT / "samples"
CELLS = {"simplernn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
TARGETS = {"simplernn": (None, 0.35), "lstm": (0.95, None), "gru": (0.95, None)}


def train_one(cell: str, seed: int) -> tuple[str, int, float, int, float]:
    """(cell, seed, test accuracy, epochs run, seconds) of one training of memory_CELL."""
    graph = fileformat.load(SAMPLES / f"memory_{cell}.graph")
    graph.set_training("seed", seed)
    rec = protocol.Recorder()
    start = time.perf_counter()
    run_job(Job(fileformat.dumps(graph), str(SAMPLES), "numpy", stats_every=0), rec,
            lambda: False)
    seconds = time.perf_counter() - start
    errors = rec.of("error")
    if errors:
        raise RuntimeError(f"memory_{cell}, seed {seed}: {errors[0]}")
    (evaluation,) = rec.of("evaluation")
    return cell, seed, evaluation["report"]["accuracy"], len(rec.of("epoch")), seconds


def seed_list(text: str) -> list[int]:
    """'0-9' -> [0, ..., 9]; '3' -> [3]; '0,4,7' -> [0, 4, 7]."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def misses(cell: str, accuracy: float) -> bool:
    low, high = TARGETS[cell]
    return (low is not None and accuracy < low) or (high is not None and accuracy > high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_list, default=seed_list("0-9"),
                        help="training seeds: 0-9, 3 or 0,4,7 (default 0-9)")
    parser.add_argument("--cells", default=",".join(CELLS),
                        help="which samples: simplernn,lstm,gru (default all three)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (default 1)")
    args = parser.parse_args(argv)
    cells = args.cells.split(",")
    unknown = set(cells) - set(CELLS)
    if unknown:
        parser.error(f"unknown cells: {', '.join(sorted(unknown))} (known: {', '.join(CELLS)})")

    print(f"long memory, NumPy backend: samples/memory_{{{','.join(cells)}}}.graph, "
          f"seeds {args.seeds}, {args.jobs} job(s) at once", flush=True)
    results: dict[tuple[str, int], tuple[float, int, float]] = {}
    started = time.perf_counter()
    # spawn: each run starts clean, as the designer's training workers do
    with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(train_one, cell, seed) for seed in args.seeds for cell in cells]
        for future in futures:
            cell, seed, accuracy, epochs, seconds = future.result()
            results[cell, seed] = (accuracy, epochs, seconds)
            print(f"  seed {seed} {CELLS[cell]:>9}: test accuracy {accuracy:6.1%} "
                  f"({epochs} epochs, {seconds:.0f} s)", flush=True)

    header = "seed " + "".join(f"{CELLS[c]:>18}" for c in cells)
    print("\n" + header)
    for seed in args.seeds:
        row = "".join(f"{results[c, seed][0]:>9.1%} ({results[c, seed][2]:4.0f} s)" for c in cells)
        print(f"{seed:>4} {row}")
    print("\nover the seeds:")
    failed = False
    for cell in cells:
        accs = [results[cell, s][0] for s in args.seeds]
        times = [results[cell, s][2] for s in args.seeds]
        perfect = sum(a == 1.0 for a in accs)
        bad = [s for s in args.seeds if misses(cell, results[cell, s][0])]
        failed |= bool(bad)
        print(f"  {CELLS[cell]:>9}: {min(accs):.1%} to {max(accs):.1%}, 100% on {perfect} of "
              f"{len(accs)} seeds; {sum(times) / len(times):.0f} s a run"
              + (f"; MISSES its target on seeds {bad}" if bad else ""))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
