"""Fuzzing the loader and validation with mutated samples (issue 12's acceptance).

`make test` runs 300 files from a fixed seed (a few seconds); `make test-long` runs 2,400 from
a fresh seed (printed, and saved files named after it, to reproduce a failure). Each file goes
through `netdesigner validate` and a save in one process (tests/fuzz/harness.py) under a time
limit per file and a memory limit for the process: every file must end as refused (exit 2),
problems (exit 1) or fine (exit 0) — no traceback, no hang, no MemoryError, and every file
that loads must save and load again. Opening the loadable ones in the designer is
tests/designer/test_hostile_files_open.py.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("harness.py")
ROOT = Path(__file__).resolve().parents[2]


def run_harness(seed: int, count: int, folder: Path, time_limit: float = 3.0) -> dict:
    summary = folder / "summary.json"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(HARNESS), "--seed", str(seed), "--count", str(count),
                    "--folder", str(folder / "files"), "--summary", str(summary),
                    "--time-limit", str(time_limit)],
                   cwd=ROOT, env=env, check=True, timeout=count * time_limit + 300)
    return json.loads(summary.read_text())


def assert_clean(summary: dict) -> None:
    failures = "\n".join(f"{f['file']}: {f['outcome']}: {f['detail']}"
                         for f in summary["failures"])
    assert not summary["failures"], (f"seed {summary['seed']}: {len(summary['failures'])} of "
                                     f"{summary['files']} files failed:\n{failures}")


def test_a_few_hundred_mutated_projects(tmp_path):
    summary = run_harness(0, 300, tmp_path)
    assert_clean(summary)
    counts = summary["counts"]
    assert sum(counts.values()) == 300
    # the mutations must leave enough loadable files to exercise validation, not only the
    # loader's refusals
    assert counts["ok"] + counts["problems"] >= 40, counts
    print(f"\nfuzz seed 0: {counts} in {summary['seconds']} s; slowest {summary['slowest']}")


@pytest.mark.long
def test_thousands_of_mutated_projects(tmp_path):
    seed = int(os.environ.get("FUZZ_SEED", random.SystemRandom().randrange(2 ** 31)))
    summary = run_harness(seed, 2400, tmp_path)
    print(f"\nfuzz seed {seed} (FUZZ_SEED={seed} to repeat): {summary['counts']} in "
          f"{summary['seconds']} s; slowest {summary['slowest']}")
    assert_clean(summary)
    assert summary["counts"]["ok"] + summary["counts"]["problems"] >= 300
