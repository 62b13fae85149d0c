"""Mutants of each input kind, derived deterministically from a seed file and a ``random.Random``.

Every mutator takes ``(data: bytes, rng)`` and returns new bytes; ``MUTATORS[kind]`` lists the ones a
kind draws from (byte-level damage for every kind, plus structural mutations that keep the file
parseable enough to reach deeper readers).
"""
from __future__ import annotations

import io
import json
import random
import struct
import warnings
import zipfile
import zlib
from typing import Any, Callable

import numpy as np

Mutator = Callable[[bytes, random.Random], bytes]
BOMB_BYTES = 2 * 1024 ** 3  # what a compression bomb inflates to (set from the memory limit by the campaign)


# ----- bytes ---------------------------------------------------------------------------------------------
def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[:rng.randrange(len(data) + 1)] if data else data


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return b"\xff"
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        i = rng.randrange(len(buf))
        buf[i] = rng.randrange(256) if rng.random() < 0.5 else buf[i] ^ (1 << rng.randrange(8))
    return bytes(buf)


def splice(data: bytes, rng: random.Random) -> bytes:
    """Delete, duplicate or insert a span."""
    i = rng.randrange(len(data) + 1)
    j = min(len(data), i + rng.choice((1, 8, 64, 4096)))
    op = rng.randrange(3)
    if op == 0:
        return data[:i] + data[j:]
    if op == 1:
        return data[:j] + data[i:j] * rng.choice((1, 2, 100)) + data[j:]
    return data[:i] + bytes(rng.randrange(256) for _ in range(rng.choice((1, 4, 32)))) + data[i:]


def replace_whole(data: bytes, rng: random.Random) -> bytes:
    return rng.choice((b"", b"\x00" * 64, b"{}", b"[]", b"null", b"PK\x05\x06" + b"\x00" * 18,
                       b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                       bytes(rng.randrange(256) for _ in range(256)), b"\xef\xbb\xbf" + data))


BYTE_MUTATORS: list[Mutator] = [truncate, flip_bytes, splice, replace_whole]


# ----- JSON ----------------------------------------------------------------------------------------------
RAW = "\u0001RAW{}\u0001"  # placeholder for text json.dumps cannot produce


def deep(rng: random.Random) -> str:
    depth = rng.choice((100, 1000, 20000, 200000))
    return "[" * depth + "]" * depth if rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth


def long_text(rng: random.Random) -> str:
    unit = rng.choice(("x", "é", "\x00", "\n", "\ud800", "/", "../", "\u202e", "\t", "a\u0301", "%2F", " "))
    return unit * rng.choice((1, 81, 201, 5000, 2_000_000))


RAW_VALUES = ("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 400, "-" + "9" * 400, "1e-400",
              "1.0", "-0", "0.5")
PLAIN_VALUES: tuple[Any, ...] = (None, True, False, 0, -1, 1, 2**31, 2**31 - 1, 2**32, 2**53 + 1, 2**63, 2**64,
                                 -2**63 - 1, 10**30, 1e308, -1e308, 3.5, -0.5, "", "x", "NaN", [], {}, [1], [None],
                                 {"a": 1}, [[1, 2], [3]], [0, 0, 0, 0, 0, 0])


def weird_value(rng: random.Random, raws: list[str]) -> Any:
    pick = rng.randrange(4)
    if pick == 0:
        raws.append(rng.choice(RAW_VALUES) if rng.random() < 0.8 else deep(rng))
        return RAW.format(len(raws) - 1)
    if pick == 1:
        return long_text(rng)
    return rng.choice(PLAIN_VALUES)


def paths(obj: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += paths(v, path + (i,))
    return out


def at(obj: Any, path: tuple) -> Any:
    for p in path:
        obj = obj[p]
    return obj


def dumps(obj: Any, raws: list[str], rng: random.Random) -> bytes:
    text = json.dumps(obj, indent=rng.choice((None, 2)), ensure_ascii=rng.random() < 0.5)
    for i, raw in enumerate(raws):
        text = text.replace(json.dumps(RAW.format(i), ensure_ascii=False), raw)
        text = text.replace(json.dumps(RAW.format(i)), raw)
    return text.encode("utf-8", "surrogatepass")


def tree_mutation(obj: Any, rng: random.Random, raws: list[str]) -> Any:
    """One generic change somewhere in a JSON tree: delete/rename a key, or a weird value anywhere."""
    targets = paths(obj)
    path = rng.choice(targets)
    parent_path, key = path[:-1], (path[-1] if path else None)
    if not path:
        return weird_value(rng, raws) if rng.random() < 0.3 else obj
    parent = at(obj, parent_path)
    op = rng.randrange(5)
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 1 and isinstance(parent, dict):
        parent[rng.choice((key + "x", key.upper(), "", " " + key, key + "\x00"))] = parent.pop(key)
    elif op == 2 and isinstance(parent, list):
        if rng.random() < 0.5:
            del parent[key]
        else:
            parent.insert(key, json.loads(json.dumps(parent[key])))  # duplicate an entry
    else:
        parent[key] = weird_value(rng, raws)
    return obj


def json_mutation(specific: Callable[[Any, random.Random, list[str]], Any] | None) -> Mutator:
    def mutate(data: bytes, rng: random.Random) -> bytes:
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):  # a previous mutation nested it too deep for json
            return flip_bytes(data, rng)
        raws: list[str] = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            if specific is not None and rng.random() < 0.6:
                obj = specific(obj, rng, raws)
            else:
                obj = tree_mutation(obj, rng, raws)
        return dumps(obj, raws, rng)
    mutate.__name__ = f"json_{specific.__name__ if specific else 'tree'}"
    return mutate


# ----- documents -----------------------------------------------------------------------------------------
WEIGHT_NAMES = ("../g.npz", "/dev/zero", "/etc/passwd", ".", "", "g.lgraph", "data.npz", "x.npz", "missing.npz",
                "w" * 300 + ".npz", "a\x00b.npz", "g.npz/", "\ud800.npz", "~/g.npz", "g.NPZ", "/proc/self/mem")
TRAINING_KEYS = ("epochs", "batch_size", "seed", "learning_rate", "validation_split", "optimizer", "loss",
                 "dataset", "data", "shuffle", "label_column")
CLASS_NAMES = ("Dense", "Conv2D", "LSTM", "Input", "Add", "Concatenate", "Flatten", "Lambda", "__class__",
               "BatchNormalization", "Embedding", "Reshape", "Dropout", "MultiHeadAttention", "")


def document_specific(doc: Any, rng: random.Random, raws: list[str]) -> Any:
    """References and structure: cycles, dangling/duplicate ids and edges, class names, weights, settings."""
    if not isinstance(doc, dict):
        return doc
    nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []
    edges = doc.get("edges") if isinstance(doc.get("edges"), list) else []
    ids = [n.get("id") for n in nodes if isinstance(n, dict)] or ["n1"]
    op = rng.randrange(12)
    if op == 0:  # a cycle or a self-loop
        a, b = rng.choice(ids), rng.choice(ids)
        edges.append({"source": a, "target": b, "index": rng.choice((0, 1))})
    elif op == 1:  # dangling or odd endpoints
        e = rng.choice(edges) if edges else {}
        e[rng.choice(("source", "target"))] = rng.choice(("nope", "", ["n1"], {"id": "n1"}, 1, None, "n1/kernel"))
        edges.append(e) if not edges else None
    elif op == 2 and edges:  # duplicate edge or port
        e = dict(rng.choice(edges))
        e["index"] = rng.choice((e.get("index", 0), 0, 1, -1, 2**31, 10**30, "0", 0.0))
        edges.append(e)
    elif op == 3 and nodes:  # duplicate node, id or name
        n = json.loads(json.dumps(rng.choice(nodes)))
        if rng.random() < 0.5:
            n["id"] = n.get("id", "") + "_copy"
        nodes.append(n)
    elif op == 4 and nodes:  # odd ids and names
        n = rng.choice(nodes)
        n[rng.choice(("id", "name"))] = rng.choice(("a/b", "a\x00b", "\ud800", "", " ", "n1", "x" * 201, "%2F",
                                                     "\n", 7, None, ["n1"], "Ω" * 200, "con", ".."))
    elif op == 5 and nodes:  # another class
        n = rng.choice(nodes)
        n["class_name"] = rng.choice(CLASS_NAMES)
    elif op == 6 and nodes:  # a config value of another layer, or a foreign Keras object
        n = rng.choice(nodes)
        cfg = n.setdefault("config", {}) if isinstance(n.get("config", {}), dict) else {}
        key = rng.choice(("units", "filters", "kernel_size", "strides", "activation", "shape", "rate", "axis",
                          "kernel_regularizer", "kernel_initializer", "padding", "pool_size", "target_shape",
                          "return_sequences", "use_bias", "epsilon", "momentum", "extra_arg"))
        value = weird_value(rng, raws)
        if key.endswith(("regularizer", "initializer")) and rng.random() < 0.6:
            value = {"module": rng.choice(("os", "keras_evil.os", "keras.regularizers", "builtins")),
                     "class_name": rng.choice(("L2", "system", "GlorotUniform", "eval")),
                     "config": {"l2": rng.choice((0.01, "1", None, 1e308)), "command": "true"}}
        cfg[key] = value
    elif op == 7:
        doc["weights"] = rng.choice(WEIGHT_NAMES)
    elif op == 8:
        training = doc.setdefault("training", {}) if isinstance(doc.get("training"), dict) else {}
        training[rng.choice(TRAINING_KEYS)] = weird_value(rng, raws)
    elif op == 9 and nodes:  # a long chain or many nodes
        first = json.loads(json.dumps(nodes[-1]))
        count = rng.choice((100, 2000, 20000))
        for i in range(count):
            n = dict(first, id=f"z{i}", name=f"z{i}")
            nodes.append(n)
        chain = [{"source": nodes[-count - 1].get("id"), "target": "z0", "index": 0}]
        chain += [{"source": f"z{i}", "target": f"z{i + 1}", "index": 0} for i in range(count - 1)]
        edges.extend(reversed(chain) if rng.random() < 0.5 else chain)
    elif op == 10 and nodes:  # remove a node but keep its edges (or the reverse)
        nodes.pop(rng.randrange(len(nodes)))
    else:
        doc[rng.choice(("format", "version"))] = rng.choice(("layergraph", "lg", 1, 2, 0, -1, 10**400 and 2**70,
                                                            None, "1"))
    return doc


# ----- .npy / .npz ---------------------------------------------------------------------------------------
def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def npy_header(shape_text: str, descr: str = "'<f4'", fortran: str = "False") -> bytes:
    header = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def read_members(data: bytes) -> list[tuple[str, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(i.filename, zf.read(i)) for i in zf.infolist() if i.file_size < 64 * 1024 ** 2]
    except Exception:  # noqa: BLE001 - a damaged seed: the caller falls back to byte damage
        return None


def write_members(members: list[tuple[str, bytes]], rng: random.Random) -> bytes:
    buf = io.BytesIO()
    method = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))
    with zipfile.ZipFile(buf, "w", method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point
        for name, payload in members:
            zf.writestr(zipfile.ZipInfo(name), payload, compress_type=method)
    return buf.getvalue()


def odd_array(original: np.ndarray | None, rng: random.Random) -> bytes:
    """A member replaced by an array of another dtype, shape or content, or by a lying header."""
    base = original if original is not None and original.dtype != object else np.zeros((2, 3), np.float32)
    op = rng.randrange(12)
    if op == 0:
        return npy_bytes(base.astype(rng.choice((np.float64, np.float16, np.int64, np.int8, np.bool_,
                                                  np.complex64, np.uint8))))
    if op == 1:
        return npy_bytes(rng.choice((np.array("text"), np.array(["a", "b"]), np.array([b"x"]),
                                     np.array([1, "a", None], dtype=object), np.array(["2020-01-01"], "M8[D]"),
                                     np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))))
    if op == 2:
        return npy_bytes(rng.choice((np.float32(1.0), np.zeros((0,), np.float32), np.zeros((0, 4), np.float32),
                                     base.T.copy(), base.reshape(-1), base[None], np.zeros((1, 1, 1, 1, 1, 1, 1, 1)))))
    if op == 3:
        bad = base.astype(np.float32).copy()
        if bad.size:
            bad.flat[rng.randrange(bad.size)] = rng.choice((np.nan, np.inf, -np.inf, 3e38))
        return npy_bytes(bad)
    if op == 4:
        return npy_bytes(np.asfortranarray(base.astype(">f4")))
    if op == 5:  # the header declares far more than the member holds
        shape = rng.choice(("(1099511627776,)", "(60000, 60000)", "(-1,)", "(10000000000000000000000,)",
                            "(2, -3)", "()", "(0, 1099511627776)", "(3,) ", "[3]", "(3.5,)", "('a',)"))
        return npy_header(shape) + b"\x00" * 24
    if op == 6:
        return npy_header(str(tuple(base.shape)).replace(",)", ",)"), rng.choice(("'|O'", "'<U9'", "'x'", "1",
                                                                                   "'<f4'.__class__", "'V8'")))
    if op == 7:  # malformed header text or length
        text = rng.choice((b"{'descr': '<f4'", b"__import__('os')", b"{" * 5000, b"\xff\xfe", b""))
        length = rng.choice((len(text), 65535, 0))
        return b"\x93NUMPY" + bytes([rng.choice((1, 2, 3, 9)), 0]) + struct.pack("<H", length) + text
    if op == 8:
        return npy_bytes(base)[:rng.randrange(len(npy_bytes(base)) + 1)]
    if op == 9:
        return npy_header(str(tuple(base.shape)), fortran="True") + base.astype("<f4").tobytes()
    if op == 10:
        return npy_bytes(np.full(base.shape, rng.choice((1e30, -1e30, 0.0)), np.float32))
    return b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(40))


def member_array(payload: bytes) -> np.ndarray | None:
    try:
        return np.load(io.BytesIO(payload), allow_pickle=False)
    except Exception:  # noqa: BLE001
        return None


def npz_structure(data: bytes, rng: random.Random) -> bytes:
    """Delete, rename, duplicate, add or replace ``.npz`` members."""
    members = read_members(data)
    if not members:
        return flip_bytes(data, rng)
    i = rng.randrange(len(members))
    name, payload = members[i]
    op = rng.randrange(7)
    if op == 0:
        del members[i]
    elif op == 1:
        stem = name[:-4] if name.endswith(".npy") else name
        members[i] = (rng.choice((stem, stem + ".NPY", "../" + name, "/" + name, stem + "x.npy", name.upper(),
                                  stem.replace("/", "%2F") + ".npy", stem + "/extra.npy", "a\\b.npy", "é.npy",
                                  stem + "\x01.npy", " " + name, "x" * 300 + ".npy")), payload)
    elif op == 2:
        members.append((name, odd_array(member_array(payload), rng)))  # the same name twice
    elif op == 3:
        members.append((rng.choice(("extra.npy", "n99/kernel.npy", "y.npy", "x.npy", "z.txt")),
                        npy_bytes(np.ones(rng.choice(((3,), (2, 2), ())), np.float32))))
    elif op == 4:
        members = [] if rng.random() < 0.3 else members[:1]
    elif op == 5 and rng.random() < 0.3:
        members += [(f"m{k}.npy", npy_bytes(np.zeros(1, np.float32))) for k in range(rng.choice((1000, 5000)))]
    else:
        members[i] = (name, odd_array(member_array(payload), rng))
    return write_members(members, rng)


def npy_as_npz(data: bytes, rng: random.Random) -> bytes:
    members = read_members(data)
    if not members:
        return data
    return rng.choice(members)[1]


# a compression bomb: a deflated member that inflates to BOMB_BYTES of zeros, built once per size
_BOMBS: dict[int, tuple[bytes, int]] = {}


def deflated_zeros(size: int, prefix: bytes = b"") -> tuple[bytes, int]:
    """(raw deflate stream, crc32) of ``prefix`` followed by zeros up to ``size`` bytes."""
    key = (size, prefix)
    if key not in _BOMBS:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = bytes(64 * 1024 ** 2)
        out, crc, done = [comp.compress(prefix)], zlib.crc32(prefix), len(prefix)
        while done < size:
            part = chunk[:min(len(chunk), size - done)]
            out.append(comp.compress(part))
            crc = zlib.crc32(part, crc)
            done += len(part)
        out.append(comp.flush())
        _BOMBS[key] = (b"".join(out), crc)
    return _BOMBS[key]


def zip_with_raw_member(members: list[tuple[str, bytes]], name: str, stream: bytes, crc: int, size: int,
                        declared: int | None = None) -> bytes:
    """A zip of ``members`` (stored) plus one deflated member given as a raw stream (sizes may lie)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for n, payload in members:
            zf.writestr(n, payload)
    base = buf.getvalue()
    # rebuild: stored members' local records, then ours, then a central directory for all
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        infos = zf.infolist()
        cd_offset = zf.start_dir
    body = bytearray(base[:cd_offset])
    offset = len(body)
    fname = name.encode("utf-8")
    usize = size if declared is None else declared
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0x800, 8, 0, 0x21, crc, len(stream), usize,
                        len(fname), 0)
    body += local + fname + stream
    central = bytearray()
    for info in infos:
        n = info.filename.encode("utf-8")
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0x800, 0, 0, 0x21, info.CRC,
                               info.compress_size, info.file_size, len(n), 0, 0, 0, 0, 0, info.header_offset) + n
    central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0x800, 8, 0, 0x21, crc, len(stream), usize,
                           len(fname), 0, 0, 0, 0, 0, offset) + fname
    count = len(infos) + 1
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), len(body), 0)
    return bytes(body + central + end)


def bomb_npy_header() -> bytes:
    return npy_header(f"({(BOMB_BYTES - 128) // 4},)")


def prebuild_bombs() -> None:
    """Compress the bombs of the current BOMB_BYTES now (seconds each), not inside a timed campaign."""
    header = bomb_npy_header()
    deflated_zeros(BOMB_BYTES - 128 + len(header), header)
    for prefix in (b"{", b"\x89HDF\r\n\x1a\n"):
        deflated_zeros(BOMB_BYTES, prefix)


def npz_bomb(data: bytes, rng: random.Random) -> bytes:
    """One member replaced by a deflated float32 array of BOMB_BYTES zeros (its header tells the truth,
    or the zip's declared size lies)."""
    members = read_members(data) or [("x.npy", b"")]
    i = rng.randrange(len(members))
    name = members.pop(i)[0]
    header = bomb_npy_header()
    stream, crc = deflated_zeros(BOMB_BYTES - 128 + len(header), header)
    declared = rng.choice((None, None, 1000))
    return zip_with_raw_member(members, name, stream, crc, BOMB_BYTES - 128 + len(header), declared)


# ----- CSV -----------------------------------------------------------------------------------------------
CELLS = ("", "nan", "NaN", "inf", "-inf", "1e999", "-1e999", "abc", "0x10", "1_000", "١٢", "\x00", '"', "1e-400",
         "9" * 400, " 1 ", "1,5", "true", "-0", "3.4028236e38", "\ud800")


def csv_structure(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("utf-8", "replace")
    rows = [line.split(",") for line in text.splitlines()]
    if not rows:
        return b"a,b\n"
    op = rng.randrange(9)
    r = rng.randrange(len(rows))
    if op == 0 and rows[r]:
        rows[r][rng.randrange(len(rows[r]))] = rng.choice(CELLS)
    elif op == 1 and rows[r]:
        del rows[r][rng.randrange(len(rows[r]))]
    elif op == 2:
        rows[r].append(rng.choice(CELLS))
    elif op == 3:
        rows = rows[:rng.choice((0, 1, 2))]
    elif op == 4:
        rows[0] = [rng.choice((c, c, "label", "", "x" * 5000, "\n")) for c in rows[0]]
    elif op == 5:
        rows += rows[1:] * rng.choice((10, 100))
    elif op == 6:
        rows = [row + ["0"] * rng.choice((100, 50000)) for row in rows[:3]]
    elif op == 7:
        for row in rows[1:]:
            if row:
                row[-1] = rng.choice(("cat", "-1", "1e9", "2147483648", "0.5", "9" * 40, "nan"))
    else:
        sep = rng.choice((";", "\t", "\r\n", "\r"))
        return ("\n".join(sep.join(row) for row in rows) + "\n").encode("utf-8", "surrogatepass")
    return ("\n".join(",".join(row) for row in rows) + "\n").encode("utf-8", "surrogatepass")


# ----- .keras archives -----------------------------------------------------------------------------------
def keras_specific(cfg: Any, rng: random.Random, raws: list[str]) -> Any:
    """Layer classes, arguments, Keras objects, inbound references and input shapes of a model config."""
    layers = [p for p in paths(cfg) if p and p[-1] == "config" and isinstance(at(cfg, p), dict)
              and "name" in at(cfg, p)]
    if not layers:
        return tree_mutation(cfg, rng, raws)
    layer_cfg = at(cfg, rng.choice(layers))
    op = rng.randrange(6)
    if op == 0:
        key = rng.choice(("units", "filters", "kernel_size", "batch_shape", "shape", "rate", "axis", "activation",
                          "dtype", "name", "use_bias", "strides", "padding", "momentum", "pool_size", "trainable"))
        layer_cfg[key] = weird_value(rng, raws)
    elif op == 1:
        key = rng.choice(("kernel_initializer", "kernel_regularizer", "bias_constraint", "activity_regularizer"))
        layer_cfg[key] = {"module": rng.choice(("os", "keras_evil.os", "keras.regularizers", "keras.initializers",
                                                "builtins", "keras.src.ops")),
                          "class_name": rng.choice(("L2", "system", "GlorotUniform", "eval", "Orthogonal")),
                          "config": {"l2": rng.choice((0.1, 1e999 and 1e308, "x", None)), "seed": 2**70,
                                     "gain": float("nan") if rng.random() < 0.3 else 1.0},
                          "registered_name": rng.choice((None, "os>system", "L2"))}
    elif op == 2:  # another class for one layer
        holders = [p for p in paths(cfg) if p and isinstance(at(cfg, p), dict) and "class_name" in at(cfg, p)]
        if holders:
            at(cfg, rng.choice(holders))["class_name"] = rng.choice(CLASS_NAMES + ("Functional", "Sequential",
                                                                                  "TFOpLambda", "Model"))
    elif op == 3:  # inbound references: dangling, cyclic, odd
        holders = [p for p in paths(cfg) if p and p[-1] in ("inbound_nodes", "input_layers", "output_layers",
                                                             "keras_history", "args")]
        if holders:
            parent = at(cfg, rng.choice(holders)[:-1])
            key = rng.choice([k for k in ("inbound_nodes", "input_layers", "output_layers", "keras_history",
                                          "args") if k in parent] or ["args"])
            parent[key] = rng.choice(([["nope", 0, 0]], ["dense", 99, 0], [], None, ["x"], [[[[[]]]]],
                                      {"class_name": "__keras_tensor__", "config": {"keras_history": ["mlp", 0, 0]}},
                                      weird_value(rng, raws)))
    elif op == 4:  # the case: a wide Dense on a wide input (weights then need 60000 x 60000)
        width = rng.choice((60000, 2**31 - 1, 10**12))
        for p in paths(cfg):
            v = at(cfg, p)
            if isinstance(v, dict):
                if "units" in v:
                    v["units"] = width
                if "batch_shape" in v and isinstance(v["batch_shape"], list) and v["batch_shape"]:
                    v["batch_shape"] = [None] + [width] * (len(v["batch_shape"]) - 1)
    else:
        layer_cfg["name"] = rng.choice(("a/b", "a\x00b", "\ud800", "", "x" * 300, "..", "kernel", 7, None))
    return cfg


def archive_member(name: str, mutate: Mutator) -> Mutator:
    """Apply ``mutate`` to one member of the archive (config.json, metadata.json, model.weights.h5)."""
    def mutator(data: bytes, rng: random.Random) -> bytes:
        members = read_members(data)
        if not members:
            return flip_bytes(data, rng)
        members = [(n, mutate(p, rng) if n == name else p) for n, p in members]
        return write_members(members, rng)
    mutator.__name__ = f"{name}:{getattr(mutate, '__name__', 'mutate')}"
    return mutator


def archive_structure(data: bytes, rng: random.Random) -> bytes:
    members = read_members(data)
    if not members:
        return flip_bytes(data, rng)
    i = rng.randrange(len(members))
    op = rng.randrange(4)
    if op == 0:
        del members[i]
    elif op == 1:
        members[i] = (rng.choice(("../" + members[i][0], members[i][0].upper(), "x/" + members[i][0], "config")),
                      members[i][1])
    elif op == 2:
        members.append(members[i])
    else:
        members.append(("extra.bin", bytes(rng.randrange(256) for _ in range(64))))
    return write_members(members, rng)


def archive_bomb(data: bytes, rng: random.Random) -> bytes:
    members = read_members(data) or []
    name = rng.choice(("model.weights.h5", "config.json", "metadata.json"))
    members = [(n, p) for n, p in members if n != name]
    prefix = b"{" if name.endswith(".json") else b"\x89HDF\r\n\x1a\n"
    stream, crc = deflated_zeros(BOMB_BYTES, prefix)
    return zip_with_raw_member(members, name, stream, crc, BOMB_BYTES, rng.choice((None, None, 5000)))


def h5_mutation(data: bytes, rng: random.Random) -> bytes:
    """Structural damage inside ``model.weights.h5``: deleted or renamed datasets, other dtypes and shapes,
    datasets declared huge but never written (no space in the file), corrupted compressed chunks."""
    import tempfile

    import h5py

    with tempfile.NamedTemporaryFile(suffix=".h5") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            with h5py.File(tmp.name, "r+") as f:
                datasets: list[str] = []
                f.visititems(lambda n, o: datasets.append(n) if isinstance(o, h5py.Dataset) else None)
                if not datasets:
                    return flip_bytes(data, rng)
                name = rng.choice(datasets)
                old = f[name]
                shape, dtype = old.shape, old.dtype
                op = rng.randrange(7)
                if op == 0:
                    del f[name]
                elif op == 1:
                    f.move(name, name + rng.choice(("x", "/y", "_1")))
                elif op == 2:  # lazily declared: a huge shape that takes no space in the file
                    del f[name]
                    big = rng.choice(((60000, 60000), (2**20, 2**20), (10**6,) + tuple(shape[1:])))
                    kw = rng.choice(({}, {"chunks": True}, {"chunks": True, "compression": "gzip"}))
                    f.create_dataset(name, shape=big, dtype="f4", **kw)
                elif op == 3:
                    del f[name]
                    value = rng.choice((np.array("text", dtype=h5py.string_dtype()), np.zeros(shape, np.int64),
                                        np.zeros((7,) + tuple(shape), "f4"), np.float32(1), np.zeros(shape, "c8"),
                                        np.full(shape, np.nan, "f4"), np.array([b"ab", b"c"])))
                    f.create_dataset(name, data=value)
                elif op == 4:  # compressed chunks, then damage the bytes of the file
                    del f[name]
                    f.create_dataset(name, data=np.random.default_rng(0).normal(size=shape).astype(dtype),
                                     chunks=True, compression="gzip")
                elif op == 5:
                    parent = f[name].parent
                    parent.attrs[rng.choice(("weight_names", "keras_version", "x"))] = rng.choice(
                        ("\ud800".encode("utf-8", "surrogatepass"), b"\xff\xfe", np.arange(3), "x" * 10000))
                else:
                    grp = f.require_group(rng.choice(("layers/extra", "vars", "layers/dense/vars/99")))
                    grp.create_dataset(rng.choice(("0", "\u00e9", "x" * 200)), data=np.ones(3, "f4"))
            out = open(tmp.name, "rb").read()
        except Exception:  # noqa: BLE001 - the seed h5 did not open (shouldn't happen): damage bytes instead
            return flip_bytes(data, rng)
    if op == 4:
        return flip_bytes(out, rng)
    return out


# ----- per kind ------------------------------------------------------------------------------------------
MUTATORS: dict[str, list[Mutator]] = {
    "documents": BYTE_MUTATORS + [json_mutation(None)] * 3 + [json_mutation(document_specific)] * 6,
    "weights": BYTE_MUTATORS + [npz_structure] * 6 + [npy_as_npz, npz_bomb],
    "data": BYTE_MUTATORS + [npz_structure] * 6 + [npy_as_npz, npz_bomb],
    "csv": BYTE_MUTATORS + [csv_structure] * 6,
    "archives": BYTE_MUTATORS + [archive_member("config.json", json_mutation(None))] * 2
    + [archive_member("config.json", json_mutation(keras_specific))] * 5
    + [archive_member("metadata.json", json_mutation(None)), archive_member("model.weights.h5", flip_bytes),
       archive_member("model.weights.h5", truncate)]
    + [archive_member("model.weights.h5", h5_mutation)] * 4 + [archive_structure, archive_bomb],
}


def mutators_for(kind: str, target: str) -> list[Mutator]:
    return MUTATORS["csv" if target.endswith(".csv") else kind]


def mutate(kind: str, target: str, data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(mutator name, mutant); one in ten mutants stacks a second mutation."""
    fns = mutators_for(kind, target)
    fn = rng.choice(fns)
    out = fn(data, rng)
    name = fn.__name__
    if rng.random() < 0.1:
        fn2 = rng.choice(fns)
        out = fn2(out, rng)
        name += "+" + fn2.__name__
    return name, out

