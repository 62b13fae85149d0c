"""The ``.lgraph`` document: versioned, human-readable JSON, with trained weights in a ``.npz`` beside it.

Loading never executes anything from the file and either returns a whole graph or raises a
``FileFormatError`` naming the file and the place in it.  Saving is atomic: a failed save leaves the
previous file intact.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError, FileFormatError, GraphError
from engine.graph import LayerGraph, jsonable
from engine.layers import LAYERS
from engine.npzfile import read_npz
from engine.weight_coverage import Manifest, check_file_weights, fresh_notice, manifest_of, weights_to_save

FORMAT = "layergraph"
VERSION = 1
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024

Weights = dict[str, dict[str, np.ndarray]]
"""Trained weights: node id -> weight name -> array."""


@dataclass
class Document:
    graph: LayerGraph
    weights: Weights | None = None
    training: dict[str, Any] = field(default_factory=dict)
    #: node ids that have no saved weights (added or changed since the save) and start from fresh ones
    fresh: list[str] = field(default_factory=list)
    #: the saved weights' node ids and shapes (``weight_shapes``); None in documents older than the manifest
    manifest: Manifest | None = None

    def notices(self) -> list[str]:
        """One line per thing the user must be told about the loaded weights (empty when they cover the graph)."""
        return [fresh_notice(self.graph, self.fresh)] if self.fresh and self.weights else []


# ----- writing -----------------------------------------------------------------------------------------
def document_to_json(graph: LayerGraph, training: dict[str, Any] | None = None,
                     weights_file: str | None = None, weight_shapes: Manifest | None = None) -> dict[str, Any]:
    """The JSON body of a document; configs keep only non-default arguments (diff-friendly).

    ``weight_shapes`` lists the nodes (and shapes) the weights file belongs to; see ``engine.weight_coverage``.
    """
    data = graph.to_dict()
    for nd in data["nodes"]:
        defaults = {f.name: f.default for f in LAYERS[nd["class_name"]].all_fields()}
        nd["config"] = {k: v for k, v in nd["config"].items()
                        if k not in defaults or jsonable(defaults[k]) != jsonable(v)}
    body = {"format": FORMAT, "version": VERSION, "nodes": data["nodes"], "edges": data["edges"],
            "weights": weights_file, "training": dict(training or {})}
    if weights_file is not None and weight_shapes is not None:
        body["weight_shapes"] = weight_shapes
    return body



def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def weights_path_for(path: Path) -> Path:
    return Path(path).with_suffix(".npz")


def save_weights(path: Path, weights: Weights) -> None:
    import io

    arrays = {f"{nid}/{wname}": np.ascontiguousarray(arr) for nid, ws in weights.items() for wname, arr in ws.items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(Path(path), buf.getbuffer())  # no second copy of every weight


def save_document(path: str | os.PathLike, graph: LayerGraph, weights: Weights | None = None,
                  training: dict[str, Any] | None = None) -> None:
    """Save atomically; weights (if any) go to ``<stem>.npz`` first, then the JSON that references them."""
    path = Path(path)
    wfile = manifest = None
    weights = weights_to_save(graph, weights) if weights else None
    if weights:
        wpath = weights_path_for(path)
        save_weights(wpath, weights)
        wfile, manifest = wpath.name, manifest_of(weights)
    body = json.dumps(document_to_json(graph, training, wfile, manifest), indent=2, ensure_ascii=False)
    atomic_write_bytes(path, (body + "\n").encode("utf-8"))


# ----- reading -----------------------------------------------------------------------------------------
def load_document(path: str | os.PathLike, with_weights: bool = True) -> Document:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise FileFormatError(f"{path}: the file is {size / 1e6:.0f} MB, too large for a layergraph document.")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a folder, not a layergraph document.") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise FileFormatError(f"{path}: is not UTF-8 text; a layergraph document is JSON.") from None
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}).") from None
    except ValueError as exc:
        raise FileFormatError(f"{path}: {exc}") from None
    doc = document_from_json(data, str(path))
    if with_weights and data.get("weights"):
        wname = data["weights"]
        if not isinstance(wname, str) or Path(wname).name != wname:
            raise FileFormatError(f"{path}: 'weights' must be a file name beside the document, got {wname!r}.")
        wpath = path.parent / wname
        if wpath.exists():
            doc.weights = load_weights(wpath, doc.graph)
            doc.fresh = check_file_weights(doc.graph, doc.weights, doc.manifest, str(wpath))
    return doc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a layergraph document")


def document_from_json(data: Any, where: str = "<document>") -> Document:
    """Check every field and build the graph; nothing half-loaded escapes on error."""
    def fail(place: str, msg: str) -> FileFormatError:
        return FileFormatError(f"{where}: {place}: {msg}")

    if not isinstance(data, dict):
        raise fail("top level", "expected a JSON object.")
    if data.get("format") != FORMAT:
        raise fail("format", f"expected \"{FORMAT}\", got {data.get('format')!r}; this is not a layergraph document.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise fail("version", f"expected an integer, got {version!r}.")
    if version > VERSION:
        raise fail("version", f"the file is version {version}, written by a newer layergraph; this one reads "
                              f"up to version {VERSION}. Update layergraph to open it.")
    if version < 1:
        raise fail("version", f"unknown version {version}.")
    nodes, edges = data.get("nodes"), data.get("edges")
    if not isinstance(nodes, list):
        raise fail("nodes", "missing or not a list.")
    if not isinstance(edges, list):
        raise fail("edges", "missing or not a list.")
    graph = LayerGraph()
    ids: set[str] = set()
    for i, nd in enumerate(nodes):
        place = f"nodes[{i}]"
        if not isinstance(nd, dict):
            raise fail(place, "expected an object.")
        for key, typ in (("id", str), ("class_name", str), ("name", str)):
            if not isinstance(nd.get(key), typ) or not nd.get(key):
                raise fail(f"{place}.{key}", f"missing or not text (got {nd.get(key)!r}).")
        nid, cname, name = nd["id"], nd["class_name"], nd["name"]
        if nid in ids:
            raise fail(f"{place}.id", f"duplicate id {nid!r}.")
        if cname not in LAYERS:
            raise fail(f"{place}.class_name", f"unknown layer type {cname!r} (layer '{name}').")
        cfg = nd.get("config", {})
        if not isinstance(cfg, dict):
            raise fail(f"{place}.config", "expected an object.")
        pos = nd.get("position", [0, 0])
        if (not isinstance(pos, list) or len(pos) != 2
                or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) for p in pos)):
            raise fail(f"{place}.position", f"expected [x, y] numbers, got {pos!r}.")
        try:
            graph.add_node(cname, cfg, (pos[0], pos[1]), name, nid)
        except (ConfigError, GraphError) as exc:
            raise fail(f"{place} ('{name}')", str(exc)) from None
        ids.add(nid)
    for i, ed in enumerate(edges):
        place = f"edges[{i}]"
        if not isinstance(ed, dict):
            raise fail(place, "expected an object.")
        s, t, k = ed.get("source"), ed.get("target"), ed.get("index", 0)
        if s not in ids or t not in ids:
            raise fail(place, f"refers to a node that does not exist ({s!r} → {t!r}).")
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise fail(f"{place}.index", f"expected a non-negative integer, got {k!r}.")
        try:
            graph.connect(s, t, k)
        except GraphError as exc:
            raise fail(place, str(exc)) from None
    training = data.get("training") or {}
    if not isinstance(training, dict):
        raise fail("training", "expected an object.")
    graph.metadata["training"] = training
    return Document(graph, None, training, manifest=_manifest(data.get("weight_shapes"), fail))


def _manifest(value: Any, fail) -> Manifest | None:
    """``weight_shapes``: node id -> weight name -> list of non-negative integers."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(ws, dict) for ws in value.values()):
        raise fail("weight_shapes", "expected an object of node id -> weight name -> shape.")
    for nid, ws in value.items():
        for wname, shape in ws.items():
            if (not isinstance(shape, list)
                    or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**63 for d in shape)):
                raise fail(f"weight_shapes.{nid[:80]}.{wname[:80]}", "expected a list of non-negative integers.")
    return value


def load_weights(path: Path, graph: LayerGraph | None = None) -> Weights:
    """Read ``node_id/weight`` arrays with ``allow_pickle=False``; unknown nodes are an error."""
    out: Weights = {}
    for key, arr in read_npz(path, "the weights").items():
        nid, sep, wname = key.partition("/")
        if not sep or not wname:
            raise FileFormatError(f"{path}: array {key!r} is not named 'node_id/weight_name'.")
        if graph is not None and nid not in graph:
            raise FileFormatError(f"{path}: array {key!r} belongs to node {nid!r}, "
                                  "which is not in the document.")
        if arr.dtype.kind not in "fiu":
            raise FileFormatError(f"{path}: array {key!r} has dtype {arr.dtype}, expected numbers.")
        out.setdefault(nid, {})[wname] = arr
    return out
