"""The randomized canvas stress (``tests/designer/stress.py``) as a CI slice: ~30 s of random edits,
undo and redo with a repaint after each, in a subprocess so a crash in Qt's painting fails this test
instead of killing pytest.  The seed is printed; set ``LAYERGRAPH_STRESS_SEED`` to replay one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI_SECONDS = 30


def test_random_edits_undo_and_redo_never_crash_nor_leave_stray_items():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONFAULTHANDLER": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "tests.designer.stress", "--actions", "5000",
                           "--seconds", str(CI_SECONDS)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=CI_SECONDS + 120)
    out = proc.stdout + proc.stderr
    print(out.splitlines()[0] if out else "")  # the seed, shown with -s or on failure
    assert proc.returncode == 0, f"stress run failed (exit {proc.returncode}):\n{out[-4000:]}"
    assert "actions clean" in proc.stdout
