"""File menu behaviour for the main window: new/open/save, examples, recent files, import/export,
the unsaved-changes question and restoring an autosave.

A failed open leaves the current graph untouched (the loader raises before anything is replaced);
a failed save shows the reason and keeps the document modified.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import FileFormatError, LayergraphError
from engine.fileformat import atomic_write_bytes, load_document

if TYPE_CHECKING:  # pragma: no cover
    from designer.main_window import MainWindow

GRAPH_FILTER = "layergraph documents (*.lgraph);;All files (*)"
KERAS_FILTER = "Keras models (*.keras *.json);;All files (*)"
PY_FILTER = "Python files (*.py);;All files (*)"
KERAS_FILE_FILTER = "Keras models (*.keras)"
ONNX_FILTER = "ONNX models (*.onnx)"


class FileActions:
    def __init__(self, window: "MainWindow") -> None:
        self.w = window

    @property
    def doc(self):
        return self.w.doc

    # ----- asking before losing work -----------------------------------------------------------------
    def maybe_save(self) -> bool:
        """True when it is fine to drop the current document (saved, discarded or unmodified)."""
        if not self.w.is_modified():
            return True
        answer = self.w.dialogs.ask_save_changes(self.w.display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    # ----- new / open --------------------------------------------------------------------------------
    def new(self) -> bool:
        if not self.maybe_save():
            return False
        self.w.example_name = None
        self.doc.new()
        self.w.autosaver.discard_copy()
        self.w.update_title()
        return True

    def open_dialog(self) -> bool:
        start = str(self.doc.path.parent) if self.doc.path else ""
        path = self.w.dialogs.open_path("Open graph", GRAPH_FILTER, start)
        return self.open_path(path) if path else False

    def open_path(self, path: str | Path, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        try:
            document = self.doc.open(path)
        except (FileFormatError, OSError) as exc:
            self.w.dialogs.error("Cannot open the file", str(exc))
            return False
        self.w.example_name = None
        self.w.add_recent(Path(path))
        self._after_replace()
        if document.notices():
            self.w.statusBar().showMessage(" ".join(document.notices()), 20000)
        return True

    def open_example(self, path: str | Path, ask: bool = True) -> bool:
        """Open a bundled example as an untitled copy, so Save never overwrites the example."""
        if ask and not self.maybe_save():
            return False
        try:
            document = load_document(path)
        except FileFormatError as exc:
            self.w.dialogs.error("Cannot open the example", str(exc))
            return False
        self.w.example_name = Path(path).stem
        self.doc.replace(document, None)
        self._after_replace()
        return True

    def _after_replace(self) -> None:
        self.w.autosaver.discard_copy()
        self.w.update_title()
        self.w.update_status()
        self.w.fit_soon()

    # ----- save --------------------------------------------------------------------------------------
    def save(self) -> bool:
        if self.doc.path is None:
            return self.save_as()
        return self._save_to(self.doc.path)

    def save_as(self) -> bool:
        suggested = str(self.doc.path) if self.doc.path else self.w.display_name()
        path = self.w.dialogs.save_path("Save graph as", GRAPH_FILTER, suggested)
        if not path:
            return False
        p = Path(path)
        if p.suffix != ".lgraph":
            p = p.with_name(p.name + ".lgraph")
        return self._save_to(p)

    def _save_to(self, path: Path) -> bool:
        try:
            self.doc.save(path)
        except (OSError, LayergraphError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.w.dialogs.error("Cannot save the file",
                                 f"{path}: {reason}.\nYour graph is unchanged in the window; "
                                 "save it somewhere else with File → Save As.")
            return False
        self.w.example_name = None
        self.w.add_recent(path)
        self.w.autosaver.discard_copy()
        self.w.update_title()
        self.w.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    # ----- Keras import and code export --------------------------------------------------------------
    def import_keras(self) -> bool:
        try:
            from engine.export.keras_import import import_keras_model
        except ImportError:
            self.w.dialogs.error("Import is not available",
                                 "This build has no Keras importer (engine.export.keras_import).")
            return False
        path = self.w.dialogs.open_path("Import Keras model", KERAS_FILTER)
        if not path or not self.maybe_save():
            return False
        try:
            document = import_keras_model(path)
        except (LayergraphError, OSError, ValueError) as exc:
            self.w.dialogs.error("Cannot import the model", str(exc))
            return False
        self.w.example_name = Path(path).stem
        self.doc.replace(document, None)
        self.doc.undo_stack.resetClean()  # an import is unsaved work
        if all(n.position == (0.0, 0.0) for n in self.doc.graph.nodes.values()):
            self.w.scene.auto_layout()
        self._after_replace()
        return True

    def export_code(self, kind: str) -> bool:
        """Write Keras 3 (``kind="keras"``) or NumPy code for the graph, refusing an invalid graph.

        When the document holds trained weights they are written beside the code as
        ``<name>.weights.npz`` and the code loads them (the NumPy module always needs a weights
        file, so an untrained graph gets freshly initialised ones).  Weights that no longer fit the
        graph (edited after training) are left out and the user is told why.
        """
        if not self.doc.result.ok:
            self.w.dialogs.error("Cannot export yet", f"The graph has {len(self.doc.result.problems)} problem(s); "
                                 "fix the ones listed in the Problems dock, then export.")
            return False
        try:
            from engine.export.cli import export_files
        except ImportError:
            self.w.dialogs.error("Export is not available", f"This build has no {kind} code exporter "
                                 "(engine.export).")
            return False
        stem = (self.doc.path.stem if self.doc.path else (self.w.example_name or "model")) + f"_{kind}.py"
        path = self.w.dialogs.save_path(f"Export {kind} code", PY_FILTER, stem)
        if not path:
            return False
        out = Path(path)
        if out.suffix != ".py":
            out = out.with_name(out.name + ".py")
        dropped = None
        try:
            try:
                files = export_files(self.doc.graph, self.doc.weights, self.doc.training, kind, out)
            except LayergraphError as exc:
                if not self.doc.weights:
                    raise
                dropped = str(exc)
                files = export_files(self.doc.graph, None, self.doc.training, kind, out)
            for target, payload in files.items():
                atomic_write_bytes(target, payload)
        except (LayergraphError, OSError) as exc:
            self.w.dialogs.error("Cannot export", f"{out}: {getattr(exc, 'strerror', None) or exc}")
            return False
        if dropped:
            self.w.dialogs.error("Exported without the trained weights",
                                 f"{out} was written, but the saved weights do not fit the graph any more: "
                                 f"{dropped}")
        names = " and ".join(sorted((p.name for p in files), key=lambda n: not n.endswith(".py")))
        self.w.statusBar().showMessage(f"Wrote {names} in {out.parent}", 6000)
        return True

    def export_keras_file(self) -> bool:
        """Write the graph, its weights and training settings as a Keras 3 ``.keras`` file (the same
        ``engine.export.keras_file`` as ``layergraph export --to keras-file``); nothing is written on error."""
        from engine.export.keras_file import write_keras_file

        return self._export_model_file("Export Keras model", KERAS_FILE_FILTER, ".keras",
                                       lambda out: write_keras_file(self.doc.graph, self.doc.weights, out,
                                                                    self.doc.training))

    def export_onnx(self) -> bool:
        """Write the graph and its weights as an ONNX model (the same ``engine.export.onnx_export`` as
        ``layergraph export --to onnx``); a missing onnx package or a layer without an ONNX equivalent is
        one message, and nothing is written."""
        from engine.export.onnx_export import write_onnx_file

        return self._export_model_file("Export ONNX model", ONNX_FILTER, ".onnx",
                                       lambda out: write_onnx_file(self.doc.graph, self.doc.weights, out))

    def _export_model_file(self, title: str, file_filter: str, suffix: str, write) -> bool:
        """Ask where, then ``write(path)`` one model file; an invalid graph or a failed write is one message."""
        if not self.doc.result.ok:
            self.w.dialogs.error("Cannot export yet", f"The graph has {len(self.doc.result.problems)} problem(s); "
                                 "fix the ones listed in the Problems dock, then export.")
            return False
        stem = (self.doc.path.stem if self.doc.path else (self.w.example_name or "model")) + suffix
        path = self.w.dialogs.save_path(title, file_filter, stem)
        if not path:
            return False
        out = Path(path)
        if out.suffix != suffix:
            out = out.with_name(out.name + suffix)
        try:
            write(out)
        except (LayergraphError, OSError) as exc:
            self.w.dialogs.error("Cannot export", f"{out}: {getattr(exc, 'strerror', None) or exc}")
            return False
        fresh = "" if self.doc.weights else " (untrained: freshly initialised weights)"
        self.w.statusBar().showMessage(f"Wrote {out.name} in {out.parent}{fresh}", 6000)
        return True

    # ----- autosave recovery -------------------------------------------------------------------------
    def offer_autosave_restore(self) -> bool:
        """Offer the newest autosave a crashed session left; True when one was restored."""
        orphans = self.w.autosaver.orphans()
        if not orphans:
            return False
        newest, older = orphans[0], orphans[1:]
        for o in older:
            o.discard()
        what = str(newest.original) if newest.original else (
            f"the unsaved {newest.name}.lgraph" if newest.name else "an untitled graph")
        if not self.w.dialogs.ask_restore(f"layergraph did not close normally. An autosaved copy of {what} "
                                          "has changes that were never saved. Restore it?"):
            newest.discard()
            return False
        try:
            document = load_document(newest.graph_path)
        except FileFormatError as exc:
            self.w.dialogs.error("Cannot restore the autosave", str(exc))
            newest.discard()
            return False
        self.w.example_name = None if newest.original else newest.name  # the title names it as before
        self.doc.replace(document, newest.original)
        self.doc.undo_stack.resetClean()
        newest.discard()
        self._after_replace()
        return True

