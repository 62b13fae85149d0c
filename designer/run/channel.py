"""A message channel between the designer and its training process over the child's stdin/stdout.

Pipes work the same on Linux, macOS and Windows and, unlike a listening socket, no other process
can connect to them.  Messages are plain data (dicts with string keys, lists, tuples, strings,
numbers, booleans, None, NumPy arrays of numbers, and the dataclass records registered with
``record``) encoded as JSON plus raw array bytes, never pickled: whatever arrives is decoded as data
and cannot run code (a record is rebuilt only as one of the registered types, from its fields).

Wire format of one message: ``<Q`` length of the JSON header, the header, then for each array in
order of appearance ``<Q`` byte length and the bytes.  In the header an array is
``{"__nd__": [dtype, shape]}``, a tuple is ``{"__tuple__": [...]}`` and a record is
``{"__record__": [type name, {field: value}]}``.
"""
from __future__ import annotations

import dataclasses
import json
import struct
import threading
from typing import IO, Any

import numpy as np

_LENGTH = struct.Struct("<Q")
_ARRAY, _TUPLE, _RECORD = "__nd__", "__tuple__", "__record__"
_RESERVED = (_ARRAY, _TUPLE, _RECORD)

#: The dataclasses a message may contain, by name (see ``messages``).
RECORDS: dict[str, type] = {}


def record(cls: type) -> type:
    """Register a dataclass so that it can be sent and is decoded into the same type."""
    if not dataclasses.is_dataclass(cls) or cls.__name__ in RECORDS:
        raise TypeError(f"{cls.__name__} is not a dataclass or is registered twice")
    RECORDS[cls.__name__] = cls
    return cls


def encode(message: Any) -> bytes:
    """The bytes of ``message``; ``TypeError`` for anything that is not plain data."""
    arrays: list[np.ndarray] = []

    def plain(obj: Any) -> Any:
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind not in "biuf":
                raise TypeError(f"cannot send an array of dtype {obj.dtype}")
            arrays.append(np.ascontiguousarray(obj))
            return {_ARRAY: [obj.dtype.str, list(obj.shape)]}
        if type(obj).__name__ in RECORDS and RECORDS[type(obj).__name__] is type(obj):
            fields = {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            return {_RECORD: [type(obj).__name__, fields]}
        if isinstance(obj, tuple):
            return {_TUPLE: [plain(v) for v in obj]}
        if isinstance(obj, list):
            return [plain(v) for v in obj]
        if isinstance(obj, dict):
            if not all(isinstance(k, str) for k in obj):
                raise TypeError("dict keys must be strings")
            if any(key in obj for key in _RESERVED):
                raise TypeError(f"dict keys {', '.join(map(repr, _RESERVED))} are reserved")
            return {k: plain(v) for k, v in obj.items()}
        raise TypeError(f"cannot send a {type(obj).__name__}")

    header = json.dumps(plain(message), separators=(",", ":")).encode("utf-8")
    parts = [_LENGTH.pack(len(header)), header]
    for arr in arrays:
        parts += [_LENGTH.pack(arr.nbytes), arr.tobytes()]
    return b"".join(parts)


def _decode(header: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(header, list):
        return [_decode(v, arrays) for v in header]
    if isinstance(header, dict):
        if _ARRAY in header:
            return arrays.pop(0)
        if _TUPLE in header:
            return tuple(_decode(v, arrays) for v in header[_TUPLE])
        if _RECORD in header:
            return _decode_record(header[_RECORD], arrays)
        return {k: _decode(v, arrays) for k, v in header.items()}
    return header


def _decode_record(spec: Any, arrays: list[np.ndarray]) -> Any:
    """A registered record from ``[name, {field: value}]``; ``ValueError`` for anything else."""
    if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[1], dict)):
        raise ValueError("malformed record")
    cls = RECORDS.get(spec[0]) if isinstance(spec[0], str) else None
    if cls is None:
        raise ValueError(f"unknown record {str(spec[0])[:40]!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    if not set(spec[1]) <= names:
        raise ValueError(f"unexpected fields for {spec[0]}")
    try:
        return cls(**{k: _decode(v, arrays) for k, v in spec[1].items()})
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"{spec[0]}: {exc}") from None


class Channel:
    """``send`` (thread-safe) and ``recv`` of plain-data messages over two binary streams."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self.reader = reader
        self.writer = writer
        self._send_lock = threading.Lock()

    def send(self, message: Any) -> None:
        """Raises ``OSError`` (``BrokenPipeError``) when the other side has gone."""
        data = encode(message)
        with self._send_lock:
            try:
                self.writer.write(data)
                self.writer.flush()
            except ValueError as exc:  # writing to a closed file
                raise BrokenPipeError(str(exc)) from None

    def recv(self) -> Any:
        """The next message; ``EOFError`` when the other side closed its end, ``ValueError`` when
        what arrived is not a message of this format."""
        header = json.loads(self._read(_LENGTH.unpack(self._read(_LENGTH.size))[0]).decode("utf-8"))
        arrays = []
        for spec in _array_specs(header):
            dtype, shape = np.dtype(spec[0]), tuple(int(n) for n in spec[1])
            if dtype.kind not in "biuf":
                raise ValueError(f"unexpected array dtype {dtype}")
            raw = self._read(_LENGTH.unpack(self._read(_LENGTH.size))[0])
            arrays.append(np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape))
        return _decode(header, arrays)

    def _read(self, n: int) -> bytes:
        try:
            data = self.reader.read(n)
        except ValueError:  # reading a closed file
            raise EOFError from None
        if data is None or len(data) < n:
            raise EOFError("the other process closed the channel")
        return data

    def close(self) -> None:
        """Close our writing end (the other side then sees end-of-file); reading ends with the process."""
        with self._send_lock:
            try:
                self.writer.close()
            except OSError:
                pass


def _array_specs(header: Any) -> list[list]:
    """The ``[dtype, shape]`` of each array in ``header``, in the order ``encode`` wrote them."""
    found: list[list] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, list):
            for v in obj:
                walk(v)
        elif isinstance(obj, dict):
            if _ARRAY in obj:
                found.append(obj[_ARRAY])
            elif _TUPLE in obj:
                walk(obj[_TUPLE])
            elif _RECORD in obj:
                walk(obj[_RECORD][1] if isinstance(obj[_RECORD], list) and len(obj[_RECORD]) == 2 else None)
            else:
                for v in obj.values():
                    walk(v)

    walk(header)
    return found
