"""How validation time grows with the size of the network.

Builds chains and branchy graphs (residual-style: every few layers a branch is added back in)
of 100, 1,000 and 10,000 nodes and prints, per size: a full validation, and an incremental
re-validation after one edit (the last layer's activation, and a Dense width in the middle,
whose change reaches only the next layer). The peer is the full validation of the same graph,
measured in the same run: the ratio says how much an edit saves.

Run: .venv/bin/python bench/validate_scaling.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netdesigner.graph import Analysis, Graph  # noqa: E402


def chain(n: int) -> tuple[Graph, list[str]]:
    g = Graph()
    prev = g.add_node("Input", {"shape": (32,)})
    ids = [prev]
    for i in range(n - 1):
        node = g.add_node("Dense", {"units": 32, "activation": "relu"}, (200.0 * i, 0.0))
        g.connect(prev, 0, node, 0)
        ids.append(node)
        prev = node
    return g, ids


def branchy(n: int) -> tuple[Graph, list[str]]:
    """Residual units: x -> Dense -> Dense -> Add(x, .), repeated; 4 nodes per unit."""
    g = Graph()
    x = g.add_node("Input", {"shape": (32,)})
    ids = [x]
    while len(g) + 5 <= n:
        a = g.add_node("Dense", {"units": 32, "activation": "relu"})
        b = g.add_node("Dense", {"units": 32})
        add = g.add_node("Add")
        out = g.add_node("Activation", {"activation": "relu"})
        g.connect(x, 0, a, 0)
        g.connect(a, 0, b, 0)
        g.connect(b, 0, add, 0)
        g.connect(x, 0, add, 1)
        g.connect(add, 0, out, 0)
        ids += [a, b, add, out]
        x = out
    while len(g) < n:           # pad to exactly n nodes; the last one is a Dense head
        d = g.add_node("Dense", {"units": 32})
        g.connect(x, 0, d, 0)
        ids.append(d)
        x = d
    return g, ids


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure(build, n: int) -> dict:
    g, ids = build(n)
    repeat = 5 if n <= 1000 else 2
    full = best_of(lambda: Analysis(g, live=False), repeat)
    live = Analysis(g)
    # a Dense feeding only Dense layers: changing its width changes one neighbour's weights
    dense = [i for i in ids if g.node(i).type == "Dense" and g.successors(i)
             and all(g.node(s).type == "Dense" for s in g.successors(i))]
    middle = dense[len(dense) // 2]
    toggle = iter(range(10**9))

    def edit_last():
        g.set_param(ids[-1], "activation", "tanh" if next(toggle) % 2 else "relu")
        live.refresh()

    def edit_middle():
        g.set_param(middle, "units", 16 if next(toggle) % 2 else 32)
        live.refresh()

    last = best_of(edit_last, 7)
    recomputed_last = live.recomputed
    mid = best_of(edit_middle, 7)
    recomputed_mid = live.recomputed
    assert live.ok, live.problems()[:3]
    return {"full": full, "last": last, "mid": mid, "n_last": recomputed_last,
            "n_mid": recomputed_mid}


def main() -> None:
    print(f"{'graph':<8} {'nodes':>6} {'full':>10} {'per node':>9} {'edit last':>10} "
          f"{'edit mid':>10} {'recomputed':>10} {'full/edit':>10}")
    for name, build in (("chain", chain), ("branchy", branchy)):
        for n in (100, 1_000, 10_000):
            r = measure(build, n)
            print(f"{name:<8} {n:>6} {r['full'] * 1e3:>8.2f}ms {r['full'] / n * 1e6:>7.1f}us "
                  f"{r['last'] * 1e3:>8.3f}ms {r['mid'] * 1e3:>8.3f}ms "
                  f"{r['n_last']:>4}/{r['n_mid']:<5} {r['full'] / r['mid']:>9.0f}x")


if __name__ == "__main__":
    main()
