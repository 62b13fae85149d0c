"""Render the real main window offscreen and save the README screenshots.

    python tools/screenshots.py [--out docs/screenshots] [--size 1366x768] [--all]

Writes ``cnn_example.png``, ``shape_error.png``, ``guide.png`` and ``dark_theme.png`` (with ``--all`` also
``empty.png``) of the window at a laptop's size, as a user sees it after Fit to view.  Uses
``QWidget.grab()``, which renders correctly with ``QT_QPA_PLATFORM=offscreen`` or under
``xvfb-run`` with ``QT_QPA_PLATFORM=xcb``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from designer import commands  # noqa: E402
from designer.main_window import EXAMPLES_DIR, MainWindow  # noqa: E402
from engine.layers import LAYERS, starter_config  # noqa: E402

SIZE = "1366x768"
COLUMN = 300.0
#: Preferred example for the "CNN" shot, then fallbacks while the catalog grows.
CNN_EXAMPLES = ("digits_cnn", "digits_mlp", "spirals_mlp")


def settle(app: QApplication, window: MainWindow, rounds: int = 6) -> None:
    for _ in range(rounds):
        app.processEvents()
    window.code.regenerate()
    app.processEvents()


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def save(window, path: Path) -> None:
    """A small PNG (highest compression)."""
    if not window.grab().save(str(path), "PNG", 0):
        raise SystemExit(f"{path}: could not be written")


def make_window(app: QApplication, workdir: Path, size: tuple[int, int]) -> MainWindow:
    settings = QSettings(str(workdir / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, autosave_dir=workdir / "autosave")
    window.setAnimated(False)
    window.resize(*size)
    window.show()
    settle(app, window)
    return window


def open_cnn(window: MainWindow) -> None:
    for stem in CNN_EXAMPLES:
        path = EXAMPLES_DIR / f"{stem}.lgraph"
        if path.exists():
            window.files.open_example(path, ask=False)
            return


def select_interesting(window: MainWindow) -> None:
    """Select the first node with the most arguments so the inspector has something to show."""
    g = window.doc.graph
    best = max(g.nodes, key=lambda nid: (len(LAYERS[g.node(nid).class_name].fields), -list(g.nodes).index(nid)),
               default=None)
    if best:
        window.show_node(best)


def build_shape_error(window: MainWindow) -> None:
    """Input -> (Conv2D ->) MaxPooling2D -> Reshape(100) -> Dense: the Reshape cannot fit."""
    doc = window.doc
    window.files.new()
    chain = [("Input", {"shape": [28, 28, 1]})]
    if "Conv2D" in LAYERS:
        chain.append(("Conv2D", {"filters": 16, "kernel_size": 3, "activation": "relu"}))
    chain += [("MaxPooling2D", {}), ("Reshape", {"target_shape": [100]}), ("Dense", {"units": 10,
                                                                                      "activation": "softmax"})]
    ids = []
    for i, (cls, cfg) in enumerate(chain):
        cmd = commands.AddNodeCommand(doc, cls, {**starter_config(cls), **cfg}, (i * COLUMN, (i % 2) * 40.0))
        commands.push(doc, cmd)
        ids.append(cmd.node_id)
    for a, b in zip(ids, ids[1:]):
        commands.push(doc, commands.ConnectCommand(doc, a, b))
    window.show_node(ids[-2])


def show_cnn(app, window) -> None:
    """The digits CNN as it opens, fitted to the view, with a conv layer selected."""
    open_cnn(window)
    settle(app, window)
    select_interesting(window)
    settle(app, window)
    window.view.fit_to_view()
    settle(app, window)


def show_guide(app, window) -> None:
    """The Guide dock (F1) on the digits CNN's Conv2D, after Run proof."""
    open_cnn(window)
    settle(app, window)
    conv = next((nid for nid, n in window.doc.graph.nodes.items() if n.class_name == "Conv2D"), None)
    if conv is None:
        return
    window.show_node(conv)
    window.act["guide"].trigger()
    settle(app, window)
    window.view.fit_to_view()
    window.guide.proof_button.click()
    for _ in range(500):  # the proof runs off the UI thread; a few ms on these shapes
        app.processEvents()
        if window.guide.proof_button.isEnabled():
            break
        time.sleep(0.01)
    settle(app, window)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--size", default=SIZE, help="window size, WIDTHxHEIGHT (default %(default)s)")
    ap.add_argument("--all", action="store_true", help="also the empty window")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    app.setOrganizationName("layergraph")
    shots = []
    with tempfile.TemporaryDirectory() as tmp:
        window = make_window(app, Path(tmp), parse_size(args.size))
        if args.all:
            save(window, out / "empty.png")
            shots.append("empty.png")

        show_cnn(app, window)
        save(window, out / "cnn_example.png")
        shots.append("cnn_example.png")

        build_shape_error(window)
        settle(app, window)
        window.view.fit_to_view()
        settle(app, window)
        save(window, out / "shape_error.png")
        shots.append("shape_error.png")

        window.doc.undo_stack.setClean()
        show_guide(app, window)
        save(window, out / "guide.png")
        shots.append("guide.png")
        window.guide_dock.hide()

        window.doc.undo_stack.setClean()
        window.set_dark(True)
        show_cnn(app, window)
        save(window, out / "dark_theme.png")
        shots.append("dark_theme.png")
        window.set_dark(False)
        window.doc.undo_stack.setClean()
        window.close()
    for s in shots:
        print(out / s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
