"""Where the main window's docks go, so the canvas has the room when no run is on.

Between runs the bottom docks (Problems, Summary and the three plot docks) are one tab group,
short and full width: the canvas gets the height, and the Summary's columns get the width.  When a
run starts the plot docks are spread side by side and take ``PLOTS_SHARE`` of the window's height,
since the canvas is locked and the plots are what a person watches; they stay so after the run
(its results are there) until another document is opened.  The Inspector keeps at least a few
rows whatever happens (``INSPECTOR_MIN_HEIGHT``), so a run, or a saved layout, cannot squeeze it.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar

PLOTS_SHARE = 0.4
IDLE_BOTTOM_SHARE = 0.2  # the bottom tab group's height between runs
INSPECTOR_MIN_HEIGHT = 150  # the class name and three argument rows
#: Side docks' widths as a share of the window's width, with their largest sizes in pixels.
PALETTE_WIDTH, INSPECTOR_WIDTH = (0.15, 235), (0.27, 400)

BOTTOM = Qt.DockWidgetArea.BottomDockWidgetArea
H, V = Qt.Orientation.Horizontal, Qt.Orientation.Vertical


def _bottom_docks(window) -> list[QDockWidget]:
    return [window.problems_dock, window.summary_dock, window.curves_dock, window.layer_dock, window.data_dock]


def _plot_docks(window) -> list[QDockWidget]:
    return [window.curves_dock, window.layer_dock, window.data_dock]


def _docked(window: QMainWindow, dock: QDockWidget) -> bool:
    return not dock.isFloating() and window.dockWidgetArea(dock) == BOTTOM


def plots_spread(window) -> bool:
    """True when the plot docks sit side by side (a run's layout) rather than in the tab group."""
    tabbed = {d.objectName() for d in window.tabifiedDockWidgets(window.problems_dock)}
    return not any(d.objectName() in tabbed for d in _plot_docks(window))


def arrange_idle(window) -> None:
    """The between-runs layout, made once with the window: the bottom docks tabbed and short."""
    window.inspector_dock.setMinimumHeight(INSPECTOR_MIN_HEIGHT)
    compact_bottom(window)
    size_docks(window)


def size_docks(window) -> None:
    """Side docks and the bottom group sized to the window (again when it first shows at its real size)."""
    w = max(window.width(), 800)
    widths = [min(int(share * w), most) for share, most in (PALETTE_WIDTH, INSPECTOR_WIDTH)]
    window.resizeDocks([window.palette_dock, window.inspector_dock], widths, H)
    bottom = window.curves_dock if plots_spread(window) else window.problems_dock
    share = PLOTS_SHARE if plots_spread(window) else IDLE_BOTTOM_SHARE
    window.resizeDocks([bottom], [int(window.height() * share)], V)


def compact_bottom(window) -> None:
    """Put the bottom docks in one short tab group, the Problems tab in front."""
    docks = [d for d in _bottom_docks(window) if _docked(window, d)]
    for a, b in zip(docks, docks[1:]):
        window.tabifyDockWidget(a, b)
    if docks:
        docks[0].raise_()
        window.resizeDocks([docks[0]], [int(window.height() * IDLE_BOTTOM_SHARE)], V)
    _tidy_tab_bars(window)


def spread_plots(window) -> None:
    """At the start of a run: the plot docks side by side, ``PLOTS_SHARE`` of the height, and the
    Run controls given the room the read-only Inspector does not need (down to its minimum)."""
    plots = [d for d in _plot_docks(window) if _docked(window, d) and d.isVisible()]
    if plots and not plots_spread(window):
        window.addDockWidget(BOTTOM, plots[0])  # out of the tab group, beside it
        for a, b in zip(plots, plots[1:]):
            window.splitDockWidget(a, b, H)
        left = min(300, window.width() // 7)  # Problems and Summary, tabbed, beside the plots
        rest = window.width() - left
        window.resizeDocks([window.problems_dock, *plots],
                           [left, *(int(rest * f) for f in (0.34, 0.3, 0.36)[:len(plots)])], H)
    if plots:
        for d in plots:
            d.raise_()
        want = int(window.height() * PLOTS_SHARE)
        if plots[0].height() < want:
            window.resizeDocks([plots[0]], [want], V)
    inspector = window.inspector_dock
    if inspector.isVisible() and window.dockWidgetArea(inspector) == window.dockWidgetArea(window.run_dock):
        window._inspector_height = inspector.height()  # given back when the run ends
        window.resizeDocks([inspector, window.run_dock], [INSPECTOR_MIN_HEIGHT, window.height()], V)
    _tidy_tab_bars(window)


def after_run(window) -> None:
    """The run ended: the Inspector is editable again and gets back the height it had before."""
    height = getattr(window, "_inspector_height", None)
    inspector = window.inspector_dock
    if height and inspector.isVisible() and window.dockWidgetArea(inspector) == window.dockWidgetArea(
            window.run_dock):
        window.resizeDocks([inspector], [max(height, INSPECTOR_MIN_HEIGHT)], V)
    window._inspector_height = None


def _tidy_tab_bars(window) -> None:
    if window.isVisible():
        QTimer.singleShot(0, lambda: hide_stray_tab_bars(window))


def hide_stray_tab_bars(window: QMainWindow) -> None:
    """Hide dock tab bars the main window's layout does not manage.

    With PySide6 6.12, ``tabifyDockWidget`` for a second tab group before the window is shown
    leaves an extra tab bar for that group on screen at a stale place.  A bar the layout uses sits
    right under the dock of its current tab; any other is one of those leftovers.
    """
    docks = {d.windowTitle(): d for d in window.findChildren(QDockWidget)}
    for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if not bar.isVisible() or bar.count() == 0:
            continue
        current = docks.get(bar.tabText(bar.currentIndex()))
        if current is None or not current.isVisible() or current.isFloating():
            continue
        bar_rect, dock_rect = bar.geometry(), current.geometry()
        if abs(bar_rect.left() - dock_rect.left()) > 2 or abs(bar_rect.top() - dock_rect.bottom() - 1) > 4:
            bar.hide()
