"""Atomic saves: the file mode a plain write would give, and no temporaries left behind by a killed save."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.fileformat import atomic_write_bytes, save_document
from engine.graph import LayerGraph

ROOT = Path(__file__).resolve().parents[2]
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes and umask are POSIX")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield lambda m: os.umask(m)
    os.umask(old)


@posix_only
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_a_new_file_gets_the_umask_mode(tmp_path, umask, mask, expected):
    umask(mask)
    g = LayerGraph()
    dense = g.add_node("Dense", {"units": 1})
    g.connect(g.add_node("Input", {"shape": [2]}), dense)
    weights = {dense: {"kernel": np.zeros((2, 1), np.float32), "bias": np.zeros(1, np.float32)}}
    save_document(tmp_path / "m.lgraph", g, weights)  # (a save keeps only weights that fit the graph)
    assert _mode(tmp_path / "m.lgraph") == expected
    assert _mode(tmp_path / "m.npz") == expected


@posix_only
def test_a_rewritten_file_keeps_its_mode(tmp_path, umask):
    umask(0o077)
    p = tmp_path / "shared.lgraph"
    p.write_bytes(b"old")
    os.chmod(p, 0o664)
    atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"new" and _mode(p) == 0o664


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@posix_only
def test_stale_temporaries_of_a_killed_save_are_removed_and_nothing_else(tmp_path):
    p = tmp_path / "m.npz"
    stale = tmp_path / f".m.npz.{_dead_pid()}.k3j_x9q1.tmp"
    live = tmp_path / f".m.npz.{os.getppid()}.abcdefgh.tmp"  # a process that is running (our parent)
    other = tmp_path / f".other.npz.{_dead_pid()}.abcdefgh.tmp"
    unrelated = tmp_path / ".m.npz.notes.txt"
    for f in (stale, live, other, unrelated):
        f.write_bytes(b"x" * 10)
    atomic_write_bytes(p, b"payload")
    assert p.read_bytes() == b"payload"
    assert not stale.exists()
    assert live.exists() and other.exists() and unrelated.exists()
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted([".m.npz.notes.txt", live.name, other.name, "m.npz"])


@posix_only
def test_a_kill_during_save_leaves_a_temporary_the_next_save_removes(tmp_path):
    """A child process is killed while its save is writing; the next save in this process cleans up."""
    p = tmp_path / "big.npz"
    code = ("import os, signal, sys\n"
            "import engine.fileformat as ff\n"
            "def die(fd):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "ff.os.fsync = die\n"
            f"ff.atomic_write_bytes(ff.Path({str(p)!r}), b'x' * 1000)\n")
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == -9
    left = [f.name for f in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".big.npz.") and left[0].endswith(".tmp")
    atomic_write_bytes(p, b"ok")
    assert [f.name for f in tmp_path.iterdir()] == ["big.npz"]
