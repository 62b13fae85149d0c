"""The ``.lgraph`` document: versioned, human-readable JSON, with trained weights in a ``.npz`` beside it.

Loading never executes anything from the file and either returns a whole graph or raises a
``FileFormatError`` naming the file and the place in it.  Saving is atomic: a failed save leaves the
previous file intact.
"""
from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ConfigError, FileFormatError, GraphError, shown
from engine.graph import EdgesError, LayerGraph, check_name, check_node_id, jsonable
from engine.layers import LAYERS
from engine.layers.group import WEIGHT_SEP
from engine.memory import check_allocation
from engine.training_settings import read_training_settings
from engine.weight_coverage import Manifest, check_file_weights, fresh_notice, manifest_of, weights_to_save

FORMAT = "layergraph"
VERSION = 2
"""2: ``Group`` nodes (engine/layers/group.py), whose inner weights are deeper ``.npz`` paths; 1 reads as is."""
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
    _drop_defaults(data["nodes"])
    body = {"format": FORMAT, "version": VERSION, "nodes": data["nodes"], "edges": data["edges"],
            "weights": weights_file, "training": dict(training or {})}
    if weights_file is not None and weight_shapes is not None:
        body["weight_shapes"] = weight_shapes
    return body


def _drop_defaults(nodes: list[dict[str, Any]]) -> None:
    """Keep only non-default arguments in node configs, also of the layers inside groups."""
    for nd in nodes:
        defaults = {f.name: f.default for f in LAYERS[nd["class_name"]].all_fields()}
        nd["config"] = {k: v for k, v in nd["config"].items()
                        if k not in defaults or jsonable(defaults[k]) != jsonable(v)}
        inner = nd["config"].get("graph") if nd["class_name"] == "Group" else None
        if isinstance(inner, dict):
            inner = nd["config"]["graph"] = jsonable(inner)
            _drop_defaults(inner["nodes"])


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then ``os.replace``.

    The file gets the mode a plain ``open(path, "w")`` would give it: the existing file's mode, else
    0666 minus the umask (``mkstemp`` alone would make every saved file 0600).  Temporaries of ours
    left by a killed save (``.NAME.<pid>.*.tmp`` of a process that is gone) are removed first.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    _remove_stale_temporaries(folder, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        _chmod(fd, tmp, _mode_for(path))
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


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (``/proc``), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _chmod(fd: int, tmp: str, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:  # Windows: only the read-only bit exists
        os.chmod(tmp, mode)


_TEMP_TAIL = re.compile(r"\.(\d+)\.[A-Za-z0-9_]+\.tmp$|\.[A-Za-z0-9_]{8}\.tmp$")
STALE_TEMP_SECONDS = 3600


def _remove_stale_temporaries(folder: Path, name: str) -> None:
    """Delete ``.NAME.<pid>.<random>.tmp`` files whose writing process is gone (or, for names without a
    pid, from older versions, that are over an hour old).  Anything else is left alone."""
    prefix = f".{name}."
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(".tmp")]
    except OSError:
        return
    for entry in entries:
        m = _TEMP_TAIL.fullmatch(entry.name[len(prefix) - 1:])
        if m is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            stale = (not _process_alive(int(m.group(1))) if m.group(1)
                     else time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS)
            if stale:
                os.unlink(entry.path)
        except OSError:
            pass


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of ours may be saving this file right now
    if os.name != "posix":
        return True  # no safe liveness probe: leave it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def check_writable(path: str | os.PathLike, what: str = "the output") -> None:
    """Raise ``FileFormatError`` unless ``path`` can be (re)written: its folder exists and is writable and
    it is not a folder itself.  Commands call this before their work, so a long run never ends unsaved."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    try:
        if path.is_dir():
            raise FileFormatError(f"{path}: is a folder; {what} must be a file path.")
        if not folder.is_dir():
            raise FileFormatError(f"{path}: cannot write {what}: the folder {folder} does not exist.")
        if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            raise FileFormatError(f"{path}: cannot write {what}: permission denied.")
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{path}: cannot write {what} ({getattr(exc, 'strerror', None) or exc}).") from None


def weights_path_for(path: Path) -> Path:
    return Path(path).with_suffix(".npz")


def save_weights(path: Path, weights: Weights) -> None:
    import io

    # a group's inner weight "inner_id/kernel" is the path (group id, inner id, kernel);
    # np.array(order="C") because ascontiguousarray makes 0-d arrays 1-d
    arrays = {member_name(nid, *wname.split(WEIGHT_SEP)): np.array(arr, order="C")
              for nid, ws in weights.items() for wname, arr in ws.items()}
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
MAX_POSITION = 1e9
"""Largest canvas coordinate accepted (far beyond any real layout; larger numbers are damage)."""
MAX_JSON_INT = 2**63
"""Largest integer accepted anywhere in a document."""


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
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    data = parse_document_json(raw, str(path))
    doc = document_from_json(data, str(path))
    if with_weights and data.get("weights"):
        wname = data["weights"]
        if not isinstance(wname, str) or Path(wname).name != wname or len(wname) > 255 or "\0" in wname:
            raise FileFormatError(f"{path}: 'weights' must be a file name beside the document, got {shown(wname)}.")
        wpath = path.parent / wname
        try:
            present = wpath.is_file()
        except (OSError, ValueError) as exc:
            raise FileFormatError(f"{path}: the weights file {shown(wname)} cannot be opened "
                                  f"({getattr(exc, 'strerror', None) or exc}).") from None
        if present:
            doc.weights = load_weights(wpath, doc.graph)
            doc.fresh = check_file_weights(doc.graph, doc.weights, doc.manifest, str(wpath))
    return doc


def parse_document_json(raw: bytes, where: str) -> Any:
    """JSON text to data, refusing NaN/Infinity, numbers out of range, deep nesting and text that is not
    valid Unicode (an unpaired surrogate could be read but never written back)."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float,
                          parse_int=_bounded_int)
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeDecodeError:
        raise FileFormatError(f"{where}: is not UTF-8 text; a layergraph document is JSON.") from None
    except UnicodeEncodeError:
        raise FileFormatError(f"{where}: holds an unpaired surrogate (\\ud800-\\udfff escape); text must be "
                              "valid Unicode.") from None
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{where}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}).") from None
    except RecursionError:
        raise FileFormatError(f"{where}: the JSON is nested too deeply to be a layergraph document.") from None
    except ValueError as exc:
        raise FileFormatError(f"{where}: {exc}") from None
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a layergraph document")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {shown(text)} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > 20 or abs(int(text)) > MAX_JSON_INT:
        raise ValueError(f"the integer {shown(text)} is out of range")
    return int(text)


def document_from_json(data: Any, where: str = "<document>") -> Document:
    """Check every field and build the graph; nothing half-loaded escapes on error."""
    def fail(place: str, msg: str) -> FileFormatError:
        return FileFormatError(f"{where}: {place}: {msg}")

    if not isinstance(data, dict):
        raise fail("top level", "expected a JSON object.")
    if data.get("format") != FORMAT:
        raise fail("format", f"expected \"{FORMAT}\", got {shown(data.get('format'))}; this is not a layergraph "
                             "document.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise fail("version", f"expected an integer, got {shown(version)}.")
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
    for i, nd in enumerate(nodes):
        _add_node_from_json(graph, nd, f"nodes[{i}]", fail)
    pending = []
    for i, ed in enumerate(edges):
        place = f"edges[{i}]"
        if not isinstance(ed, dict):
            raise fail(place, "expected an object.")
        s, t, k = ed.get("source"), ed.get("target"), ed.get("index", 0)
        if not isinstance(s, str) or not isinstance(t, str) or s not in graph or t not in graph:
            raise fail(place, f"refers to a node that does not exist ({shown(s)} → {shown(t)}).")
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise fail(f"{place}.index", f"expected a non-negative integer, got {shown(k)}.")
        pending.append((s, t, k))
    try:
        graph.connect_many(pending)
    except EdgesError as exc:
        raise fail("edges" if exc.index is None else f"edges[{exc.index}]", str(exc)) from None
    training = data.get("training") or {}
    if not isinstance(training, dict):
        raise fail("training", "expected an object.")
    training = read_training_settings(training)
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


def _add_node_from_json(graph: LayerGraph, nd: Any, place: str, fail) -> None:
    if not isinstance(nd, dict):
        raise fail(place, "expected an object.")
    for key in ("id", "class_name", "name"):
        if not isinstance(nd.get(key), str) or not nd.get(key):
            raise fail(f"{place}.{key}", f"missing or not text (got {shown(nd.get(key))}).")
    nid, cname, name = nd["id"], nd["class_name"], nd["name"]
    try:
        check_node_id(nid)
        check_name(name)
    except (ConfigError, GraphError) as exc:
        raise fail(place, f"{exc}.") from None
    if nid in graph:
        raise fail(f"{place}.id", f"duplicate id {shown(nid)}.")
    if cname not in LAYERS:
        raise fail(f"{place}.class_name", f"unknown layer type {shown(cname)} (layer {shown(name)}).")
    cfg = nd.get("config", {})
    if not isinstance(cfg, dict):
        raise fail(f"{place}.config", "expected an object.")
    pos = nd.get("position", [0, 0])
    if (not isinstance(pos, list) or len(pos) != 2
            or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and abs(p) <= MAX_POSITION
                       for p in pos)):
        raise fail(f"{place}.position", f"expected [x, y] numbers of at most {MAX_POSITION:g} in size, got "
                                        f"{shown(pos)}.")
    try:
        graph.add_node(cname, cfg, (pos[0], pos[1]), name, nid)
    except (ConfigError, GraphError) as exc:
        raise fail(f"{place} ({shown(name)})", str(exc)) from None


# ----- weights: one .npz member per array, named by an escaped path --------------------------------------
_MEMBER_ESCAPE = re.compile(r"[%/\x00-\x1f\x7f]")
_MEMBER_UNESCAPE = re.compile(r"%([0-9A-F]{2})")


def member_name(*path: str) -> str:
    """The ``.npz`` member (without ``.npy``) of the array at ``path``, e.g. ``("n3", "kernel")``.

    Each component has ``%``, ``/`` and control characters percent-escaped, then components are joined by
    ``/``: injective for any path of any depth, and the identity for ordinary ids and names, so files
    written before the scheme read the same (docs/ARCHITECTURE.md).
    """
    return "/".join(_MEMBER_ESCAPE.sub(lambda m: f"%{ord(m.group()):02X}", part) for part in path)


def member_path(name: str) -> tuple[str, ...]:
    """The inverse of ``member_name``."""
    return tuple(_MEMBER_UNESCAPE.sub(lambda m: chr(int(m.group(1), 16)), part) for part in name.split("/"))


def load_weights(path: Path, graph: LayerGraph | None = None) -> Weights:
    """Read ``node_id/weight`` arrays (``member_name``); unknown nodes are an error.

    A deeper path is a group's inner weight: ``(g1, n2, kernel)`` is weight ``n2/kernel`` of node ``g1``.
    """
    out: Weights = {}
    for key, arr in read_npz(path, "weights").items():
        parts = member_path(key)
        if len(parts) < 2 or not all(parts) or any(WEIGHT_SEP in p for p in parts[1:]):
            raise FileFormatError(f"{path}: array {shown(key)} is not named 'node_id/weight_name' "
                                  "(or 'group_id/inner_id/.../weight_name').")
        nid, wname = parts[0], WEIGHT_SEP.join(parts[1:])
        if graph is not None and nid not in graph:
            raise FileFormatError(f"{path}: array {shown(key)} belongs to node {shown(nid)}, "
                                  "which is not in the document.")
        if arr.dtype.kind not in "fiu":
            raise FileFormatError(f"{path}: array {shown(key)} has dtype {arr.dtype}, expected numbers.")
        out.setdefault(nid, {})[wname] = arr
    return out


MAX_NPZ_MEMBERS = 100_000
MAX_NPY_HEADER = 10_000


def read_npz(path: str | os.PathLike, what: str = "arrays") -> dict[str, np.ndarray]:
    """Every array of a ``.npz`` (a zip of ``.npy`` members), read without pickle and only after each
    header was checked: numeric dtype, and a shape whose size matches the bytes the member holds.

    Anything else -- a ``.npy`` under a ``.npz`` name, a member that is not ``.npy``, a duplicate, a
    damaged archive -- is a ``FileFormatError`` naming the file and the member.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if magic == b"\x93NUMPY":
        raise FileFormatError(f"{path}: is a single .npy array, not a .npz archive; save it with numpy.savez.")
    if not magic.startswith(b"PK"):
        raise FileFormatError(f"{path}: is not a .npz archive (numpy.savez) of {what}.")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_NPZ_MEMBERS:
                raise FileFormatError(f"{path}: the archive has {len(infos):,} members; not a .npz of {what}.")
            # each member's header must match its declared size (read_npy), so this bounds every array
            check_allocation(sum(i.file_size for i in infos), f"{path}: the {what}", FileFormatError)
            out: dict[str, np.ndarray] = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise FileFormatError(f"{path}: member {shown(info.filename)} is not a .npy array.")
                key = info.filename[:-4]
                if key in out:
                    raise FileFormatError(f"{path}: the array {shown(key)} is stored twice.")
                with zf.open(info) as fh:
                    out[key] = read_npy(fh, info.file_size, f"{path}: array {shown(key)}")
            return out
    except FileFormatError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError, zlib.error) as exc:
        raise FileFormatError(f"{path}: cannot read the {what} ({shown(str(exc))}).") from None


def read_npy(fh, size: int, where: str) -> np.ndarray:
    """One ``.npy`` stream of ``size`` bytes: header checked against ``size`` before anything is allocated."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh, max_header_size=MAX_NPY_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh, max_header_size=MAX_NPY_HEADER)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError, tokenize errors, ...
        raise FileFormatError(f"{where} has a malformed .npy header ({shown(str(exc))}).") from None
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise FileFormatError(f"{where} has dtype {shown(str(dtype))}; expected numbers.")
    nbytes = math.prod(shape) * dtype.itemsize
    held = size - fh.tell()
    if nbytes != held:
        raise FileFormatError(f"{where} declares shape {shown(shape)} ({nbytes:,} bytes) but holds {held:,} bytes; "
                              "the file is damaged.")
    check_allocation(nbytes, where, FileFormatError)
    buf = bytearray(nbytes)
    view, got = memoryview(buf), 0
    while got < nbytes:
        n = fh.readinto(view[got:])
        if not n:
            raise FileFormatError(f"{where} is truncated.")
        got += n
    return np.frombuffer(buf, dtype).reshape(shape, order="F" if fortran else "C")
