"""Does live training keep the designer responsive, and what does it cost the training?

Trains the digits CNN (``resources/examples/digits_cnn.lgraph``) from the run panel in an offscreen
main window, with a conv layer selected so its feature maps and filters are drawn, while a 5 ms
``QTimer`` measures how late the event loop serves it.  In the same process it times headless
``engine.training.fit`` on the same data and settings (same BLAS thread count as the worker),
before and after the live run, and prints:

    p99 event-loop latency: N ms, plot refresh: M Hz, training throughput vs headless: R

Targets: p99 < 50 ms, refresh >= 20 Hz, R >= 0.8.

    python bench/ui_responsiveness.py [--epochs 60]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import designer  # noqa: E402,F401  (shiboken work-around before PySide6 loads)
import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from designer.main_window import MainWindow  # noqa: E402
from designer.run.worker import BLAS_THREADS  # noqa: E402
from engine.datasets import load_dataset  # noqa: E402
from engine.fileformat import Document, load_document  # noqa: E402
from engine.training import fit, validation_cut  # noqa: E402

SETTLE_MS = 1500
EXAMPLE = ROOT / "resources" / "examples" / "digits_cnn.lgraph"
SETTINGS = {"dataset": "digits", "loss": "sparse_categorical_crossentropy", "optimizer": "adam",
            "learning_rate": 0.003, "batch_size": 32, "validation_split": 0.2, "seed": 0}


def digits_cnn() -> Document:
    return load_document(EXAMPLE, with_weights=False)


def headless(doc: Document, epochs: int, blas: int | None) -> float:
    """Training samples per second of plain ``fit`` (no callbacks)."""
    x, y = load_dataset("digits")
    s = SETTINGS
    with threadpool_limits(limits=blas, user_api="blas"):
        t = time.perf_counter()
        hist = fit(doc.graph, x, y, loss=s["loss"], optimizer=s["optimizer"], learning_rate=s["learning_rate"],
                   epochs=epochs, batch_size=s["batch_size"], validation_split=s["validation_split"], seed=s["seed"])
        dt = time.perf_counter() - t
    return hist.settings["samples"] * epochs / dt


def live(app: QApplication, doc: Document, epochs: int) -> tuple[float, float, float, int, float]:
    """``(p99 latency ms, refresh Hz, samples/s, probe ticks, ms from click to first snapshot)`` of a
    run started from the run panel; samples/s counts the whole time from the click to the end."""
    tmp = Path(tempfile.mkdtemp())
    window = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat), autosave_dir=tmp)
    panel = window.run_panel
    window.doc.replace(Document(doc.graph.copy(), None, {**SETTINGS, "epochs": epochs}), None)
    window.resize(1600, 1000)
    window.show()
    # a person looks at the window for a moment before pressing Train; meanwhile the training
    # process's fork server (started when the window opened) imports the engine
    settle = QEventLoop()
    QTimer.singleShot(SETTLE_MS, settle.quit)
    settle.exec()
    conv = next(nid for nid, n in window.doc.graph.nodes.items() if n.class_name == "Conv2D")
    window.scene.select_nodes([conv])
    panel.update_state()
    if panel.problem:
        raise SystemExit(f"cannot train: {panel.problem}")

    lateness: list[float] = []
    clock = QElapsedTimer()
    probe = QTimer()
    probe.setInterval(5)
    last = [0]

    def tick() -> None:
        now = clock.nsecsElapsed()
        lateness.append(max(0.0, (now - last[0]) / 1e6 - 5.0))
        last[0] = now

    probe.timeout.connect(tick)
    done: list[str] = []
    loop = QEventLoop()
    panel.run_finished.connect(done.append)
    panel.run_finished.connect(lambda _how: loop.quit())
    n_train = validation_cut(1797, SETTINGS["validation_split"])
    refresh0 = panel.refresh_count
    clock.start()
    probe.start()
    t0 = time.perf_counter()
    panel.train_button.click()
    first: list[float] = []
    panel.thread.progress.connect(lambda _step: first or first.append(time.perf_counter() - t0))
    if not done:
        loop.exec()
    elapsed = time.perf_counter() - t0
    probe.stop()
    if done[0] != "finished":
        raise SystemExit(f"the run ended with {done[0]}: {panel.message.text()}")
    refreshes = panel.refresh_count - refresh0
    window.doc.weights_modified = False  # a benchmark run: nothing to ask about on close
    window.close()
    p99 = float(np.percentile(lateness[1:], 99)) if len(lateness) > 1 else float("nan")
    start_ms = first[0] * 1000 if first else float("nan")
    return p99, refreshes / elapsed, n_train * epochs / elapsed, len(lateness), start_ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    doc = digits_cnn()
    headless(doc, 1, BLAS_THREADS)  # warm-up (imports, caches)
    h1 = headless(doc, args.epochs, BLAS_THREADS)
    p99, hz, live_rate, ticks, start_ms = live(app, doc, args.epochs)
    h2 = headless(doc, args.epochs, BLAS_THREADS)
    default_blas = headless(doc, args.epochs, None)
    ref = (h1 + h2) / 2
    print(f"headless fit: {h1:,.0f} and {h2:,.0f} samples/s with {BLAS_THREADS} BLAS thread(s), "
          f"{default_blas:,.0f} with the default BLAS threads; live: {live_rate:,.0f} samples/s; "
          f"{ticks} latency probes; first snapshot {start_ms:.0f} ms after the click")
    print(f"p99 event-loop latency: {p99:.1f} ms, plot refresh: {hz:.1f} Hz, "
          f"training throughput vs headless: {live_rate / ref:.2f}")


if __name__ == "__main__":
    main()
