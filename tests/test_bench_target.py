"""`make bench` runs every benchmark script in bench/, each guarded for the processes it starts."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_bench_runs_every_script_in_bench():
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^bench:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert target, "no bench target in the Makefile"
    run = set(re.findall(r"bench/(\w+\.py)", target.group(1)))
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")}
    assert run == scripts, f"left out: {sorted(scripts - run)}; missing: {sorted(run - scripts)}"


def test_every_bench_script_runs_only_as_a_script():
    # spawned worker processes import the main module again: without the guard they would
    # start the benchmark once more each
    for script in (ROOT / "bench").glob("*.py"):
        assert 'if __name__ == "__main__":' in script.read_text(), script.name
