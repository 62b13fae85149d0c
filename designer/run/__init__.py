"""Live training in the designer: the run dock, the plot docks and the training worker thread.

``attach_run_panel(window)`` adds the docks to a ``MainWindow`` and wires them to its document and
canvas; everything else is in ``run_panel`` (controls), ``worker`` (the ``QThread``), ``plots`` /
``node_plots`` / ``data_plots`` (pyqtgraph views) and ``snapshots`` (NumPy helpers).
"""
from __future__ import annotations

from PySide6.QtCore import Qt

from .run_panel import RunPanel

__all__ = ["RunPanel", "attach_run_panel"]


def attach_run_panel(window) -> RunPanel:
    """Add the Run dock and the Training curves / Layer activity / Data view docks to ``window``.

    The panel follows ``window.doc`` (validation, weights, locking) and ``window.scene`` (selection,
    badges, highlights); file questions go through ``window.dialogs`` when it has one.
    """
    panel = RunPanel(window.doc, getattr(window, "scene", None), getattr(window, "dialogs", None), window)
    right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
    window.run_dock = window.add_dock("Run", "runDock", panel, right)
    window.curves_dock = window.add_dock("Training curves", "curvesDock", panel.curves, bottom)
    window.layer_dock = window.add_dock("Layer activity", "layerDock", panel.layer_view, bottom)
    window.data_dock = window.add_dock("Data view", "dataDock", panel.data_view, bottom)
    code = getattr(window, "code_dock", None)
    if code is not None:  # the code view matters less during a run; the inspector keeps its room
        window.tabifyDockWidget(code, window.run_dock)
        window.run_dock.raise_()
    window.splitDockWidget(window.curves_dock, window.layer_dock, Qt.Orientation.Horizontal)
    window.splitDockWidget(window.layer_dock, window.data_dock, Qt.Orientation.Horizontal)
    window.resizeDocks([window.curves_dock], [380], Qt.Orientation.Vertical)
    window.resizeDocks([window.curves_dock, window.layer_dock, window.data_dock], [470, 420, 540],
                       Qt.Orientation.Horizontal)
    view_menu = next((a.menu() for a in window.menuBar().actions()
                      if a.menu() is not None and a.text().replace("&", "") == "View"), None)
    if view_menu is not None:
        view_menu.addSeparator()
        for dock in (window.run_dock, window.curves_dock, window.layer_dock, window.data_dock):
            view_menu.addAction(dock.toggleViewAction())
    window.run_panel = panel
    return panel
