"""Validation speed on large graphs: full validation and re-validation after one edit.

Prints times for a 1,000-node chain and a 1,000-node random DAG with merges, and each against its
target (full < 100 ms, one edit < 10 ms) as a ratio (< 1.0 meets the target).

    python bench/validation_bench.py
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.graph import LayerGraph  # noqa: E402
from engine.validation import Validator  # noqa: E402

N = 1000
FULL_TARGET_MS = 100.0
EDIT_TARGET_MS = 10.0


def chain_graph(n: int) -> tuple[LayerGraph, list[str]]:
    g = LayerGraph()
    ids = [g.add_node("Input", {"shape": [16]})]
    for i in range(n - 1):
        ids.append(g.add_node("Dense", {"units": 16 + (i % 3)}))
        g.connect(ids[-2], ids[-1])
    return g, ids


def dag_graph(n: int, seed: int = 0) -> tuple[LayerGraph, list[str]]:
    rnd = random.Random(seed)
    g = LayerGraph()
    ids = [g.add_node("Input", {"shape": [16]})]
    while len(ids) < n:
        if len(ids) > 4 and rnd.random() < 0.25:
            merge = g.add_node(rnd.choice(["Add", "Concatenate", "Multiply", "Maximum"]))
            for src in rnd.sample(ids[-30:], rnd.choice([2, 3])):
                g.connect(src, merge)
            ids.append(merge)
            dense = g.add_node("Dense", {"units": 16})
            g.connect(merge, dense)
            ids.append(dense)
        else:
            node = _add_kind(g, rnd.choice(["Dense", "Activation"]))
            g.connect(rnd.choice(ids[-10:]), node)
            ids.append(node)
    return g, ids


def _add_kind(g, cn):
    return g.add_node(cn, {"units": 16} if cn == "Dense" else {"activation": "relu"} if cn == "Activation" else None)


def measure(name: str, g: LayerGraph, edit_node: str, repeats: int = 7) -> tuple[float, float]:
    fulls, edits = [], []
    for _ in range(repeats):
        g._layers.clear()  # cold layer cache: full validation builds every layer object
        v = Validator(g)
        t = time.perf_counter()
        r = v.validate(full=True)
        fulls.append((time.perf_counter() - t) * 1000)
        units = g.node(edit_node).config.get("units", 16)
        g.set_config_value(edit_node, "units", 17 if units != 17 else 16)
        t = time.perf_counter()
        v.validate()
        edits.append((time.perf_counter() - t) * 1000)
    full, edit = statistics.median(fulls), statistics.median(edits)
    print(f"{name:<34} nodes {len(g):>5}  problems {len(r.problems):>3}   full validation {full:7.2f} ms "
          f"(x{full / FULL_TARGET_MS:.2f} of target)   "
          f"one edit {edit:6.2f} ms (x{edit / EDIT_TARGET_MS:.2f} of target)")
    return full, edit


def main() -> int:
    g, ids = chain_graph(N)
    measure("1,000-node chain, edit in middle", g, ids[N // 2])
    measure("1,000-node chain, edit at start", g, ids[1])
    g, ids = dag_graph(N)
    dense = [i for i in ids if g.node(i).class_name == "Dense"]
    measure("1,000-node DAG with merges, middle", g, dense[len(dense) // 2])
    measure("1,000-node DAG with merges, start", g, dense[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
