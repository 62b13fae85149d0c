"""Screenshots of live training for the docs, rendered offscreen with ``QWidget.grab()``.

    python tools/run_screenshots.py [--out docs/screenshots] [--docks]

Writes, for a run in progress, the whole window at the two sizes the docs promise to fit:
  run_spirals.png   1366x768, training the spirals MLP (decision boundary, curves)
  run_digits.png    1680x1050, training the digits CNN, a conv layer selected
With ``--docks`` also the Data view and Layer activity docks alone (``run_*_data.png``, ``run_*_layer.png``).
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

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from designer.main_window import MainWindow  # noqa: E402

EXAMPLES = ROOT / "resources" / "examples"


def make_window(example: str, training: dict, size: tuple[int, int]) -> MainWindow:
    tmp = Path(tempfile.mkdtemp())
    w = MainWindow(settings=QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat), autosave_dir=tmp)
    w.doc.open(EXAMPLES / example)
    w.doc.training.update(training)
    w.run_panel.apply_settings(w.doc.training)
    w.resize(*size)
    w.setAnimated(False)  # no dock animation frame in a picture
    w.show()
    return w


def run_until(app: QApplication, w: MainWindow, node_name: str, ready, timeout: float = 60.0) -> None:
    """Select ``node_name``, press Train, and keep the event loop going until ``ready()``."""
    nid = next(n for n, node in w.doc.graph.nodes.items() if node.name == node_name)
    w.scene.select_nodes([nid])
    app.processEvents()
    w.view.fit_to_view()
    w.run_panel.update_state()
    if not w.run_panel.train():
        raise SystemExit(f"cannot train: {w.run_panel.problem}")
    t = time.perf_counter()
    while not ready() and time.perf_counter() - t < timeout:
        app.processEvents()
        time.sleep(0.01)
    w.run_panel.pause()
    end = time.perf_counter() + 0.5
    while time.perf_counter() < end:  # let the last snapshot arrive and paint
        app.processEvents()
        time.sleep(0.01)
    w.run_panel.refresh(final=True)
    app.processEvents()


def finish(app: QApplication, w: MainWindow) -> None:
    w.run_panel.stop()
    w.run_panel.wait_for_end()
    app.processEvents()
    w.doc.undo_stack.setClean()
    w.doc.weights_modified = False  # screenshots only: nothing to save
    w.close()


def save(widget, path: Path) -> None:
    if not widget.grab().save(str(path), "PNG", 0):  # (0: the smallest file)
        raise SystemExit(f"{path}: could not be written")
    print(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--docks", action="store_true", help="also the plot docks alone")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])

    w = make_window("spirals_mlp.lgraph", {"epochs": 400, "learning_rate": 0.01}, (1366, 768))
    run_until(app, w, "dense_1", lambda: len(w.run_panel.curves.epochs) >= 120)
    save(w, args.out / "run_spirals.png")
    if args.docks:
        save(w.data_dock, args.out / "run_spirals_data.png")
    finish(app, w)

    w = make_window("digits_cnn.lgraph", {"epochs": 30}, (1680, 1050))
    run_until(app, w, "conv2d", lambda: len(w.run_panel.curves.epochs) >= 4)
    save(w, args.out / "run_digits.png")
    if args.docks:
        save(w.layer_dock, args.out / "run_digits_layer.png")
        save(w.data_dock, args.out / "run_digits_data.png")
    finish(app, w)


if __name__ == "__main__":
    main()
