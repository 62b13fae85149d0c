"""Process-wide execution settings: how many BLAS threads the engine's matrix products use.

On small matmuls OpenBLAS with 2 threads is up to 30x slower than with 1 when the other core is busy
(the UI thread, another process), and varies 2x between runs even when it is not; 1 thread is
stable and usually as fast.  The default is therefore 1, overridable with ``LAYERGRAPH_BLAS_THREADS``
or ``set_blas_threads``.  ``bench/engine_bench.py`` measures both.
"""
from __future__ import annotations

import functools
import os
import threading
from typing import Any, Callable, TypeVar

from threadpoolctl import threadpool_limits

F = TypeVar("F", bound=Callable[..., Any])

_blas_threads: int = max(1, int(os.environ.get("LAYERGRAPH_BLAS_THREADS", "1") or 1))
_local = threading.local()


def set_blas_threads(n: int) -> None:
    global _blas_threads
    _blas_threads = max(1, int(n))


def blas_threads() -> int:
    return _blas_threads


def with_blas_threads(fn: F) -> F:
    """Run ``fn`` with the engine's BLAS thread limit (nested calls reuse the outer limit)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "active", False):
            return fn(*args, **kwargs)
        _local.active = True
        try:
            with threadpool_limits(limits=_blas_threads, user_api="blas"):
                return fn(*args, **kwargs)
        finally:
            _local.active = False

    return wrapper  # type: ignore[return-value]
