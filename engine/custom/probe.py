"""A custom layer's output shape, inferred in a short-lived child process with CPU-time and memory limits.

The designer infers shapes while the user edits, so a ``call`` that loops forever or allocates without bound
must not freeze its window.  Inside ``isolated_shapes()`` (the designer's validation; a context variable, so
the training thread is unaffected and training runs the code in its own process, as the issue says),
``CustomLayer.output_shape`` asks ``infer_output_shape`` here instead of running the code itself: the parent
refuses untrusted code before anything starts, then runs ``python -m engine.custom.probe`` with the layer's
config and input shapes as JSON on stdin; the child checks trust again (``trusted_exec``), limits itself
(``RLIMIT_CPU``, ``RLIMIT_AS``) and answers with JSON on stdout.  The parent polls with a wall-clock timeout,
calling ``idle`` meanwhile so the window keeps painting.  Plain data both ways, never pickle.  Answers (shapes
and the code's errors, but not a wall-clock timeout, which a loaded machine can cause) are cached per
(definition digest, arguments, input shapes, node name), so editing elsewhere does not respawn the child.
The CLI's validate and summary keep running in-process (a terminal can be interrupted).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

CPU_SECONDS = 2
"""CPU time the layer's code may use in the child, after the child's imports."""
MEMORY_BYTES = 1 << 30
"""Address space the layer's code may add to the child's (1 GB)."""
WALL_SECONDS = 15.0
"""Wall-clock limit of the whole child, imports included (a loaded machine imports slowly)."""
_POLL_SECONDS = 0.02
_MAX_REQUEST = 1 << 20


@dataclass(frozen=True)
class Isolation:
    """Shapes of custom layers come from the child process; ``idle`` runs while the parent waits."""

    idle: Callable[[], None] | None = None


_isolation: ContextVar[Isolation | None] = ContextVar("custom_shape_isolation", default=None)
_cache: dict[tuple, tuple] = {}


@contextmanager
def isolated_shapes(idle: Callable[[], None] | None = None) -> Iterator[None]:
    """Within this block (in this thread), custom layers' shapes are inferred in a limited child process."""
    token = _isolation.set(Isolation(idle))
    try:
        yield
    finally:
        _isolation.reset(token)


def active() -> Isolation | None:
    return _isolation.get()


def clear_cache() -> None:
    _cache.clear()


# ----- parent ----------------------------------------------------------------------------------------------
def infer_output_shape(layer: Any, input_shapes: list, isolation: Isolation) -> tuple:
    """``layer.output_shape(input_shapes)`` computed in a limited child; errors come back as the same
    exception classes (``CodeRunError`` with its line, ``ShapeError``, ``ConfigError``) with one-line text."""
    from engine.custom import trust, trusted_exec

    definition = layer.definition
    if not trust.is_trusted(definition):
        raise trusted_exec.UntrustedCodeError(trusted_exec.untrusted_message(definition))
    shapes = [list(s) for s in input_shapes]
    key = (definition.digest, json.dumps(layer.arguments, sort_keys=True), json.dumps(shapes), layer.name)
    if key not in _cache:
        request = {"config": {"name": layer.name, "definition": definition.to_dict(),
                              "arguments": layer.config.get("arguments")},
                   "input_shapes": shapes, "trust_all": trust.process_trusts_all()}
        entry = _run_child(request, layer, isolation.idle)
        if entry[0] == "retry":  # the machine, not the code, may be at fault: ask again next time
            return _answer(entry)
        _cache[key] = entry
    return _answer(_cache[key])


def _answer(entry: tuple) -> tuple:
    from engine.custom.trusted_exec import CodeRunError
    from engine.errors import ConfigError, ShapeError

    kind, value, line = entry
    if kind == "shape":
        return tuple(value)
    if kind == "config":
        raise ConfigError(value, "definition")
    if kind == "shape_error":
        raise ShapeError(value)
    raise CodeRunError(value, line)


def _child_command() -> tuple[list[str], dict[str, str]]:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"  # one thread: no per-thread arenas counted against the memory limit
    return [sys.executable, "-m", "engine.custom.probe"], env


def _run_child(request: dict, layer: Any, idle: Callable[[], None] | None) -> tuple:
    """Start the child, wait for it (calling ``idle``), and turn what happened into a cache entry."""
    command, env = _child_command()
    what = f"{layer.owner}: the layer's code"
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env)
    except OSError as exc:
        return ("retry", f"{what} could not be checked: the shape-inference process did not start ({exc})", None)
    with proc:
        try:
            proc.stdin.write(json.dumps(request).encode("utf-8"))
            proc.stdin.close()
        except OSError:
            pass  # the child died early; its exit status says why
        deadline = time.monotonic() + WALL_SECONDS
        while proc.poll() is None and time.monotonic() < deadline:
            if idle is not None:
                idle()
            try:
                proc.wait(timeout=_POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
            return ("retry", f"{what} did not finish within {WALL_SECONDS:g} s while its shape was inferred "
                            "(look for an endless loop)", None)
        output = proc.stdout.read()
    return _entry_from(proc.returncode, output, what)


def _entry_from(returncode: int, output: bytes, what: str) -> tuple:
    import signal

    try:
        reply = json.loads(output.decode("utf-8")) if output else None
    except (UnicodeDecodeError, ValueError):
        reply = None
    if isinstance(reply, dict) and reply.get("kind") in ("shape", "config", "shape_error", "code"):
        line = reply.get("line")
        return (reply["kind"], reply.get("value"), line if isinstance(line, int) else None)
    if isinstance(reply, dict) and reply.get("kind") == "memory":
        return ("code", f"{what} needed more than {MEMORY_BYTES >> 30} GB while its shape was inferred", None)
    if returncode in (-getattr(signal, "SIGXCPU", -999), -signal.SIGKILL):
        return ("code", f"{what} ran longer than {CPU_SECONDS} s while its shape was inferred "
                        "(look for an endless loop)", None)
    return ("code", f"{what} stopped the shape-inference process (exit status {returncode}); it may have needed "
                    f"more than {MEMORY_BYTES >> 30} GB", None)


# ----- child -----------------------------------------------------------------------------------------------
def _limit_resources() -> None:
    """Cap CPU time and address space from here on (the imports so far do not count against the layer)."""
    try:
        import resource
    except ImportError:  # Windows: only the parent's wall-clock timeout applies
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = int(used.ru_utime + used.ru_stime) + 1 + CPU_SECONDS
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            current = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return  # no /proc (macOS): RLIMIT_AS is not enforced there anyway
    resource.setrlimit(resource.RLIMIT_AS, (current + MEMORY_BYTES, current + MEMORY_BYTES))


def _child_reply(request: Any) -> dict:
    from engine.custom import trust, trusted_exec
    from engine.errors import ConfigError, ShapeError
    from engine.layers.custom import CustomLayer

    if not isinstance(request, dict) or not isinstance(request.get("input_shapes"), list):
        return {"kind": "code", "value": "the shape-inference request is malformed"}
    if request.get("trust_all") is True:
        trust.trust_this_process()  # the parent runs with --trust-code
    try:
        layer = CustomLayer(request.get("config"))
        shapes = [tuple(s) for s in request["input_shapes"]]
        return {"kind": "shape", "value": list(layer.output_shape(shapes))}
    except MemoryError:
        return {"kind": "memory"}
    except trusted_exec.CodeRunError as exc:
        if isinstance(exc.__context__, MemoryError):
            return {"kind": "memory"}
        return {"kind": "code", "value": str(exc), "line": exc.line}
    except ShapeError as exc:
        return {"kind": "shape_error", "value": str(exc)}
    except (ConfigError, TypeError, ValueError) as exc:
        return {"kind": "config", "value": str(exc)}


def main() -> int:
    import engine.layers.custom  # noqa: F401 - imported before the limits, which are for the layer's code

    request = json.loads(sys.stdin.read(_MAX_REQUEST))
    _limit_resources()
    reply = _child_reply(request)
    sys.stdout.write(json.dumps(reply))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
