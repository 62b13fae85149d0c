"""A message channel between the designer and its training process over the child's stdin/stdout.

Each message is a length-prefixed pickle.  Pipes work the same on Linux, macOS and Windows, and,
unlike a listening socket, no other process can connect to them.  Only the two processes of one
run write to the pipes; nothing read from a user's file passes through ``pickle`` here.
"""
from __future__ import annotations

import pickle
import struct
import threading
from typing import IO, Any

_HEADER = struct.Struct("<Q")


class Channel:
    """``send`` (thread-safe) and ``recv`` of Python objects over two binary streams."""

    def __init__(self, reader: IO[bytes], writer: IO[bytes]) -> None:
        self.reader = reader
        self.writer = writer
        self._send_lock = threading.Lock()

    def send(self, message: Any) -> None:
        """Raises ``OSError`` (``BrokenPipeError``) when the other side has gone."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._send_lock:
            try:
                self.writer.write(_HEADER.pack(len(data)))
                self.writer.write(data)
                self.writer.flush()
            except ValueError as exc:  # writing to a closed file
                raise BrokenPipeError(str(exc)) from None

    def recv(self) -> Any:
        """The next message; ``EOFError`` when the other side closed its end."""
        head = self._read(_HEADER.size)
        return pickle.loads(self._read(_HEADER.unpack(head)[0]))

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
