"""Custom layer speed (issue 16): a training step of a Dense written as a custom layer (its call over the
NumPy ``ops`` shim, gradients by autograd) against the built-in Dense, 256 units on a batch of 256.

The target is a ratio under 2x.  Both run the same step through the executor (forward with training, the
backward from a mean-squared-error gradient, SGD updates), interleaved, median of many repeats, so the
machine's load affects both alike.

    python bench/custom_layer_bench.py [--repeats 200] [--features 256]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from engine.custom import trust  # noqa: E402
from engine.executor import Executor  # noqa: E402
from engine.graph import LayerGraph  # noqa: E402
from engine.runtime import with_blas_threads  # noqa: E402

UNITS = BATCH = 256
CUSTOM_DENSE = {
    "name": "HandDense",
    "arguments": [{"name": "units", "kind": "int", "default": 32}],
    "weights": [{"name": "kernel", "shape": "input_shape[-1], units", "initializer": "glorot_uniform"},
                {"name": "bias", "shape": "units", "initializer": "zeros"}],
    "call": "return ops.relu(ops.matmul(inputs, self.kernel) + self.bias)\n",
}


def one_layer(class_name: str, config: dict, features: int) -> tuple[Executor, str, dict]:
    g = LayerGraph()
    i = g.add_node("Input", {"shape": [features]})
    n = g.add_node(class_name, config)
    g.connect(i, n)
    ex = Executor(g)
    rng = np.random.default_rng(0)
    weights = {n: g.layer(n).init_weights([(None, features)], rng)}
    return ex, n, weights


def step_time(ex: Executor, node: str, weights: dict, x: np.ndarray, y: np.ndarray) -> float:
    inputs = {ex.plan.input_ids[0]: x}
    start = time.perf_counter()
    fwd = ex.forward(weights, inputs, training=True)
    pred = fwd.activations[node]
    grads, _ = ex.backward(weights, fwd, {node: 2 * (pred - y) / pred.size})
    for name, g in grads[node].items():
        weights[node][name] -= 0.01 * g
    return time.perf_counter() - start


@with_blas_threads  # the engine's BLAS setting, as in training
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--features", type=int, default=256)
    args = p.parse_args(argv)
    trust.trust_this_process()  # the benchmark's own code
    rng = np.random.default_rng(1)
    x = rng.normal(size=(BATCH, args.features)).astype(np.float32)
    y = rng.normal(size=(BATCH, UNITS)).astype(np.float32)
    built_in = one_layer("Dense", {"units": UNITS, "activation": "relu"}, args.features)
    custom = one_layer("CustomLayer", {"definition": CUSTOM_DENSE, "arguments": {"units": UNITS}}, args.features)
    times: dict[str, list[float]] = {"Dense": [], "custom": []}
    for _ in range(10):  # warm-up
        step_time(*built_in, x, y)
        step_time(*custom, x, y)
    for _ in range(args.repeats):
        times["Dense"].append(step_time(*built_in, x, y))
        times["custom"].append(step_time(*custom, x, y))
    dense, hand = statistics.median(times["Dense"]), statistics.median(times["custom"])
    print(f"training step, Dense({UNITS}) on a batch of {BATCH} x {args.features} features, median of "
          f"{args.repeats}:")
    print(f"  built-in Dense      {dense * 1e3:8.3f} ms")
    print(f"  custom-layer Dense  {hand * 1e3:8.3f} ms")
    print(f"  ratio custom / built-in: {hand / dense:.2f}x (target < 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
