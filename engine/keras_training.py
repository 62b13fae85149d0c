"""Train a graph on real Keras (JAX, PyTorch or TensorFlow) without importing Keras in this process.

The graph leaves as the same ``.keras`` archive ``layergraph export --to keras-file`` writes (its
weights are the engine's, so both start from the same point), the data as a ``.npz``.  A subprocess
(``python -m keras_runner.train``, with the chosen ``KERAS_BACKEND``) deserializes the model with
``safe_mode=True``, fits it with the same split, seed, batch size, optimizer and loss, and writes the
trained archive, which the engine's own importer reads back.  This is how a user with a GPU trains
from layergraph: Keras uses whatever accelerator its backend finds.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.errors import TrainingError, UsageError
from engine.export.keras_code import keras_names
from engine.export.keras_file import keras_archive
from engine.export.plan import Weights, make_plan
from engine.graph import LayerGraph

KERAS_BACKENDS = ("jax", "torch", "tensorflow")
_ROOT = Path(__file__).resolve().parents[1]


def installed_backends() -> list[str]:
    """The Keras backends this Python can run (Keras itself and the backend's package are installed)."""
    if importlib.util.find_spec("keras") is None:
        return []
    return [b for b in KERAS_BACKENDS if importlib.util.find_spec(b) is not None]


def missing_keras_hint() -> str:
    return ("training on Keras needs keras and one of jax, torch or tensorflow in this Python "
            "(pip install keras jax)")


@dataclass
class KerasRun:
    weights: Weights
    backend: str
    history: dict[str, list[float]] = field(default_factory=dict)


def train_on_keras(graph: LayerGraph, weights: Weights, training: dict[str, Any], x: Any, y: np.ndarray, *,
                   backend: str | None = None, epochs: int, batch_size: int, validation_split: float,
                   seed: int | None, shuffle: bool = True,
                   on_epoch: Callable[[dict[str, float]], None] | None = None) -> KerasRun:
    """Fit ``graph`` from ``weights`` on Keras; the trained weights come back keyed by node id."""
    installed = installed_backends()
    if not installed:
        raise UsageError(missing_keras_hint() + ".")
    backend = backend or installed[0]
    if backend not in installed:
        raise UsageError(f"the Keras backend {backend!r} is not installed here; installed: {', '.join(installed)}.")
    plan = make_plan(graph)
    names = keras_names(plan)
    n = len(y)
    cut = int(np.floor(n * (1.0 - validation_split))) if validation_split else n
    with tempfile.TemporaryDirectory(prefix="layergraph-keras-") as tmp:
        work = Path(tmp)
        (work / "model.keras").write_bytes(keras_archive(graph, weights, training))
        arrays = ({names[nid]: np.asarray(x[plan.name(nid)]) for nid in plan.inputs} if isinstance(x, dict)
                  else {"x": np.asarray(x)})
        np.savez(work / "data.npz", y=np.asarray(y), **arrays)
        request = {"model": str(work / "model.keras"), "data": str(work / "data.npz"),
                   "output": str(work / "trained.keras"), "epochs": int(epochs), "batch_size": int(batch_size),
                   "validation_cut": cut, "seed": seed, "shuffle": bool(shuffle)}
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
        result = _run(work, backend, on_epoch)
        from engine.export.keras_import import import_model

        trained = import_model(work / "trained.keras")
    by_name = {trained.graph.node(nid).name: nid for nid in trained.graph.nodes}
    back = {nid: trained.weights[by_name[names[nid]]] for nid in plan.order
            if names[nid] in by_name and by_name[names[nid]] in trained.weights}
    return KerasRun(back, result.get("backend", backend), result.get("history", {}))


def _run(work: Path, backend: str, on_epoch) -> dict[str, Any]:
    env = dict(os.environ, KERAS_BACKEND=backend)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
    result: dict[str, Any] = {}
    with open(work / "stderr.txt", "w+", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-m", "keras_runner.train", str(work / "request.json")],
                                stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env, text=True)
        try:
            for line in proc.stdout:
                if line.startswith("EPOCH ") and on_epoch is not None:
                    on_epoch(json.loads(line[6:]))
                elif line.startswith("DONE "):
                    result = json.loads(line[5:])
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        err.seek(0)
        lines = [ln for ln in err.read().splitlines() if ln.strip()]
    if code != 0 or not result:
        raise TrainingError(f"Keras ({backend}) stopped: {lines[-1] if lines else f'exit code {code}'}")
    return result
