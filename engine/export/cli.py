"""``layergraph export`` and ``layergraph import``: exit 0 ok, 1 invalid graph/model, 2 unreadable input.

Everything is generated in memory first; files are written (atomically) only when all of it succeeded.
"""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

from engine.cli import EXIT_INVALID, EXIT_OK, EXIT_UNREADABLE, error
from engine.errors import FileFormatError, GraphError, LayergraphError, shown


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A ``.npz`` of ``arrays``; refuses one whose members are not exactly the keys (a zip name ends at a
    NUL, so two keys could collide or one be cut short)."""
    import zipfile

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(buf) as zf:
        names = zf.namelist()
    for key, name in zip(arrays, names):
        if name != f"{key}.npy":
            raise GraphError(f"the weight array {shown(key)} cannot be stored under its own name in a .npz; "
                             "rename the layer.")
    if len(set(names)) != len(arrays):
        raise GraphError("two weight arrays would share one name in the .npz; rename the layers.")
    return buf.getvalue()


def export_files(graph, weights, training: dict | None, to: str, out: Path,
                 with_training: bool = False) -> dict[Path, bytes]:
    """The files an export writes: ``{path: content}`` (code, and weights beside it when there are any)."""
    from engine.export.keras_code import keras_code, keras_names
    from engine.export.numpy_code import write_numpy_export
    from engine.export.plan import make_plan, weight_arrays

    wpath = out.with_name(f"{out.stem}.weights.npz")
    if to == "numpy":
        src, arrays = write_numpy_export(graph, weights, out)
    else:
        plan = make_plan(graph)
        arrays = weight_arrays(plan, weights, keras_names(plan).__getitem__, keras_names)
        src = keras_code(graph, wpath.name if arrays else None, (training or {}) if with_training else None,
                         result=plan.result, model_name=out.stem, strict=True)
    compile(src, str(out), "exec")  # a generator bug must never produce a broken file
    files = {}
    if arrays:
        files[wpath] = npz_bytes(arrays)
    files[out] = src.encode("utf-8")
    return files


def write_export(graph, weights, out: str | Path, to: str, training: dict | None = None,
                 with_training: bool = False) -> list[Path]:
    """Generate and write an export (code plus ``<stem>.weights.npz``); nothing is written on error."""
    from engine.fileformat import atomic_write_bytes

    files = export_files(graph, weights, training, to, Path(out), with_training)
    for path, payload in files.items():
        atomic_write_bytes(path, payload)
    return list(files)


def run_export(args) -> int:
    from engine.fileformat import atomic_write_bytes, load_document

    out = Path(args.output)
    try:
        doc = load_document(args.graph)
    except FileFormatError as exc:
        error(str(exc))
        return EXIT_UNREADABLE
    if args.to == "keras-file":
        return _run_keras_file_export(args, doc, out)
    if args.to == "onnx":
        return _run_onnx_export(args, doc, out)
    if out.suffix != ".py":
        error(f"{out}: the exported module must be a .py file.")
        return EXIT_INVALID
    for note in doc.notices():
        error(note)
    try:
        weights = _with_fresh_layers(doc) if doc.fresh and doc.weights else doc.weights
        files = export_files(doc.graph, weights, doc.training, args.to, out, getattr(args, "training", False))
    except LayergraphError as exc:
        error(f"{args.graph}: {exc}")
        return EXIT_INVALID
    try:
        for path, payload in files.items():
            atomic_write_bytes(path, payload)
    except OSError as exc:
        error(f"{out}: cannot write the export ({exc.strerror or exc}).")
        return EXIT_INVALID
    extra = f" and {next(iter(files)).name}" if len(files) > 1 else ""
    print(f"wrote {out}{extra}")
    return EXIT_OK


def _run_keras_file_export(args, doc, out: Path) -> int:
    from engine.export.keras_file import keras_archive, model_name_for

    if out.suffix != ".keras":
        error(f"{out}: a Keras model file must end in .keras (Keras refuses to load other names).")
        return EXIT_INVALID
    if getattr(args, "training", False):
        error("--training applies to the code exports; a .keras file always carries the training settings.")
        return EXIT_INVALID
    return _write_model_file(args, doc, out, lambda weights: keras_archive(doc.graph, weights, doc.training,
                                                                           model_name_for(out)))


def _run_onnx_export(args, doc, out: Path) -> int:
    """``--to onnx``: exit 2 when the onnx package is missing or a layer has no ONNX equivalent."""
    from engine.export.onnx_export import OnnxMissingError, OnnxRefusedError, check_exportable, onnx_bytes

    if out.suffix != ".onnx":
        error(f"{out}: an ONNX model file must end in .onnx.")
        return EXIT_INVALID
    if getattr(args, "training", False):
        error("--training applies to the code exports; an ONNX model is for inference only.")
        return EXIT_INVALID
    try:  # an exit 2 is one line: refused before any notice is shown
        check_exportable(doc.graph)
    except (OnnxMissingError, OnnxRefusedError) as exc:
        error(f"{args.graph}: {exc}" if isinstance(exc, OnnxRefusedError) else str(exc))
        return EXIT_UNREADABLE
    except LayergraphError as exc:
        error(f"{args.graph}: {exc}")
        return EXIT_INVALID
    return _write_model_file(args, doc, out, lambda weights: onnx_bytes(doc.graph, weights, out.stem),
                             refused=OnnxRefusedError)


def _write_model_file(args, doc, out: Path, build, refused: type[Exception] | tuple = ()) -> int:
    """Show the document's notices, build the file from its weights (``build(weights) -> bytes``) and write it
    atomically: what the ``.keras`` and ONNX exports share once their own refusals are behind them (``refused``:
    one the build itself finds, exit 2)."""
    from engine.fileformat import atomic_write_bytes

    for note in doc.notices():
        error(note)
    try:
        payload = build(_with_fresh_layers(doc) if doc.fresh and doc.weights else doc.weights)
    except refused as exc:
        error(f"{args.graph}: {exc}")
        return EXIT_UNREADABLE
    except LayergraphError as exc:
        error(f"{args.graph}: {exc}")
        return EXIT_INVALID
    try:
        atomic_write_bytes(out, payload)
    except OSError as exc:
        error(f"{out}: cannot write the model ({exc.strerror or exc}).")
        return EXIT_INVALID
    if not doc.weights:
        print("note: the graph has no trained weights; the file holds freshly initialised ones.", file=sys.stderr)
    print(f"wrote {out}")
    return EXIT_OK


def _with_fresh_layers(doc):
    """The saved weights plus fresh initial ones for the layers added or changed since the save
    (``doc.fresh``; the caller has shown the notice)."""
    from engine.executor import CompiledGraph, ParamStore

    return ParamStore(CompiledGraph(doc.graph), weights=doc.weights).snapshot()


def check_readable_back(imported, out: Path) -> None:
    """What ``import`` writes must load again: the JSON it would write goes through the document reader."""
    import json

    from engine.fileformat import document_from_json, document_to_json, parse_document_json

    try:
        body = json.dumps(document_to_json(imported.graph, imported.training), allow_nan=False, ensure_ascii=False)
    except ValueError as exc:
        raise FileFormatError(f"{exc}") from None
    document_from_json(parse_document_json(body.encode("utf-8"), str(out)), str(out))


def run_import(args) -> int:
    from engine.export.keras_import import import_model
    from engine.fileformat import save_document

    out = Path(args.output)
    try:
        imported = import_model(args.model)
    except FileFormatError as exc:
        error(str(exc))
        return EXIT_UNREADABLE
    except LayergraphError as exc:
        error(f"{args.model}: {exc}")
        return EXIT_INVALID
    try:
        check_readable_back(imported, out)
    except FileFormatError as exc:
        error(f"{args.model}: the imported model would not make a valid layergraph document: {exc}")
        return EXIT_INVALID
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        save_document(out, imported.graph, imported.weights or None, imported.training)
    except OSError as exc:
        error(f"{out}: cannot write the document ({exc.strerror or exc}).")
        return EXIT_INVALID
    n_w = sum(a.size for ws in imported.weights.values() for a in ws.values()) if imported.weights else 0
    print(f"wrote {out} ({len(imported.graph)} layers" + (f", {n_w:,} weights)" if n_w else ", no weights)"))
    return EXIT_OK
