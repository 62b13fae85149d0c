"""Proof on real architectures: every keras.applications family through import, summary, predict and both exports.

For each architecture (the smallest variant of each family; ``--all`` for every variant), built by Keras with
``weights=None`` at a small input size and with random BatchNormalization statistics:

  import (.keras -> graph) -> total parameters equal Keras's -> engine predict equals Keras (rtol 1e-4, atol 1e-5)
  -> the Keras export rebuilds the model with equal predictions -> the NumPy export, run in a process that can
  import numpy only, gives equal predictions.

Prints one line per architecture with its timings and ends with ``N/N architectures match``; exit 0 when all do.
Needs the test extra (Keras 3 + JAX):  python tools/keras_applications.py [--all] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

#: family -> (smallest variant, input side, extra constructor arguments); variants for --all follow.
SMALLEST: dict[str, tuple[str, int, dict]] = {
    "MobileNet": ("MobileNet", 32, {"alpha": 0.25}),
    "MobileNetV2": ("MobileNetV2", 32, {"alpha": 0.35}),
    "MobileNetV3": ("MobileNetV3Small", 32, {"alpha": 0.75, "minimalistic": True}),
    "EfficientNet": ("EfficientNetB0", 32, {}),
    "EfficientNetV2": ("EfficientNetV2B0", 32, {}),
    "ConvNeXt": ("ConvNeXtTiny", 32, {}),
    "ResNet": ("ResNet50", 32, {}),
    "ResNetV2": ("ResNet50V2", 32, {}),
    "DenseNet": ("DenseNet121", 32, {}),
    "Inception": ("InceptionV3", 75, {}),
    "InceptionResNet": ("InceptionResNetV2", 75, {}),
    "Xception": ("Xception", 71, {}),
    "NASNet": ("NASNetMobile", 32, {}),
    "VGG": ("VGG16", 32, {}),
}
OTHER_VARIANTS = {
    "MobileNetV3": ["MobileNetV3Large"], "EfficientNet": [f"EfficientNetB{i}" for i in range(1, 8)],
    "EfficientNetV2": ["EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S",
                       "EfficientNetV2M", "EfficientNetV2L"],
    "ConvNeXt": ["ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"],
    "ResNet": ["ResNet101", "ResNet152"], "ResNetV2": ["ResNet101V2", "ResNet152V2"],
    "DenseNet": ["DenseNet169", "DenseNet201"], "NASNet": ["NASNetLarge"], "VGG": ["VGG19"],
}
RTOL, ATOL = 1e-4, 1e-5

NUMPY_ONLY = r'''
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
np.save(sys.argv[3], mod.predict(np.load(sys.argv[2])))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "jax", "engine", "h5py"))))
'''


def build(ctor: str, side: int, extra: dict, seed: int = 0):
    """The Keras model with random BatchNormalization statistics (so inference really uses them)."""
    import keras

    model = getattr(keras.applications, ctor)(weights=None, input_shape=(side, side, 3), classes=10,
                                              classifier_activation=None, **extra)
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False):
        if type(layer).__name__ == "BatchNormalization":
            mean, var = layer.moving_mean, layer.moving_variance
            mean.assign(rng.normal(0, 0.1, mean.shape).astype("float32"))
            var.assign(rng.uniform(0.5, 1.5, var.shape).astype("float32"))
    return model


def check(ctor: str, side: int, extra: dict, tmp: Path) -> dict:
    """One architecture through the whole chain; returns timings and the first failure, if any."""
    from engine.executor import Executor
    from engine.export.cli import write_export
    from engine.export.keras_import import import_model
    from engine.summary import summarize

    times: dict[str, float] = {}
    t = time.perf_counter()
    model = build(ctor, side, extra)
    x = np.random.default_rng(1).uniform(0, 255, (2, side, side, 3)).astype("float32")
    expected = np.asarray(model.predict(x, verbose=0))
    path = tmp / f"{ctor}.keras"
    model.save(path)
    times["keras"] = time.perf_counter() - t

    t = time.perf_counter()
    imported = import_model(path)
    times["import"] = time.perf_counter() - t
    graph, weights = imported.graph, imported.weights
    total = summarize(graph).total
    if total != model.count_params():
        return {"times": times, "failure": f"summary says {total:,} parameters, Keras {model.count_params():,}"}

    t = time.perf_counter()
    ours = Executor(graph).predict(weights, x)
    times["predict"] = time.perf_counter() - t
    if not np.allclose(ours, expected, rtol=RTOL, atol=ATOL):
        return {"times": times, "failure": f"predict differs by up to {np.abs(ours - expected).max():.3g}"}

    t = time.perf_counter()
    out = tmp / f"{ctor}_keras.py"
    write_export(graph, weights, out, "keras")
    namespace = {"__file__": str(out), "__name__": "exported_keras"}
    exec(compile(out.read_text(), str(out), "exec"), namespace)  # noqa: S102 - our own generated code
    rebuilt = np.asarray(namespace["build_model"]().predict(x, verbose=0))
    times["keras export"] = time.perf_counter() - t
    if not np.allclose(rebuilt, expected, rtol=RTOL, atol=ATOL):
        return {"times": times, "failure": f"Keras export differs by up to {np.abs(rebuilt - expected).max():.3g}"}

    t = time.perf_counter()
    out = tmp / f"{ctor}_numpy.py"
    write_export(graph, weights, out, "numpy")
    np.save(tmp / "x.npy", x)
    run = subprocess.run([sys.executable, "-c", NUMPY_ONLY, str(out), str(tmp / "x.npy"), str(tmp / "y.npy")],
                         capture_output=True, text=True, cwd=tmp, env={**os.environ, "PYTHONPATH": ""})
    times["numpy export"] = time.perf_counter() - t
    if run.returncode != 0:
        return {"times": times, "failure": "NumPy export failed: " + run.stderr.strip().splitlines()[-1]}
    if json.loads(run.stdout.strip().splitlines()[-1]):
        return {"times": times, "failure": f"NumPy export imported {run.stdout.strip()}"}
    got = np.load(tmp / "y.npy")
    if not np.allclose(got, expected, rtol=RTOL, atol=ATOL):
        return {"times": times, "failure": f"NumPy export differs by up to {np.abs(got - expected).max():.3g}"}
    return {"times": times, "failure": None}


def architectures(all_variants: bool, only: list[str]) -> list[tuple[str, int, dict]]:
    out = []
    for family, (ctor, side, extra) in SMALLEST.items():
        out.append((ctor, side, extra))
        if all_variants:
            out += [(v, side, {}) for v in OTHER_VARIANTS.get(family, [])]
    if only:
        out = [a for a in out if a[0] in only]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every variant, not only the smallest of each family")
    parser.add_argument("--only", nargs="*", default=[], help="architectures by constructor name, e.g. ResNet50")
    args = parser.parse_args(argv)
    todo = architectures(args.all, args.only)
    ok = 0
    with tempfile.TemporaryDirectory() as d:
        for ctor, side, extra in todo:
            try:
                result = check(ctor, side, extra, Path(d))
            except Exception as exc:  # report every architecture, whatever fails
                result = {"times": {}, "failure": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
                if os.environ.get("LAYERGRAPH_TRACEBACK"):
                    traceback.print_exc()
            times = ", ".join(f"{k} {v:.1f}s" for k, v in result["times"].items())
            verdict = "match" if result["failure"] is None else f"FAILS: {result['failure']}"
            ok += result["failure"] is None
            print(f"{ctor} {side}x{side}: {verdict} ({times})", flush=True)
    print(f"{ok}/{len(todo)} architectures match")
    return 0 if ok == len(todo) else 1


if __name__ == "__main__":
    sys.exit(main())
