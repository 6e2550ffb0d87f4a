"""Runs mutated projects through `netdesigner validate` and a save, in one process, each file
under a time limit, the whole process under a memory limit.

    python tests/fuzz/harness.py --seed 0 --count 300 --folder /tmp/fuzz --summary out.json

It is started as a subprocess by tests/fuzz/test_fuzz.py so that the memory limit
(RLIMIT_AS) and a runaway allocation cannot take the test session down with it. Outcomes per
file: `refused` (validate exit 2, a GraphFileError), `problems` (exit 1), `ok` (exit 0); the
failures are `traceback` (an exception escaped, or exit 3: the CLI's internal-error code),
`hang` (over the time limit), `memory` (MemoryError under the limit) and `save` (a file that
loads but does not save, or whose save does not load again).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):            # run as a script: import the mutator beside it
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mutator import mutants          # noqa: E402
else:
    from tests.fuzz.mutator import mutants

FAILURES = ("traceback", "hang", "memory", "save")


class Hang(BaseException):
    """Raised by the timer; a BaseException so that no `except Exception` in the program
    under test can swallow it and pass a hang off as a handled error."""


def _alarm(signum, frame):
    raise Hang()


def check_file(path: Path, time_limit: float) -> tuple[str, str]:
    """(outcome, detail) of one file through validate and save."""
    from netdesigner.designer.cli import main
    from netdesigner.graph import fileformat
    out, err = io.StringIO(), io.StringIO()
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["validate", str(path)])
        if rc == 3 or rc not in (0, 1, 2):
            return "traceback", f"validate exit {rc}: {err.getvalue().strip()[-400:]}"
        if rc == 2:
            return "refused", err.getvalue().strip()[:300]
        # what validate reads must also save, and the saved file load again
        graph = fileformat.load(path)
        copy = path.with_name(path.stem + ".saved.graph")
        try:
            fileformat.save(graph, copy)
            fileformat.load(copy)
        except Exception as e:
            return "save", f"{type(e).__name__}: {e}"[:400]
        finally:
            copy.unlink(missing_ok=True)
        return ("ok" if rc == 0 else "problems"), ""
    except Hang:
        return "hang", f"over {time_limit} s"
    except MemoryError:
        return "memory", "MemoryError"
    except RecursionError as e:
        return "traceback", f"RecursionError: {e}"[:400]
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
        return "traceback", f"{type(e).__name__} at {where}: {e}"[:400]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def run(seed: int, count: int, folder: Path, time_limit: float) -> dict:
    signal.signal(signal.SIGALRM, _alarm)
    folder.mkdir(parents=True, exist_ok=True)
    counts = {k: 0 for k in ("ok", "problems", "refused", *FAILURES)}
    failures, loaded, slowest = [], [], (0.0, "")
    start = time.perf_counter()
    for name, text in mutants(seed, count):
        path = folder / f"{name}.graph"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        t0 = time.perf_counter()
        outcome, detail = check_file(path, time_limit)
        took = time.perf_counter() - t0
        slowest = max(slowest, (took, name))
        counts[outcome] += 1
        if outcome in FAILURES:
            failures.append({"file": str(path), "outcome": outcome, "detail": detail})
        else:
            if outcome in ("ok", "problems"):
                loaded.append(str(path))
            path.unlink()            # keep only the files that failed, to reproduce them
    return {"seed": seed, "files": count, "counts": counts, "failures": failures,
            "loaded": loaded, "seconds": round(time.perf_counter() - start, 2),
            "slowest": {"seconds": round(slowest[0], 3), "file": slowest[1]}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--count", type=int, default=300)
    p.add_argument("--folder", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--time-limit", type=float, default=3.0, help="seconds per file")
    p.add_argument("--memory-mb", type=int, default=3072,
                   help="address-space limit of this process (RLIMIT_AS)")
    args = p.parse_args(argv)
    limit = args.memory_mb * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    summary = run(args.seed, args.count, Path(args.folder), args.time_limit)
    Path(args.summary).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
