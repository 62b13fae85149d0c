"""Engine speed: forward (inference) and one training step for three small models, against PyTorch CPU.

Models (batch 64, float32): an MLP 784-256-256-10, a CNN on 28x28x1 (Conv2D 32 3x3 - MaxPool - Conv2D 64
3x3 - MaxPool - Flatten - Dense 128 - Dense 10) and an LSTM(128) over 50 steps of 32 features with a
Dense(10) head.  A training step is forward, sparse categorical crossentropy on the softmax output,
backward and one Adam update.  When ``import torch`` works the same models run in the same process,
interleaved with ours so machine load affects both, with ``torch.set_num_threads`` equal to our BLAS
thread count; otherwise only our numbers are printed.

The last line is the worst ratio at the engine's default BLAS thread count (1, see ``engine.runtime``);
lines for the other thread counts come just before it.  Times are wall clock, so a loaded machine
inflates both columns; the 2-thread rows are the most load-sensitive (OpenBLAS and PyTorch's OpenMP
threads then compete with whatever else runs on the two cores).

GFLOP/s counts 2 flops per multiply-add of the matmuls/convolutions (forward; a training step adds the
weight-gradient and input-gradient products, without the input gradient of the first layer).

    python bench/engine_bench.py [--threads 1,2] [--repeats 7] [--models mlp,cnn,lstm]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_limits  # noqa: E402

from engine.graph import LayerGraph  # noqa: E402
from engine.runtime import blas_threads, set_blas_threads  # noqa: E402
from engine.training import Trainer  # noqa: E402

BATCH = 64
FORWARD_TARGET = 1.3
TRAIN_TARGET = 1.5


# ----- the models, as layergraph graphs ---------------------------------------------------------------------
def _chain(input_shape, layers) -> LayerGraph:
    g = LayerGraph()
    prev = g.add_node("Input", {"shape": list(input_shape)})
    for cname, cfg in layers:
        nid = g.add_node(cname, cfg)
        g.connect(prev, nid)
        prev = nid
    return g


def mlp_graph() -> LayerGraph:
    return _chain((784,), [("Dense", {"units": 256, "activation": "relu"}),
                           ("Dense", {"units": 256, "activation": "relu"}),
                           ("Dense", {"units": 10, "activation": "softmax"})])


def cnn_graph() -> LayerGraph:
    return _chain((28, 28, 1), [("Conv2D", {"filters": 32, "kernel_size": [3, 3], "activation": "relu"}),
                                ("MaxPooling2D", {"pool_size": [2, 2]}),
                                ("Conv2D", {"filters": 64, "kernel_size": [3, 3], "activation": "relu"}),
                                ("MaxPooling2D", {"pool_size": [2, 2]}),
                                ("Flatten", {}),
                                ("Dense", {"units": 128, "activation": "relu"}),
                                ("Dense", {"units": 10, "activation": "softmax"})])


def lstm_graph() -> LayerGraph:
    return _chain((50, 32), [("LSTM", {"units": 128}), ("Dense", {"units": 10, "activation": "softmax"})])


# multiply-adds per sample of each weight product: (macs, is_first_layer)
MACS = {
    "mlp": [(784 * 256, True), (256 * 256, False), (256 * 10, False)],
    "cnn": [(26 * 26 * 32 * 9 * 1, True), (11 * 11 * 64 * 9 * 32, False), (1600 * 128, False), (128 * 10, False)],
    "lstm": [(50 * 32 * 512, True), (50 * 128 * 512, False), (128 * 10, False)],
}
GRAPHS = {"mlp": mlp_graph, "cnn": cnn_graph, "lstm": lstm_graph}
INPUT_SHAPES = {"mlp": (784,), "cnn": (28, 28, 1), "lstm": (50, 32)}


def flops(model: str) -> tuple[float, float]:
    """(forward, training step) flops for one batch."""
    fwd = sum(m for m, _ in MACS[model])
    train = fwd + fwd + sum(m for m, first in MACS[model] if not first)
    return 2.0 * fwd * BATCH, 2.0 * train * BATCH


# ----- ours -----------------------------------------------------------------------------------------------------
def ours(model: str, x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
    tr = Trainer(GRAPHS[model](), loss="sparse_categorical_crossentropy", optimizer="adam", seed=0)
    xb, yb = tr.prepare(x, y)
    rng = np.random.default_rng(0)

    def forward() -> None:
        tr.executor.forward(tr.params, xb, training=False)

    def step() -> None:
        tr.train_step(xb, yb, rng)

    return forward, step


# ----- PyTorch twins ---------------------------------------------------------------------------------------------
def torch_models(torch):
    nn = torch.nn

    class LSTMHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(32, 128, batch_first=True)
            self.dense = nn.Linear(128, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return torch.softmax(self.dense(out[:, -1]), dim=-1)

    return {
        "mlp": lambda: nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                                     nn.Linear(256, 10), nn.Softmax(dim=-1)),
        "cnn": lambda: nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3),
                                     nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(),
                                     nn.Linear(128, 10), nn.Softmax(dim=-1)),
        "lstm": LSTMHead,
    }


def theirs(torch, model: str, x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], None], Callable[[], None]]:
    torch.manual_seed(0)
    net = torch_models(torch)[model]()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    tx = torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if model == "cnn" else x)
    ty = torch.from_numpy(y.astype(np.int64))

    def forward() -> None:
        with torch.inference_mode():
            net(tx)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        p = net(tx)  # probabilities, crossentropy as Keras computes it from_logits=False
        loss = torch.nn.functional.nll_loss(torch.log(p.clamp(1e-7, 1 - 1e-7)), ty)
        loss.backward()
        opt.step()

    return forward, step


# ----- timing ------------------------------------------------------------------------------------------------------
def _time(fn: Callable[[], None], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def interleaved(a: Callable[[], None], b: Callable[[], None] | None, repeats: int, inner: int,
                threads: int, torch) -> tuple[float, float | None]:
    """Median seconds per call of ``a`` (ours) and ``b`` (torch), alternating blocks of ``inner`` calls."""
    ta: list[float] = []
    tb: list[float] = []
    with threadpool_limits(limits=threads, user_api="blas"):
        a()
        if b is not None:
            b()
        for r in range(repeats):
            order = [(a, ta), (b, tb)] if r % 2 == 0 else [(b, tb), (a, ta)]
            for fn, acc in order:
                if fn is not None:
                    acc.extend(_time(fn, inner))
    return statistics.median(ta), (statistics.median(tb) if tb else None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated BLAS thread counts (default 1,2)")
    ap.add_argument("--repeats", type=int, default=7, help="alternating blocks per measurement")
    ap.add_argument("--inner", type=int, default=5, help="calls per block")
    ap.add_argument("--models", default="mlp,cnn,lstm")
    ap.add_argument("--no-torch", action="store_true", help="time only layergraph")
    args = ap.parse_args(argv)
    try:
        if args.no_torch:
            raise ImportError
        import torch
    except ImportError:
        torch = None
    engine_default = blas_threads()
    rng = np.random.default_rng(0)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    print(f"batch {BATCH}, float32; median of {args.repeats}x{args.inner} calls"
          + (f"; PyTorch {torch.__version__} CPU interleaved" if torch else "; PyTorch not installed"))
    head = f"{'model':5} {'thr':>3} {'what':7} {'ours ms':>8} {'GFLOP/s':>8}"
    if torch:
        head += f" {'torch ms':>9} {'GFLOP/s':>8} {'ratio':>6} {'target':>6}"
    print(head)
    thread_counts = [int(t) for t in args.threads.split(",")]
    worst = {n: {"forward": 0.0, "train": 0.0} for n in thread_counts}
    for threads in thread_counts:
        set_blas_threads(threads)
        if torch:
            torch.set_num_threads(threads)
        for model in models:
            x = rng.standard_normal((BATCH, *INPUT_SHAPES[model])).astype(np.float32)
            y = rng.integers(0, 10, BATCH)
            o_fwd, o_step = ours(model, x, y)
            t_fwd, t_step = theirs(torch, model, x, y) if torch else (None, None)
            fl = dict(zip(("forward", "train"), flops(model)))
            for what, a, b, target in (("forward", o_fwd, t_fwd, FORWARD_TARGET),
                                       ("train", o_step, t_step, TRAIN_TARGET)):
                sa, sb = interleaved(a, b, args.repeats, args.inner, threads, torch)
                line = f"{model:5} {threads:>3} {what:7} {sa * 1e3:8.2f} {fl[what] / sa / 1e9:8.1f}"
                if sb is not None:
                    ratio = sa / sb
                    worst[threads][what] = max(worst[threads][what], ratio)
                    ok = "ok" if ratio <= target else "MISS"
                    line += f" {sb * 1e3:9.2f} {fl[what] / sb / 1e9:8.1f} {ratio:6.2f} {ok:>6}"
                print(line, flush=True)
    if torch:
        default = engine_default if engine_default in worst else thread_counts[0]
        for n in [*(n for n in thread_counts if n != default), default]:
            w = worst[n]
            label = "" if n == default else f" ({n} BLAS threads)"
            print(f"worst ratio vs torch{label}: forward {w['forward']:.2f}, train step {w['train']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
