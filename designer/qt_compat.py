"""Work around a reference-count bug of shiboken6 6.12 on Python < 3.12.

shiboken6 6.12 treats ``None``, ``True`` and ``False`` as immortal (Python 3.12 semantics) and so
never increfs them when it returns them from a void call or a signal emit, yet Python 3.11 still
decrefs them.  After a few thousand Qt calls Python aborts with "none_dealloc: deallocating None".
Giving those singletons a huge reference count makes them effectively immortal, as they are on 3.12.
This must run before PySide6 is imported; ``designer/__init__.py`` calls it.
"""
from __future__ import annotations

import ctypes
import sys

_APPLIED = False


def make_singletons_immortal() -> None:
    global _APPLIED
    if _APPLIED or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    for obj in (None, True, False, Ellipsis, NotImplemented):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _APPLIED = True
