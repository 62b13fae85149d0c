"""A fork server: one interpreter imports the engine once, then forks a child per command.

The driver sends one JSON request per line on stdin (``cwd``, ``argv``, ``stdout``, ``stderr``,
``timeout``) and reads one JSON reply per line (``rc``, ``peak_kb``, ``seconds``).  The child runs
``engine.cli.main(argv)`` in ``cwd`` with its output in the two files; the reply's ``peak_kb`` is the
child's own peak resident size from ``os.wait4`` (not ``RUSAGE_CHILDREN``, which is the running maximum
over all children).  A child still running after ``timeout`` seconds is killed by its own alarm
(reply ``rc`` -14).  A guard on the child's address space keeps a runaway mutant from taking the
machine: hitting it shows up as a ``MemoryError`` line, which the checks report.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

CRASH = 70  # the child's exit code when something escaped engine.cli.main


def preload() -> None:
    """Everything the commands import, so each child starts warm."""
    import h5py  # noqa: F401

    import engine.cli  # noqa: F401
    import engine.datasets  # noqa: F401
    import engine.export.cli  # noqa: F401
    import engine.export.keras_code  # noqa: F401
    import engine.export.keras_import  # noqa: F401
    import engine.export.numpy_code  # noqa: F401
    import engine.summary  # noqa: F401
    import engine.training_cli  # noqa: F401


def run_child(req: dict) -> None:
    """In the forked child: run one command and ``_exit`` with its code."""
    rc = CRASH
    try:
        os.chdir(req["cwd"])
        for fd, name in ((1, "stdout"), (2, "stderr")):
            out = os.open(req[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
            os.close(out)
        sys.stdin = open(os.devnull)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
        guard = int(req.get("address_space", 0))
        if guard:
            resource.setrlimit(resource.RLIMIT_AS, (guard, guard))
        signal.alarm(int(req["timeout"]))
        from engine.cli import main

        rc = main(list(req["argv"]))
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - reported as a traceback, which the checks flag
        traceback.print_exc()
        rc = CRASH
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(rc if isinstance(rc, int) and 0 <= rc < 256 else CRASH)


def serve() -> None:
    preload()
    import gc

    gc.freeze()  # children do not copy the preloaded objects' pages when the collector runs
    reply = sys.stdout
    sys.stdout = sys.stderr
    print(json.dumps({"ready": True}), file=reply, flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        t0 = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            run_child(req)
        _, status, usage = os.wait4(pid, 0)
        rc = os.waitstatus_to_exitcode(status)
        print(json.dumps({"rc": rc, "peak_kb": usage.ru_maxrss, "seconds": time.perf_counter() - t0}),
              file=reply, flush=True)


class ForkServer:
    """The driver's handle on a fork-server process (``with ForkServer(env) as fs: fs.run(...)``)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        root = Path(__file__).resolve().parents[2]
        full = dict(os.environ)
        full.pop("LAYERGRAPH_TRACEBACK", None)
        full.update({"PYTHONPATH": str(root), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                     "MKL_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"}, **(env or {}))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.forkserver"], cwd=root, env=full,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError("the fork server did not start")

    def run(self, cwd: Path, argv: list[str], stdout: Path, stderr: Path, timeout: int = 30,
            address_space: int = 0) -> dict:
        req = {"cwd": str(cwd), "argv": list(argv), "stdout": str(stdout), "stderr": str(stderr),
               "timeout": timeout, "address_space": address_space}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fork server died")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    serve()
