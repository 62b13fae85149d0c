"""The main window: canvas in the centre, docks around it, menus, toolbar, status bar, files.

Dialogs go through ``self.dialogs`` (a ``Dialogs``) so tests can answer them without a modal loop.
Everything that changes the graph goes through the scene (which pushes commands) or, for whole
documents (new/open/import), through ``GraphDocument.replace``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QFrame, QLabel, QMainWindow, QMessageBox,
                               QScrollArea, QWidget)

from designer import dock_layout
from designer.autosave import Autosaver
from designer.compare_view import open_compare
from designer.canvas.scene import GraphScene
from designer.canvas.view import GraphView
from designer.document import GraphDocument
from designer.file_actions import FileActions
from designer.group_canvas import GroupCanvas
from designer.panels.guide_view import attach_guide
from designer.run.run_panel import attach_run_panel
from designer.panels.code_view import CodeView
from designer.panels.inspector import Inspector
from designer.panels.palette import Palette
from designer.panels.problems_view import ProblemsView
from designer.panels.summary_view import SummaryView
from designer.theme import apply_theme

APP_NAME = "layergraph"
EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "resources" / "examples"
MAX_RECENT = 8


def format_params(n: int) -> str:
    """``1234567`` -> ``1.2 M``; small counts stay exact."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} M"
    if n >= 10_000:
        return f"{n / 1e3:.1f} K"
    return f"{n:,}"


def _set_tip(act: QAction, text: str, label_of: Any) -> None:
    try:
        act.setToolTip(f"{text} {label_of()}".strip())
    except RuntimeError:  # the stack is being destroyed with the window
        pass


class Dialogs:
    """The questions the window asks; tests replace this object with scripted answers."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def ask_save_changes(self, name: str) -> str:
        """``"save"``, ``"discard"`` or ``"cancel"``."""
        box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, f"Save the changes to {name}?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.parent)
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(QMessageBox.StandardButton(answer), "cancel")

    def error(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)

    def open_path(self, title: str, name_filter: str, start: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, start, name_filter)
        return path or None

    def save_path(self, title: str, name_filter: str, suggested: str = "") -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, name_filter)
        return path or None

    def ask_restore(self, description: str) -> bool:
        answer = QMessageBox.question(self.parent, "Restore unsaved work?", description,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes


class MainWindow(QMainWindow):
    def __init__(self, doc: GraphDocument | None = None, settings: QSettings | None = None,
                 autosave_dir: Path | None = None, dialogs: Dialogs | None = None) -> None:
        super().__init__()
        self.doc = doc or GraphDocument(self)
        self.settings = settings or QSettings(APP_NAME, "designer")
        self.dialogs = dialogs or Dialogs(self)
        #: The bundled example the untitled document came from (its name shows in the title).
        self.example_name: str | None = None
        #: The last File > Compare with… window (it lives until closed).
        self.compare_dialog = None
        self.setObjectName("MainWindow")
        self.resize(1400, 880)

        self.scene = GraphScene(self.doc)
        self.view = GraphView(self.scene)
        self._build_docks()
        #: the central widget: the model's canvas, or a group opened as its own canvas
        self.canvas = GroupCanvas(self.doc, self.view, self.inspector_dock, self.inspector)
        self.setCentralWidget(self.canvas)
        self.scene.open_group_requested.connect(self.canvas.open_group)
        self.canvas.scene.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.files = FileActions(self)
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status()

        self.doc.undo_stack.cleanChanged.connect(lambda _c: self.update_title())
        self.doc.path_changed.connect(lambda _p: self.update_title())
        self.doc.weights_changed.connect(self.update_title)
        self.doc.validation_changed.connect(lambda _r: self.update_status())
        self.doc.reset.connect(self.update_status)
        self.scene.selection_changed_ids.connect(self.inspector.set_selection)
        self.scene.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))

        self.run_panel = attach_run_panel(self)
        self.guide = attach_guide(self)
        dock_layout.arrange_idle(self)
        self.run_panel.run_started.connect(lambda: dock_layout.spread_plots(self))
        self.run_panel.run_finished.connect(lambda _how: dock_layout.after_run(self))
        self.doc.reset.connect(self._compact_docks)
        self.autosaver = Autosaver(self.doc, autosave_dir, parent=self, name_of=lambda: self.example_name)
        #: False until the docks are sized to the window's real size (first show) or restored.
        self._docks_sized = False
        self.restore_settings()
        self.update_title()
        self.update_status()

    # ----- construction ------------------------------------------------------------------------------
    def add_dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea,
                 scrollable: bool = False) -> QDockWidget:
        """A dock holding ``widget``; ``scrollable`` lets a tall form shrink (it scrolls) so it does not
        dictate the height of the docks beside it on a small screen."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        if scrollable:
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(widget)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setMinimumWidth(widget.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
            widget = scroll
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.palette = Palette()
        self.inspector = Inspector(self.doc)
        self.problems = ProblemsView(self.doc)
        self.summary = SummaryView(self.doc)
        self.code = CodeView(self.doc)
        left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self.palette_dock = self.add_dock("Layers", "paletteDock", self.palette, left)
        self.inspector_dock = self.add_dock("Inspector", "inspectorDock", self.inspector, right)
        self.code_dock = self.add_dock("Keras code", "codeDock", self.code, right)
        self.problems_dock = self.add_dock("Problems", "problemsDock", self.problems, bottom)
        self.summary_dock = self.add_dock("Summary", "summaryDock", self.summary, bottom)
        self.tabifyDockWidget(self.problems_dock, self.summary_dock)
        self.problems_dock.raise_()
        self.resizeDocks([self.palette_dock, self.inspector_dock], [235, 400], Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock, self.code_dock, self.problems_dock], [470, 280, 130],
                         Qt.Orientation.Vertical)
        self.palette.add_requested.connect(self.add_layer_at_centre)
        self.problems.node_activated.connect(self.show_node)
        self.summary.node_activated.connect(self.show_node)

    def _action(self, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcuts(QKeySequence.keyBindings(shortcut) if isinstance(shortcut, QKeySequence.StandardKey)
                             else [QKeySequence(shortcut)])
        act.setStatusTip(tip)
        act.setToolTip(tip or text.replace("&", "").rstrip("…"))
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)
        return act

    def _build_actions(self) -> None:
        SK, f = QKeySequence.StandardKey, self.files

        def on_canvas(method: str) -> Any:  # the canvas shown: the model's or an open group's
            return lambda: getattr(self.current_scene, method)()
        self.act: dict[str, QAction] = {
            "new": self._action("&New", f.new, SK.New, "Start an empty graph"),
            "open": self._action("&Open…", f.open_dialog, SK.Open, "Open a .lgraph document"),
            "save": self._action("&Save", f.save, SK.Save, "Save the graph"),
            "save_as": self._action("Save &As…", f.save_as, SK.SaveAs, "Save the graph under a new name"),
            "compare": self._action("Co&mpare with…", lambda: open_compare(self), None,
                                    "Show another document or Keras model beside this one with the "
                                    "differences marked (read-only)"),
            "import_keras": self._action("&Import Keras model…", f.import_keras, None,
                                         "Read a Keras 3 model (.keras or .json) into a new graph"),
            "export_keras": self._action("Export &Keras code…", lambda: f.export_code("keras"), None,
                                         "Write Keras 3 Python code for this graph"),
            "export_keras_file": self._action("Export Keras &model (.keras)…", f.export_keras_file, None,
                                              "Write a Keras 3 .keras model file with the weights and "
                                              "training settings"),
            "export_numpy": self._action("Export &NumPy code…", lambda: f.export_code("numpy"), None,
                                         "Write a standalone NumPy module for this graph"),
            "export_onnx": self._action("Export ONN&X model…", f.export_onnx, None,
                                        "Write an ONNX model with the weights (needs the onnx package)"),
            "quit": self._action("&Quit", self.close, SK.Quit, "Close the window"),
            "cut": self._action("Cu&t", on_canvas("cut"), SK.Cut, "Cut the selected layers"),
            "copy": self._action("&Copy", on_canvas("copy_selection"), SK.Copy, "Copy the selected layers"),
            "paste": self._action("&Paste", on_canvas("paste_from_clipboard"), SK.Paste, "Paste layers"),
            "duplicate": self._action("D&uplicate", on_canvas("duplicate"), "Ctrl+D", "Duplicate the selected layers"),
            "delete": self._action("&Delete", self.view.delete_selected, SK.Delete, "Delete the selected layers"),
            "select_all": self._action("Select &All", on_canvas("select_all"), SK.SelectAll, "Select every layer"),
            "group": self._action("Make &group", on_canvas("make_group"), "Ctrl+G",
                                  "Put the selected layers into one group node"),
            "ungroup": self._action("U&ngroup", on_canvas("ungroup"), "Ctrl+Shift+G",
                                    "Put the selected group's layers back in its place"),
            "auto_layout": self._action("Auto-&layout", self.view.auto_layout, "Ctrl+L",
                                        "Arrange the graph left to right"),
            "fit": self._action("&Fit to view", self.view.fit_to_view, "F", "Show the whole graph"),
        }
        for name in ("delete", "select_all", "fit"):  # canvas keys: don't steal them from text fields
            self.act[name].setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.removeAction(self.act[name])
            self.view.addAction(self.act[name])
        self.act["quit"].setMenuRole(QAction.MenuRole.QuitRole)
        if not self.act["quit"].shortcuts():
            self.act["quit"].setShortcut(QKeySequence("Ctrl+Q"))
        undo = self.doc.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcuts(QKeySequence.keyBindings(SK.Undo))
        redo = self.doc.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts(QKeySequence.keyBindings(SK.Redo) or [QKeySequence("Ctrl+Shift+Z")])
        self.act["undo"], self.act["redo"] = undo, redo
        self.addActions([undo, redo])
        dark = QAction("&Dark theme", self)
        dark.setCheckable(True)
        dark.toggled.connect(self.set_dark)
        self.act["dark"] = dark

    def _build_menus(self) -> None:
        mb, a = self.menuBar(), self.act
        fm = mb.addMenu("&File")
        fm.addActions([a["new"], a["open"]])
        self.recent_menu = fm.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.examples_menu = fm.addMenu("&Examples")
        self._fill_examples_menu()
        fm.addSeparator()
        fm.addActions([a["save"], a["save_as"]])
        fm.addSeparator()
        fm.addAction(a["compare"])
        fm.addSeparator()
        fm.addActions([a["import_keras"], a["export_keras_file"], a["export_onnx"], a["export_keras"],
                       a["export_numpy"]])
        fm.addSeparator()
        fm.addAction(a["quit"])
        em = mb.addMenu("&Edit")
        em.addActions([a["undo"], a["redo"]])
        em.addSeparator()
        em.addActions([a["cut"], a["copy"], a["paste"], a["duplicate"], a["delete"]])
        em.addSeparator()
        em.addActions([a["group"], a["ungroup"]])
        em.addSeparator()
        em.addActions([a["select_all"], a["auto_layout"]])
        vm = self.view_menu = mb.addMenu("&View")
        vm.addAction(a["fit"])
        vm.addAction(a["dark"])
        vm.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock, self.summary_dock, self.code_dock):
            vm.addAction(dock.toggleViewAction())
        hm = mb.addMenu("&Help")
        hm.addAction(self._action("&About layergraph", self._about))

    def _build_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        a = self.act
        tb.addActions([a["new"], a["open"], a["save"]])
        tb.addSeparator()
        stack = self.doc.undo_stack
        for text, slot, signal, tip_of in (("Undo", stack.undo, stack.canUndoChanged, stack.undoText),
                                           ("Redo", stack.redo, stack.canRedoChanged, stack.redoText)):
            # The menu items carry the long labels ("Undo Connect a → b"); the toolbar stays short.
            act = QAction(text, self)
            act.triggered.connect(lambda _c=False, slot=slot: slot())
            act.setEnabled(False)
            signal.connect(act.setEnabled)
            stack.indexChanged.connect(lambda _i, act=act, tip_of=tip_of, text=text: _set_tip(act, text, tip_of))
            tb.addAction(act)
        tb.addSeparator()
        tb.addActions([a["delete"], a["auto_layout"], a["fit"]])

    def _build_status(self) -> None:
        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label)

    def _fill_examples_menu(self) -> None:
        self.examples_menu.clear()
        paths = sorted(EXAMPLES_DIR.glob("*.lgraph")) if EXAMPLES_DIR.is_dir() else []
        for p in paths:
            act = self.examples_menu.addAction(p.stem.replace("_", " "))
            act.setData(str(p))
            act.triggered.connect(lambda _c=False, p=p: self.files.open_example(p))
        self.examples_menu.setEnabled(bool(paths))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in self.recent_files():
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.files.open_path(p))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ----- state shown in the chrome -----------------------------------------------------------------
    def display_name(self) -> str:
        if self.doc.path is not None:
            return self.doc.path.name
        return f"{self.example_name}.lgraph" if self.example_name else "untitled.lgraph"

    def is_modified(self) -> bool:
        return self.doc.is_modified

    def update_title(self) -> None:
        try:
            modified = self.is_modified()
        except RuntimeError:  # the undo stack is being destroyed with the window
            return
        self.setWindowTitle(f"{self.display_name()}{'*' if modified else ''} — {APP_NAME}")

    def status_text(self) -> str:
        g, res = self.doc.graph, self.doc.result
        if len(g) == 0:
            return "empty graph — drag a layer from the palette"
        n = len(res.problems)
        if n:
            return f"{n} problem{'s' if n != 1 else ''}"
        return f"{len(g)} layer{'s' if len(g) != 1 else ''}, {format_params(res.total_params)} params, valid"

    def update_status(self) -> None:
        text = self.status_text()
        self.status_label.setText(text)
        state = "bad" if self.doc.result.problems else ("ok" if len(self.doc.graph) else "")
        self.status_label.setProperty("state", state)
        self.status_label.style().unpolish(self.status_label)
        self.status_label.style().polish(self.status_label)

    # ----- canvas helpers -----------------------------------------------------------------------------
    @property
    def current_scene(self) -> GraphScene:
        """The scene shown: the model's, or that of a group opened as its own canvas."""
        return self.canvas.current_view().scene()

    # ----- canvas helpers (model) ----------------------------------------------------------------------------
    def add_layer_at_centre(self, class_name: str) -> None:
        view = self.canvas.current_view()  # into the group when one is open
        centre = view.mapToScene(view.viewport().rect().center())
        view.scene().add_node_at(class_name, centre)

    def show_node(self, node_id: str) -> None:
        if node_id not in self.doc.graph:
            return
        self.canvas.close_group()  # the node is on the model's canvas
        self.scene.select_nodes([node_id])
        item = self.scene.node_item(node_id)
        if item is not None:
            self.view.centerOn(item)

    def fit_soon(self) -> None:
        QTimer.singleShot(0, self.view.fit_to_view)

    # ----- theme and settings ------------------------------------------------------------------------
    def set_dark(self, dark: bool) -> None:
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, dark)
        self.scene.set_canvas_theme(dark)
        self.code.set_dark(dark)
        self.run_panel.set_dark(dark)
        if self.act["dark"].isChecked() != dark:
            self.act["dark"].setChecked(dark)
        self.settings.setValue("dark", dark)

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        files = [p] + [f for f in self.recent_files() if f != p]
        self.settings.setValue("recent_files", files[:MAX_RECENT])

    def restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.layout().activate()  # the docks' arrangement first: its minimum size bounds the geometry
            self.restoreGeometry(geometry)
        state = self.settings.value("window_state")
        if state is not None:
            self._docks_sized = bool(self.restoreState(state))
        dark = self.settings.value("dark", False)
        dark = dark if isinstance(dark, bool) else str(dark).lower() == "true"
        self.set_dark(dark)

    def save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.settings.sync()

    # ----- closing -----------------------------------------------------------------------------------
    def _compact_docks(self) -> None:
        """Another document: no run results to watch, so the canvas takes the plots' room back."""
        if self.run_panel.state == "idle":
            dock_layout.compact_bottom(self)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        if not self._docks_sized:  # the first time the window has its real size
            self._docks_sized = True
            dock_layout.size_docks(self)
        super().showEvent(event)
        QTimer.singleShot(0, lambda: dock_layout.hide_stray_tab_bars(self))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if not self.files.maybe_save():
            event.ignore()
            return
        self.run_panel.stop()
        self.run_panel.wait_for_end()
        self.save_settings()
        self.autosaver.stop()
        event.accept()

    def _about(self) -> None:
        QMessageBox.about(self, "About layergraph",
                          "<b>layergraph</b><br>Build Keras 3 networks as graphs, see every shape, train them "
                          "on a NumPy engine and export Keras or NumPy code.")

