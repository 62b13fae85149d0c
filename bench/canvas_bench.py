"""Canvas scale: time to open 100- and 1,000-node graphs in the real main window, and 100 scripted
zoom/pan repaints of the canvas, against the issue's targets (open < 2 s; a repaint well under a
frame at 30 Hz, 33 ms).  With Keras installed it also opens imported ``keras.applications`` graphs
(ResNet50, 177 layers; NASNetMobile, 771), built with ``weights=None`` at a small input size and
imported as File > Import does (the import itself is timed apart from opening the result).

Timings on a shared machine vary with its load, so each line also gives its ratio to a reference
measured in the same run: opening the 1,000-node synthetic graph and its repaints.

    python bench/canvas_bench.py          (offscreen; no display needed)
    python bench/canvas_bench.py --no-keras
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
os.environ.setdefault("KERAS_BACKEND", "jax")

import designer  # noqa: E402,F401  (applies the shiboken work-around before PySide6 loads)
from PySide6.QtCore import QPointF, QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.fileformat import save_document  # noqa: E402
from engine.graph import LayerGraph  # noqa: E402

OPEN_TARGET_S = 2.0
FRAME_MS = 1000 / 30


def grid_graph(n: int) -> LayerGraph:
    """A chain with a skip Add every few layers, laid out on a wide grid like an imported model."""
    g = LayerGraph()
    prev = g.add_node("Input", {"shape": [32]}, (0, 0))
    skip = prev
    for i in range(1, n):
        pos = ((i % 40) * 300.0, (i // 40) * 180.0)
        if i % 5 == 0:
            nid = g.add_node("Add", None, pos)
            g.connect(prev, nid)
            g.connect(skip, nid)
            skip = nid
        else:
            nid = g.add_node("Dense", {"units": 32, "activation": "relu"}, pos)
            g.connect(prev, nid)
        prev = nid
    return g


#: keras.applications graphs: constructor, input side (as tools/keras_applications.py builds them).
KERAS_GRAPHS = (("ResNet50", 32), ("NASNetMobile", 32))


def imported(ctor: str, side: int, folder: Path) -> tuple[Path, float]:
    """A keras.applications model saved as ``.keras`` and imported; the graph as a document, and the import time."""
    from engine.export.keras_import import import_keras_model
    from keras_applications import build

    keras_path = folder / f"{ctor}.keras"
    build(ctor, side, {}).save(keras_path)
    t = time.perf_counter()
    document = import_keras_model(keras_path)
    import_s = time.perf_counter() - t
    path = folder / f"{ctor}.lgraph"
    save_document(path, document.graph)
    keras_path.unlink()  # never kept
    return path, import_s


def measure(app: QApplication, label: str, path: Path, folder: Path) -> tuple[float, float, float]:
    """Open ``path`` in a main window, then 100 zoom/pan repaints: (open s, median ms, p95 ms)."""
    from designer.main_window import MainWindow

    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, autosave_dir=folder / "autosave")
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    t = time.perf_counter()
    window.files.open_path(path, ask=False)
    app.processEvents()
    window.view.viewport().repaint()
    open_s = time.perf_counter() - t
    view = window.view
    view.fit_to_view()
    app.processEvents()
    times = []
    for i in range(100):
        t = time.perf_counter()
        if i % 2:
            view.scale(1.1 if (i // 2) % 2 else 1 / 1.1, 1.1 if (i // 2) % 2 else 1 / 1.1)
        else:
            view.centerOn(view.mapToScene(view.viewport().rect().center()) + QPointF(40, 25))
        view.viewport().repaint()
        times.append((time.perf_counter() - t) * 1000)
    med, p95 = statistics.median(times), sorted(times)[94]
    window.doc.undo_stack.setClean()
    window.close()
    window.deleteLater()
    app.processEvents()
    return open_s, med, p95


def report(label: str, result: tuple[float, float, float], reference: tuple[float, float, float]) -> None:
    open_s, med, p95 = result
    print(f"{label:>24}: open {open_s:5.2f} s (x{open_s / OPEN_TARGET_S:.2f} of target, "
          f"x{open_s / reference[0]:.2f} of reference)   zoom/pan repaint median {med:5.1f} ms "
          f"(x{med / reference[1]:.2f} of reference), p95 {p95:5.1f} ms (x{p95 / FRAME_MS:.2f} of a 30 Hz frame)")


def main() -> int:
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        graphs = {}
        for n in (100, 1000):
            graphs[f"{n} nodes (synthetic)"] = folder / f"graph_{n}.lgraph"
            save_document(graphs[f"{n} nodes (synthetic)"], grid_graph(n))
        if "--no-keras" not in sys.argv:
            try:
                import keras  # noqa: F401
            except ImportError:
                print("Keras is not installed: the keras.applications graphs are left out.")
            else:
                for ctor, side in KERAS_GRAPHS:
                    path, import_s = imported(ctor, side, folder)
                    graphs[f"{ctor} (imported)"] = path
                    print(f"{ctor}: import from .keras {import_s:5.2f} s")
        reference = measure(app, "reference", graphs["1000 nodes (synthetic)"], folder)
        report("reference: 1000 nodes", reference, reference)
        for label, path in graphs.items():
            report(label, measure(app, label, path, folder), reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
