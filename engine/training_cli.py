"""``layergraph train`` and ``layergraph predict``: headless training and inference on a saved document.

``train`` starts from the document's saved weights when they exist, shows a one-line progress bar on
stderr, and writes the weights to the ``.npz`` beside the document (never touching its nodes and edges;
only the ``"weights"`` reference, when it was missing, and the ``"training"`` settings change).  With
``-o OUT.lgraph`` it writes a complete new document instead.
"""
from __future__ import annotations

import io
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from engine.errors import FileFormatError, TrainingError, UsageError, shown
from engine.executor import CompiledGraph, Executor, ParamStore, WeightsMismatchWarning
from engine.fileformat import (atomic_write_bytes, check_writable, load_document, read_npy, read_npz, save_document,
                               save_weights, weights_path_for)
from engine.data_fit import data_fit_problem
from engine.training import Callback, fit
from engine.training_settings import DATASET
from engine.weight_coverage import describe_layers, manifest_of
from engine.validation import infer_shapes
from engine.cli import EXIT_INVALID, EXIT_OK, error, print_problems

DEFAULTS = {"epochs": 10, "batch_size": 32, "optimizer": "adam", "validation_split": 0.0}
MAX_COUNT = 2**31 - 1
MAX_SEED = 2**32 - 1
#: setting -> its command-line flag (messages name the flag when the value came from it)
FLAGS = {"epochs": "--epochs", "batch_size": "--batch-size", "learning_rate": "--lr", "seed": "--seed",
         "validation_split": "--validation-split"}


def _load_valid(path: str):
    """The document and its compiled plan, or None after printing the problems."""
    doc = load_document(path)
    result = infer_shapes(doc.graph)
    if not result.ok:
        print_problems(doc.graph, result, sys.stderr)
        error(f"{path}: the graph has {len(result.problems)} problem(s); fix them before running it.")
        return doc, None
    return doc, CompiledGraph(doc.graph, result)


# ----- progress bar -------------------------------------------------------------------------------------
class ProgressBar(Callback):
    """``epoch 3/10  batch 12/50  loss 0.1234  accuracy 0.9500  4,210 samples/s`` on one line.

    On a terminal the line is redrawn at most ten times a second; elsewhere only the epoch lines print.
    """

    def __init__(self, stream: TextIO | None = None, interval: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._t0 = 0.0
        self._width = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def _line(self, batch: int, logs: dict) -> str:
        ctx = self.context
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        samples = self._samples(batch)
        parts = [f"epoch {ctx.epoch + 1}/{ctx.epochs}", f"batch {batch + 1}/{ctx.steps_per_epoch}"]
        parts += [f"{k} {v:.4f}" for k, v in logs.items() if k != "batch_loss"]
        parts.append(f"{samples / elapsed:,.0f} samples/s")
        return "  ".join(parts)

    def _samples(self, batch: int) -> int:
        acts = self.context.activations
        per_batch = len(next(iter(acts.values()))) if acts else 0
        return per_batch * (batch + 1)

    def _write(self, text: str, end: str = "") -> None:
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad + end if self.live else text + end)
        self._width = 0 if end else len(text)
        self.stream.flush()

    def on_batch_end(self, step, logs):
        now = time.perf_counter()
        if self.live and now - self._last >= self.interval:
            self._last = now
            self._write(self._line(self.context.batch, logs))

    def on_epoch_end(self, epoch, logs):
        ctx = self.context
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        parts = [f"epoch {epoch + 1}/{ctx.epochs}", f"{ctx.steps_per_epoch} batches"]
        parts += [f"{k} {v:.4f}" for k, v in logs.items()]
        parts.append(f"{self._samples(ctx.batch) / elapsed:,.0f} samples/s")
        parts.append(f"{elapsed:.1f} s")
        self._write("  ".join(parts), "\n")


# ----- train --------------------------------------------------------------------------------------------
def _settings(args, previous: dict[str, Any]) -> dict[str, Any]:
    """CLI flags, else the document's previous training settings, else the defaults."""
    def pick(flag: Any, key: str) -> Any:
        if flag is not None:
            return flag
        return previous.get(key, DEFAULTS.get(key))

    lr = args.lr
    if lr is None and args.optimizer in (None, previous.get("optimizer")):
        lr = previous.get("learning_rate")  # a previous rate belongs to the previous optimizer only
    return {DATASET: args.data,
            "epochs": pick(args.epochs, "epochs"),
            "batch_size": pick(args.batch_size, "batch_size"),
            "optimizer": pick(args.optimizer, "optimizer"),
            "learning_rate": lr,
            "loss": pick(args.loss, "loss"),
            "validation_split": pick(args.validation_split, "validation_split"),
            "seed": pick(args.seed, "seed")}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_settings(s: dict[str, Any], args, graph: str) -> None:
    """Every setting is usable before any work starts; the message names the flag or the document key."""
    def bad(key: str, expected: str) -> None:
        given = getattr(args, key if key != "learning_rate" else "lr", None) is not None
        where = FLAGS[key] if given else f"{graph}: training.{key}"
        raise (UsageError if given else FileFormatError)(f"{where} must be {expected}, got {shown(s[key])}.")

    for key in ("epochs", "batch_size"):
        v = s[key]
        if not _is_int(v) or not (key == "epochs" or v >= 1) or not 0 <= v <= MAX_COUNT:
            bad(key, f"an integer from {0 if key == 'epochs' else 1} to {MAX_COUNT:,}")
    if s["seed"] is not None and (not _is_int(s["seed"]) or not 0 <= s["seed"] <= MAX_SEED):
        bad("seed", f"an integer from 0 to {MAX_SEED:,}")
    lr = s["learning_rate"]
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr)
                           or lr <= 0):
        bad("learning_rate", "a positive finite number")
    vs = s["validation_split"]
    if vs is not None and (isinstance(vs, bool) or not isinstance(vs, (int, float)) or not 0 <= vs < 1):
        bad("validation_split", "a number from 0 up to (not including) 1")


def run_train(args) -> int:
    """Train GRAPH on --data; exit 0 when weights were written, 1 on an invalid graph or failed run."""
    from engine.datasets import load_dataset

    doc, plan = _load_valid(args.graph)
    if plan is None:
        return EXIT_INVALID
    s = _settings(args, doc.training or {})
    _check_settings(s, args, args.graph)
    _check_outputs(args)
    label_column = args.label_column
    if isinstance(label_column, str) and label_column.lstrip("-").isdigit():
        label_column = int(label_column)
    x, y = load_dataset(args.data, label_column=label_column)
    problem = data_fit_problem(plan, x, y, s["loss"] if isinstance(s["loss"], str) else None)
    if problem:
        error(f"{args.data} does not fit {args.graph}: {problem}")
        return EXIT_INVALID
    if args.label_column is not None:  # the designer opens the .csv on the same column
        s["label_column"] = args.label_column
    if not isinstance(s["optimizer"], str):
        s["optimizer"] = str(s["optimizer"].get("name", "adam")) if isinstance(s["optimizer"], dict) else "adam"
    for note in doc.notices():
        error(note)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightsMismatchWarning)
        store = ParamStore(plan, seed=s["seed"], weights=doc.weights)
    for w in store.warnings:
        error(w)
    if getattr(args, "backend", "engine") == "keras":
        weights, history = _train_on_keras(args, doc, plan, store, s, x, y)
    else:
        hist = fit(plan, x, y, params=store, loss=s["loss"], optimizer=s["optimizer"],
                   learning_rate=s["learning_rate"], epochs=int(s["epochs"]), batch_size=int(s["batch_size"]),
                   validation_split=float(s["validation_split"] or 0.0), seed=s["seed"], shuffle=args.shuffle,
                   callbacks=[ProgressBar()])
        losses = hist.settings["loss"]
        s["loss"] = next(iter(losses.values())) if len(set(losses.values())) == 1 else losses
        s["learning_rate"] = hist.settings["optimizer"]["learning_rate"]
        weights, history = store.snapshot(), hist.history
    s["final"] = {k: round(float(v[-1]), 6) for k, v in history.items() if v}
    if args.output:
        save_document(args.output, doc.graph, weights, training=s)
        where = args.output
    else:
        where = _save_beside(Path(args.graph), weights, s)
    final = "  ".join(f"{k} {v:.4f}" for k, v in s["final"].items())
    epochs = len(next(iter(history.values()), []))
    print(f"trained {epochs} epoch(s){': ' + final if final else ''}; saved to {where}")
    return EXIT_OK


def _train_on_keras(args, doc, plan, store, s: dict[str, Any], x, y):
    """Fit on real Keras from the same initial weights and settings; (weights, history) as the engine's."""
    from engine.keras_training import train_on_keras

    def show(record: dict[str, float]) -> None:
        logs = "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
        sys.stderr.write(f"epoch {int(record['epoch']) + 1}/{s['epochs']}  {logs}  {record['seconds']:.1f} s\n")
        sys.stderr.flush()

    settings = {k: s[k] for k in ("loss", "optimizer", "learning_rate") if s.get(k) is not None}
    run = train_on_keras(doc.graph, store.values, settings, x, y, backend=args.keras_backend,
                         epochs=int(s["epochs"]), batch_size=int(s["batch_size"]),
                         validation_split=float(s["validation_split"] or 0.0), seed=s["seed"],
                         shuffle=args.shuffle, on_epoch=show)
    missing = [plan.names[n] for n in plan.order if plan.layers[n].weight_specs(plan.in_shapes[n]) and
               n not in run.weights]
    if missing:
        raise TrainingError(f"Keras returned no weights for {', '.join(missing[:3])}; the document is unchanged.")
    weights = {nid: dict(run.weights.get(nid, {})) for nid in store.values}
    return weights, run.history


def _check_outputs(args) -> None:
    """Everything ``train`` will write can be written (checked before training, so no run is lost)."""
    if args.output:
        out = Path(args.output)
        check_writable(out, "the trained document")
        check_writable(weights_path_for(out), "the trained weights")
        return
    graph = Path(args.graph)
    check_writable(graph, "the document's training settings")
    check_writable(_weights_beside(graph), "the trained weights")


def _weights_beside(path: Path) -> Path:
    """The weights file GRAPH references (when it is a plain name beside it), else ``<stem>.npz``."""
    try:
        ref = json.loads(path.read_text(encoding="utf-8")).get("weights")
    except (OSError, ValueError, AttributeError, RecursionError):
        ref = None
    return _weights_path(path, ref)


def _weights_path(path: Path, ref: Any) -> Path:
    ok = isinstance(ref, str) and ref and Path(ref).name == ref and "\0" not in ref
    return path.parent / ref if ok else weights_path_for(path)


def _save_beside(path: Path, weights, training: dict[str, Any]) -> Path:
    """Write the weights beside GRAPH, then update only its ``weights`` reference and ``training`` settings."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{path}: cannot be re-read to record the weights ({exc}).") from None
    wpath = _weights_path(path, data.get("weights"))
    save_weights(wpath, weights)
    data["weights"] = wpath.name
    data["weight_shapes"] = manifest_of(weights)
    data["training"] = training
    body = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    atomic_write_bytes(path, body.encode("utf-8"))
    return wpath


# ----- predict ------------------------------------------------------------------------------------------
def _read_input(path: Path, plan: CompiledGraph) -> Any:
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file.")
    if path.suffix.lower() == ".npy":
        try:
            with open(path, "rb") as fh:
                return _batch(read_npy(fh, path.stat().st_size, str(path)), str(path))
        except OSError as exc:
            raise FileFormatError(f"{path}: cannot read the array ({exc.strerror or exc}).") from None
    if path.suffix.lower() != ".npz":
        raise FileFormatError(f"{path}: use a .npy array, or a .npz with one array per Input layer name.")
    arrays = {k: _batch(v, f"{path}: array {shown(k)}") for k, v in read_npz(path, "input arrays").items()}
    names = plan.input_names
    if len(names) == 1 and len(arrays) == 1:
        return next(iter(arrays.values()))
    missing = [n for n in names if n not in arrays]
    if missing:
        raise TrainingError(f"{path} has arrays {', '.join(repr(k) for k in arrays)} but the graph's inputs are "
                            f"{', '.join(repr(n) for n in names)}; name one array after each Input layer.")
    return {n: arrays[n] for n in names}


def _batch(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.ndim == 0:
        raise FileFormatError(f"{where} is a single number; inputs are batches with the samples along axis 0.")
    return arr


def _write_outputs(path: Path, out: np.ndarray | dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    if isinstance(out, dict):
        if path.suffix.lower() == ".npy":
            raise TrainingError(f"The graph has {len(out)} outputs ({', '.join(out)}); give -o a .npz path to "
                                "hold one array per output.")
        np.savez(buf, **out)
    else:
        np.save(buf, out)
    atomic_write_bytes(path, buf.getvalue())


def run_predict(args) -> int:
    """Inference with GRAPH's saved weights; outputs to .npy (one output) or .npz (several)."""
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}.")
    check_writable(Path(args.output), "the predictions")
    doc, plan = _load_valid(args.graph)
    if plan is None:
        return EXIT_INVALID
    if not doc.weights:
        error(f"{args.graph} has no trained weights (no .npz beside it); run 'layergraph train' first.")
        return EXIT_INVALID
    if doc.fresh:
        verb = "has" if len(doc.fresh) == 1 else "have"
        error(f"{args.graph}: {describe_layers(doc.graph, doc.fresh)} {verb} no trained weights (added or changed "
              "since the weights were saved); train the graph before predicting.")
        return EXIT_INVALID
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WeightsMismatchWarning)
        store = ParamStore(plan, weights=doc.weights)
    if store.warnings:
        for w in store.warnings:
            error(w)
        error("the saved weights do not fit the graph; train it again before predicting.")
        return EXIT_INVALID
    x = _read_input(Path(args.input), plan)
    out = Executor(plan).predict(store, x, batch_size=args.batch_size)
    _write_outputs(Path(args.output), out)
    shapes = ", ".join(f"{k} {v.shape}" for k, v in out.items()) if isinstance(out, dict) else str(out.shape)
    print(f"wrote {shapes} to {args.output}")
    return EXIT_OK
