"""The Proof's Keras check: the same layer, weights and inputs run by Keras 3 in a separate process.

The engine never imports Keras (tests/test_architecture.py): ``python -m keras_runner.proof`` is started with
this interpreter, ``KERAS_BACKEND=jax`` unless the environment says otherwise, and exchanges JSON and ``.npz``
files (read without pickle).  Many layers go through one process, because importing Keras takes seconds.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.layers import Layer

_ROOT = Path(__file__).resolve().parents[2]
KERAS_TOLERANCE = 1e-5  # Keras computes in float32
TIMEOUT_S = 600


@dataclass
class KerasCase:
    layer: Layer
    inputs: list[np.ndarray]
    weights: dict[str, np.ndarray]
    engine_output: np.ndarray


@dataclass
class KerasResult:
    version: str | None  # None: Keras did not run (not installed, or the process failed)
    difference: float | None  # max |engine - Keras|; None when Keras could not compute this case
    message: str  # one line: the difference, or why there is none

    @property
    def passed(self) -> bool | None:
        if self.difference is None:
            return None if self.version is None else False
        return self.difference <= KERAS_TOLERANCE


def keras_installed() -> bool:
    """Whether Keras can be imported by this interpreter (found without importing it)."""
    return importlib.util.find_spec("keras") is not None


def keras_envelope(layer: Layer) -> dict:
    from engine.export.keras_config import keras_layer_config, layer_envelope

    return layer_envelope(layer.class_name, keras_layer_config(layer, None), layer.keras_module)


def _write_cases(folder: Path, cases: list[KerasCase]) -> None:
    manifest, arrays = [], {}
    for i, case in enumerate(cases):
        manifest.append({"index": i, "layer": keras_envelope(case.layer), "inputs": len(case.inputs),
                         "weights": len(case.weights)})
        arrays.update({f"c{i}_x{j}": x for j, x in enumerate(case.inputs)})
        arrays.update({f"c{i}_w{k}": w for k, w in enumerate(case.weights.values())})
    (folder / "cases.json").write_text(json.dumps(manifest), encoding="utf-8")
    np.savez(folder / "arrays.npz", **arrays)


def _compare(case: KerasCase, keras_out: np.ndarray | None, error: str | None, declared: list | None,
             version: str) -> KerasResult:
    if error is not None or keras_out is None:
        return KerasResult(version, None, f"Keras {version} could not run it: {error}")
    ours = np.asarray(case.engine_output, dtype=np.float64)
    if declared is not None and tuple(declared) == ours.shape != keras_out.shape:
        # Keras contradicts itself (its call returns another shape than its own compute_output_shape): a
        # Keras bug (RandomCrop at inference in 3.15), not a disagreement the engine can be judged by
        return KerasResult(None, None, f"not comparable: Keras {version} declares the output shape "
                                       f"{tuple(declared)}, as the engine computes, but its call returns "
                                       f"{keras_out.shape} (a Keras bug)")
    if keras_out.shape != ours.shape:
        return KerasResult(version, None, f"Keras {version} returned shape {keras_out.shape}, the engine "
                                          f"{ours.shape}")
    diff = float(np.max(np.abs(ours - keras_out.astype(np.float64)))) if ours.size else 0.0
    return KerasResult(version, diff, f"max |engine − Keras {version}| = {diff:.3g} "
                                      f"(tolerance {KERAS_TOLERANCE:g}, Keras in float32)")


def run_keras(cases: list[KerasCase]) -> list[KerasResult]:
    """Every case run by Keras in one child process; a missing Keras or a failed process is said per case."""
    if not cases:
        return []
    if not keras_installed():
        return [KerasResult(None, None, "Keras is not installed, so it was not run (pip install keras jax).")] \
            * len(cases)
    with tempfile.TemporaryDirectory(prefix="layergraph-proof-") as tmp:
        folder = Path(tmp)
        _write_cases(folder, cases)
        env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        try:
            proc = subprocess.run([sys.executable, "-m", "keras_runner.proof", str(folder)], env=env,
                                  capture_output=True, text=True, timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return [KerasResult(None, None, f"the Keras process did not finish: {exc}")] * len(cases)
        try:
            results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            return [KerasResult(None, None, f"the Keras process failed: {last}")] * len(cases)
        if results.get("keras") is None:
            return [KerasResult(None, None, results.get("error", "Keras did not run."))] * len(cases)
        version = f"{results['keras']} ({results['backend']})"
        with np.load(folder / "outputs.npz", allow_pickle=False) as outputs:
            got = {name: outputs[name] for name in outputs.files}
    declared = results.get("declared") or [None] * len(cases)
    return [_compare(case, got.get(f"c{i}"), results["errors"][i], declared[i], version)
            for i, case in enumerate(cases)]
