"""The seed cases: the bundled examples with weights and matching data, and small Keras archives.

A case is a working folder (``files``), the file mutants replace (``target``) and the commands run on
it.  Commands cap the work (one epoch, 16 samples) so a valid case finishes in well under a second.
Keras archives are saved by a Keras subprocess into a cache folder on first use (never committed).
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "resources" / "examples"
SAMPLES = 16
TRAIN = ["--epochs", "1", "--batch-size", "8", "--seed", "0"]


@dataclass(frozen=True)
class Seed:
    kind: str
    name: str
    files: dict[str, bytes]
    target: str
    commands: tuple[tuple[str, ...], ...]


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _example_case(path: Path) -> dict[str, bytes]:
    """The example saved with initial weights (``g.lgraph`` + ``g.npz``), training data and predict inputs."""
    from engine.executor import CompiledGraph, ParamStore
    from engine.fileformat import document_to_json, load_document, save_weights
    from engine.validation import infer_shapes

    doc = load_document(path)
    result = infer_shapes(doc.graph)
    plan = CompiledGraph(doc.graph, result)
    weights = ParamStore(plan, seed=0).values
    rng = np.random.default_rng(0)
    inputs = {}
    for node in doc.graph.nodes.values():
        if node.class_name == "Input":
            shape = tuple(node.config["shape"])
            inputs[node.name] = rng.normal(size=(SAMPLES, *shape)).astype(np.float32)
    classes = int(result.node_shapes[doc.graph.output_nodes()[0]][-1])
    y = rng.integers(0, classes, SAMPLES)
    data = dict(inputs) if len(inputs) > 1 else {"x": next(iter(inputs.values()))}
    body = json.dumps(document_to_json(doc.graph, doc.training, "g.npz"), indent=2)
    files = {"g.lgraph": body.encode(), "data.npz": _npz({**data, "y": y}), "x.npz": _npz(inputs)}
    wpath = Path(os.environ.get("TMPDIR", "/tmp")) / f"lgfuzz-seed-{os.getpid()}.npz"
    save_weights(wpath, weights)
    files["g.npz"] = wpath.read_bytes()
    wpath.unlink()
    if len(inputs) == 1 and len(next(iter(inputs.values())).shape) == 2:
        x = next(iter(inputs.values()))
        lines = [",".join([f"f{i}" for i in range(x.shape[1])] + ["label"])]
        lines += [",".join([f"{v:.4f}" for v in row] + [str(int(lab))]) for row, lab in zip(x, y)]
        files["data.csv"] = ("\n".join(lines) + "\n").encode()
    return files


DOC_COMMANDS = (("validate", "g.lgraph"), ("summary", "g.lgraph"),
                ("train", "g.lgraph", "--data", "data.npz", *TRAIN, "-o", "out.lgraph"),
                ("train", "g.lgraph", "--data", "data.npz", *TRAIN),
                ("predict", "g.lgraph", "--input", "x.npz", "-o", "pred.npz"),
                ("export", "g.lgraph", "--to", "keras", "-o", "m.py"),
                ("export", "g.lgraph", "--to", "numpy", "-o", "m.py"),
                ("export", "g.lgraph", "--to", "onnx", "-o", "m.onnx"))
WEIGHT_COMMANDS = tuple(c for c in DOC_COMMANDS if c[0] != "summary")
DATA_COMMANDS = {"data.npz": (("train", "g.lgraph", "--data", "data.npz", *TRAIN, "-o", "out.lgraph"),
                              ("train", "g.lgraph", "--data", "data.npz", *TRAIN)),
                 "data.csv": (("train", "g.lgraph", "--data", "data.csv", *TRAIN, "-o", "out.lgraph"),
                              ("train", "g.lgraph", "--data", "data.csv", "--label-column", "label", *TRAIN)),
                 "x.npz": (("predict", "g.lgraph", "--input", "x.npz", "-o", "pred.npz"),)}
IMPORT_COMMANDS = (("import", "m.keras", "-o", "imp.lgraph"),)

KERAS_MODELS = r'''
import sys
import keras
from keras import layers
out = sys.argv[1]
m = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu",
                      kernel_regularizer=keras.regularizers.L2(0.01)), layers.Dropout(0.1),
                      layers.Dense(3, activation="softmax")], name="mlp")
m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m.save(out + "/mlp.keras")
m = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
                      layers.BatchNormalization(), layers.Flatten(), layers.Dense(10)], name="cnn")
m.save(out + "/cnn.keras")
m = keras.Sequential([keras.Input((5, 3)), layers.LSTM(4), layers.Dense(2)], name="lstm")
m.save(out + "/lstm.keras")
a = keras.Input((6,), name="a")
b = keras.Input((3,), name="b")
x = layers.Concatenate()([layers.Dense(4, activation="tanh")(a), b])
m = keras.Model([a, b], layers.Dense(1)(x), name="two_inputs")
m.save(out + "/two_inputs.keras")
'''
KERAS_NAMES = ("mlp", "cnn", "lstm", "two_inputs")


def keras_archives(cache: Path) -> dict[str, bytes]:
    """Small ``.keras`` archives saved by Keras (once per cache folder)."""
    cache.mkdir(parents=True, exist_ok=True)
    if not all((cache / f"{n}.keras").exists() for n in KERAS_NAMES):
        env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run([sys.executable, "-c", KERAS_MODELS, str(cache)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return {n: (cache / f"{n}.keras").read_bytes() for n in KERAS_NAMES}


def _exportable(path: Path, commands: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """``commands`` without the ONNX export when the example has a layer ONNX refuses (a custom layer)."""
    from engine.export.onnx_export import refused_layers
    from engine.fileformat import load_document

    if not refused_layers(load_document(path, with_weights=False).graph):
        return commands
    return tuple(c for c in commands if "onnx" not in c)


def build_seeds(cache: Path) -> dict[str, list[Seed]]:
    """Every kind's seeds; ``cache`` keeps the Keras archives between runs."""
    seeds: dict[str, list[Seed]] = {"documents": [], "weights": [], "data": [], "archives": []}
    for path in sorted(EXAMPLES.glob("*.lgraph")):
        files = _example_case(path)
        name = path.stem
        doc_commands, weight_commands = _exportable(path, DOC_COMMANDS), _exportable(path, WEIGHT_COMMANDS)
        seeds["documents"].append(Seed("documents", name, files, "g.lgraph", doc_commands))
        seeds["weights"].append(Seed("weights", name, files, "g.npz", weight_commands))
        for target, commands in DATA_COMMANDS.items():
            if target in files:
                seeds["data"].append(Seed("data", f"{name}:{target}", files, target, commands))
    for name, payload in keras_archives(cache).items():
        seeds["archives"].append(Seed("archives", name, {"m.keras": payload}, "m.keras", IMPORT_COMMANDS))
    return seeds
