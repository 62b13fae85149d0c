"""Training curves (pyqtgraph): loss and metrics per batch and per epoch, learning rate, gradient norms.

Items are created once and mutated with ``setData`` from the run panel's ~30 Hz timer, on the UI
thread only.  Batch curves live in doubling buffers with peak downsampling and clip-to-view, so
drawing stays cheap however long the run gets.  Shared helpers for the other plot views live here.
"""
from __future__ import annotations

import csv
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from .messages import BatchRecord, EpochRecord

SMOOTHING = 0.9
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


# ----- shared helpers ------------------------------------------------------------------------------------
class GrowingSeries:
    """x/y in doubling NumPy buffers behind one ``PlotDataItem`` (appends are amortised O(1))."""

    def __init__(self, item: pg.PlotDataItem, capacity: int = 1024) -> None:
        self.item = item
        self.x = np.empty(capacity, dtype=np.float64)
        self.y = np.empty(capacity, dtype=np.float64)
        self.n = 0
        self.dirty = False
        self.lo = np.inf
        self.hi = -np.inf

    def append(self, x: float, y: float) -> None:
        if self.n == len(self.x):
            self.x = np.concatenate([self.x, np.empty_like(self.x)])
            self.y = np.concatenate([self.y, np.empty_like(self.y)])
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1
        if np.isfinite(y):
            self.lo, self.hi = min(self.lo, y), max(self.hi, y)
        self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            self.item.setData(self.x[:self.n], self.y[:self.n])
            self.dirty = False

    def clear(self) -> None:
        self.n = 0
        self.dirty = False
        self.lo, self.hi = np.inf, -np.inf
        self.item.setData([], [])


class SparseAxis(pg.AxisItem):
    """An axis whose labels never run together: at most one label per ``LABEL_GAP`` pixels (a
    narrow plot gets fewer, wider-spaced ticks instead of "2004006000800")."""

    LABEL_GAP = {"bottom": 46, "top": 46, "left": 22, "right": 22}

    def boundingRect(self):  # noqa: N802 (Qt override)
        # pyqtgraph drops a label that sticks out of this rectangle, and with a grid the rectangle
        # has no tolerance: the labels at the ends of the range (0, 1.0) went missing
        r = super().boundingRect()
        return r.adjusted(0, -8, 0, 8) if self.orientation in ("left", "right") else r.adjusted(-16, 0, 16, 0)

    def tickSpacing(self, minVal: float, maxVal: float, size: float):  # noqa: N802, N803 (pyqtgraph API)
        levels = super().tickSpacing(minVal, maxVal, size)
        span = maxVal - minVal
        if not levels or span <= 0 or size <= 0:
            return levels
        most = max(2.0, size / self.LABEL_GAP[self.orientation])
        kept = [(spacing, offset) for spacing, offset in levels if span / spacing <= most]
        if kept:
            return kept
        raw = span / most  # even the major ticks are too dense: the next 1-2-5 step that fits
        decade = 10.0 ** np.floor(np.log10(raw))
        return [(next(m * decade for m in (1, 2, 5, 10) if m * decade >= raw), 0)]


def log_ticks(lo: float, hi: float, most: int = 5) -> list[tuple[float, str]]:
    """Ticks for a log10 axis spanning ``lo..hi`` (in log10 units): 1-2-5 steps when they are few
    enough, else decades, else every few decades; at most ``most`` labels."""
    first, last = int(np.floor(lo)), int(np.ceil(hi))
    for mantissas in ((1, 2, 5), (1,)):
        values = [np.log10(m) + e for e in range(first, last + 1) for m in mantissas]
        values = [v for v in values if lo <= v <= hi]
        if 2 <= len(values) <= most or mantissas == (1,):
            break
    if len(values) < 2:  # less than one 1-2-5 step: label the ends
        values = [lo, hi]
    step = max(1, -(-len(values) // most))
    return [(float(v), f"{10 ** v:.3g}") for v in values[::step]]


class GrowOnlyRange:
    """Set a plot's view range by hand, widening it only when data leaves it (with headroom).

    Auto-ranging moves the axes on every new point, and re-laying out the ticks is most of what a
    line plot costs to paint; a range that changes a few times per run keeps the axes cached.
    ``fixed_x``/``fixed_y`` pin an axis; with a log axis pass log10 values.
    """

    def __init__(self, plot: pg.PlotWidget, fixed_x: tuple | None = None, fixed_y: tuple | None = None,
                 headroom: float = 0.15, x_headroom: float | None = None, y_floor: float | None = None) -> None:
        self.vb = plot.getPlotItem().getViewBox()
        plot.getPlotItem().disableAutoRange()
        self.fixed_x, self.fixed_y, self.headroom = fixed_x, fixed_y, headroom
        self.x_headroom = headroom if x_headroom is None else x_headroom
        self.y_floor = y_floor
        self.cur: list[float] | None = None

    def reset(self, fixed_x: tuple | None = None) -> None:
        self.cur = None
        if fixed_x is not None:
            self.fixed_x = fixed_x

    def clear_view(self) -> None:
        """Back to the range of a plot that has shown nothing yet (no axes left from other data)."""
        self.cur = None
        self.vb.setRange(xRange=self.fixed_x or (0, 1), yRange=self.fixed_y or (0, 1), padding=0)

    def include(self, x0: float, x1: float, y0: float, y1: float) -> None:
        if not all(np.isfinite(v) for v in (x0, x1, y0, y1)):
            return
        x0, x1 = self.fixed_x or (x0, x1)
        y0, y1 = self.fixed_y or (y0, y1)
        c = self.cur
        if c is not None and c[0] <= x0 and x1 <= c[1] and c[2] <= y0 and y1 <= c[3]:
            return
        if c is not None:
            x0, x1, y0, y1 = min(x0, c[0]), max(x1, c[1]), min(y0, c[2]), max(y1, c[3])
        dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
        h = self.headroom
        new = [x0 if self.fixed_x else x0 - dx * 0.02, x1 if self.fixed_x else x1 + dx * self.x_headroom,
               y0 if self.fixed_y else y0 - dy * h, y1 if self.fixed_y else y1 + dy * h]
        if self.y_floor is not None and y0 >= self.y_floor:
            new[2] = self.y_floor
        self.cur = new
        self.vb.setRange(xRange=new[:2], yRange=new[2:], padding=0)


class RunningRange:
    """Levels for an image that only widen during a run (fixed levels, no flicker)."""

    def __init__(self, symmetric: bool = False) -> None:
        self.symmetric = symmetric
        self.lo = np.inf
        self.hi = -np.inf

    def update(self, img: np.ndarray) -> tuple[float, float]:
        finite = img[np.isfinite(img)]
        if finite.size:
            self.lo = min(self.lo, float(finite.min()))
            self.hi = max(self.hi, float(finite.max()))
        lo, hi = (self.lo, self.hi) if np.isfinite(self.lo) else (0.0, 1.0)
        if self.symmetric:
            r = max(abs(lo), abs(hi)) or 1.0
            return -r, r
        return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)

    def reset(self) -> None:
        self.lo, self.hi = np.inf, -np.inf


#: Plot colours; ``apply_plot_theme`` switches them with the window's theme.
PLOT_THEME = {"background": "#ffffff", "foreground": "#333333"}


TITLE_FONT = QFont()
TITLE_FONT.setPointSize(9)


def set_title(plot: pg.PlotWidget, text: str, force: bool = False) -> None:
    """Change a plot's title only when it differs (re-laying out the title label is expensive).
    A title wider than the plot is cut with "…" (the whole title is the tooltip)."""
    if force or getattr(plot, "_title_text", None) != text:
        plot._title_text = text
        _show_title(plot)


def _show_title(plot: pg.PlotWidget) -> None:
    text = getattr(plot, "_title_text", "")
    room = max(plot.width() - 50, 40)  # (the title is centred over the plot area, not the widget)
    shown = QFontMetrics(TITLE_FONT).elidedText(text, Qt.TextElideMode.ElideRight, room)
    if getattr(plot, "_title_shown", None) != (shown, PLOT_THEME["foreground"]):
        plot._title_shown = (shown, PLOT_THEME["foreground"])
        plot.getPlotItem().setTitle(shown, size="9pt", color=PLOT_THEME["foreground"])
        plot.setToolTip(text if shown != text else "")


class TitledPlot(pg.PlotWidget):
    """A ``PlotWidget`` that re-fits its title to its width when resized."""

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if hasattr(self, "_title_text"):
            _show_title(self)


class LegendLine:
    """A plot's legend as one line of coloured names under its axes: it never covers a curve, and
    it is cut at the plot's width instead of widening the plot (pyqtgraph's legend does either)."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        item = plot.getPlotItem()
        self.label = pg.LabelItem("", size="7pt", justify="left")
        item.layout.addItem(self.label, 4, 1)
        _let_label_shrink(self.label)
        self.entries: list[tuple[str, str]] = []
        plot._legend_line = self

    def add(self, name: str, color: str) -> None:
        self.entries.append((name, color))
        self.render()

    def clear(self) -> None:
        self.entries = []
        self.render()

    def render(self) -> None:
        html = " &nbsp; ".join(f"<span style='color:{c}'>━━</span>&nbsp;{escape(n)}" for n, c in self.entries)
        self.label.setText(html, size="7pt", color=PLOT_THEME["foreground"])


def _let_title_shrink(plot: pg.PlotWidget) -> None:
    """A long title may be cut, but must not widen the plot past its dock (the dock then clips
    the plot)."""
    _let_label_shrink(plot.getPlotItem().titleLabel)


def _let_label_shrink(label: pg.LabelItem) -> None:
    """pyqtgraph's label resets its minimum width to its text on every change and resize, so the
    reset itself is wrapped."""
    text_minimum = label.updateMin

    def update_min() -> None:
        text_minimum()
        height = label.minimumHeight()
        label.setMinimumWidth(0)
        label._sizeHint[Qt.SizeHint.MinimumSize] = (0, height)
        label._sizeHint[Qt.SizeHint.PreferredSize] = (0, height)
        label.updateGeometry()

    label.updateMin = update_min


def apply_plot_theme(plots: list[pg.PlotWidget], background: str, foreground: str) -> None:
    """Recolour existing plots (background, axes, titles) and the default for plots made later."""
    PLOT_THEME.update(background=background, foreground=foreground)
    for w in plots:
        w.setBackground(background)
        item = w.getPlotItem()
        for name in ("left", "bottom", "right", "top"):
            axis = item.getAxis(name)
            axis.setPen(foreground)
            axis.setTextPen(foreground)
        if getattr(w, "_legend_line", None) is not None:
            w._legend_line.render()
        set_title(w, getattr(w, "_title_text", ""), force=True)


def set_text(item: pg.TextItem, text: str, color: str | None = None) -> None:
    """``TextItem.setText`` only on change (each call re-lays out a QGraphicsTextItem)."""
    if getattr(item, "_last", None) != (text, color):
        item._last = (text, color)
        item.setText(text)
        if color is not None:
            item.setColor(color)


def make_plot(title: str, left: str = "", bottom: str = "") -> pg.PlotWidget:
    w = TitledPlot(background=PLOT_THEME["background"],
                   axisItems={"bottom": SparseAxis("bottom"), "left": SparseAxis("left")})
    p = w.getPlotItem()
    _let_title_shrink(w)
    set_title(w, title)
    p.showGrid(x=True, y=True, alpha=0.2)
    for side, label in (("left", left), ("bottom", bottom)):
        p.getAxis(side).enableAutoSIPrefix(False)  # no "value (x0.001)": the ticks say the values
        if label:
            p.setLabel(side, label)
    p.setMenuEnabled(False)
    w.setMinimumSize(110, 48)  # (small enough for the short tab group between runs)
    return w


def image_plot(title: str, invert: bool = True) -> tuple[pg.PlotWidget, pg.ImageItem]:
    """A plot holding one row-major ``ImageItem`` (row 0 at the top when ``invert``)."""
    w = make_plot(title)
    p = w.getPlotItem()
    p.showGrid(x=False, y=False)
    item = pg.ImageItem(axisOrder="row-major")
    p.addItem(item)
    p.getViewBox().invertY(invert)
    p.getViewBox().setAspectLocked(True)
    p.hideAxis("bottom")
    p.hideAxis("left")
    return w, item


def save_widget_png(widget: QWidget, path: str | Path) -> Path:
    """Render ``widget`` (works offscreen) and write a PNG; raises ``OSError`` when it cannot be written."""
    path = Path(path)
    if not widget.grab().save(str(path), "PNG"):
        raise OSError(f"{path}: the picture could not be written.")
    return path


class ElidedLabel(QLabel):
    """A one-line label that ends in "…" when it is too long, instead of running under its
    neighbour; ``text()`` stays whole and is the tooltip."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def shown_text(self) -> str:
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt override)
        shown = self.shown_text()
        self.setToolTip(self.text() if shown != self.text() else "")
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), shown)


class SaveBar(QWidget):
    """A row with a caption and a "Save PNG…" button; ``ask_path`` returns a file name or None."""

    def __init__(self, caption: str, target: QWidget, ask_path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target = target
        self.ask_path = ask_path
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        # a long caption ends in "…" rather than making the dock wider than a small screen allows
        self.caption = ElidedLabel(caption)
        lay.addWidget(self.caption, 1)
        self.button = QPushButton("Save PNG…")
        self.button.setToolTip("Save this view as a PNG picture")
        self.button.clicked.connect(self._save)
        lay.addWidget(self.button)

    def _save(self) -> None:
        path = self.ask_path("Save picture", "PNG image (*.png)")
        if path:
            save_widget_png(self.target, path if path.lower().endswith(".png") else path + ".png")


# ----- the curves view ----------------------------------------------------------------------------------
class CurvesView(QWidget):
    """Loss, accuracy, learning rate and per-layer gradient norms against the training step."""

    def __init__(self, ask_path=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plots = QWidget()
        grid = QVBoxLayout(self.plots)
        grid.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = make_plot("loss per step")
        self.metric_plot = make_plot("accuracy per step")
        self.lr_plot = make_plot("learning rate")
        self.grad_plot = make_plot("gradient norm per layer")
        self.grad_plot.getPlotItem().setLogMode(y=True)
        top = QHBoxLayout()
        top.addWidget(self.loss_plot)
        top.addWidget(self.metric_plot)
        bottom = QHBoxLayout()
        bottom.addWidget(self.grad_plot, 2)
        bottom.addWidget(self.lr_plot, 1)
        grid.addLayout(top, 1)
        grid.addLayout(bottom, 1)
        self.bar = SaveBar("Training curves", self.plots, ask_path or (lambda *_: None))
        lay.addWidget(self.bar)
        lay.addWidget(self.plots, 1)
        self._build_items()
        self.ranges = {"loss": GrowOnlyRange(self.loss_plot, x_headroom=0.5, y_floor=0.0),
                       "acc": GrowOnlyRange(self.metric_plot, fixed_y=(0, 1.02), x_headroom=0.5),
                       "lr": GrowOnlyRange(self.lr_plot, x_headroom=0.5, y_floor=0.0),
                       "grad": GrowOnlyRange(self.grad_plot, x_headroom=0.5)}
        self.names: dict[str, str] = {}
        self.run_end = 1
        self.reset()

    def _series(self, plot: pg.PlotWidget, name: str, pen: Any, symbol: str | None = None) -> GrowingSeries:
        p = plot.getPlotItem()
        item = p.plot([], [], pen=pen, name=name, symbol=symbol, symbolSize=6 if symbol else None,
                      symbolBrush=pen.color() if symbol and hasattr(pen, "color") else None)
        if plot in self.legends:
            c = pen.color()  # a translucent pen is shown as the paler colour it draws on white
            a = c.alphaF()
            self.legends[plot].add(name, "#%02x%02x%02x" % tuple(round(v * a + 255 * (1 - a))
                                                               for v in (c.red(), c.green(), c.blue())))
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        return GrowingSeries(item)

    def _build_items(self) -> None:
        self.legends = {plot: LegendLine(plot) for plot in (self.loss_plot, self.metric_plot, self.grad_plot)}
        blue, orange = pg.mkPen("#1f77b4", width=2), pg.mkPen("#ff7f0e", width=2)
        self.batch_loss = self._series(self.loss_plot, "batch", pg.mkPen(color=(31, 119, 180, 60)))
        self.smooth_loss = self._series(self.loss_plot, "smoothed", blue)
        self.epoch_loss = self._series(self.loss_plot, "train", pg.mkPen("#2ca02c", width=1.5), "o")
        self.val_loss = self._series(self.loss_plot, "validation", orange, "s")
        self.batch_acc = self._series(self.metric_plot, "running", pg.mkPen(color=(31, 119, 180, 120)))
        self.epoch_acc = self._series(self.metric_plot, "train", pg.mkPen("#2ca02c", width=1.5), "o")
        self.val_acc = self._series(self.metric_plot, "validation", orange, "s")
        self.lr = self._series(self.lr_plot, "learning rate", pg.mkPen("#9467bd", width=2))
        self.grad: dict[str, GrowingSeries] = {}
        self.main_series = [self.batch_loss, self.smooth_loss, self.epoch_loss, self.val_loss, self.batch_acc,
                            self.epoch_acc, self.val_acc]
        self.all_series = [self.batch_loss, self.smooth_loss, self.epoch_loss, self.val_loss, self.batch_acc,
                           self.epoch_acc, self.val_acc, self.lr]

    def graphics_views(self) -> list[pg.PlotWidget]:
        return [self.loss_plot, self.metric_plot, self.lr_plot, self.grad_plot]

    # ----- run lifecycle -------------------------------------------------------------------------------
    def reset(self) -> None:
        for s in self.all_series:
            s.clear()
        for s in self.grad.values():  # one series per layer of the graph trained: removed with its legend entry
            self.grad_plot.getPlotItem().removeItem(s.item)
        if self.grad and self.grad_plot in getattr(self, "legends", {}):
            self.legends[self.grad_plot].clear()
        self.grad = {}
        self._grad_ticks = log_ticks(0.0, 1.0)  # the empty plot's range (pyqtgraph's own log ticks crowd it)
        self.grad_plot.getPlotItem().getAxis("left").setTicks([self._grad_ticks])
        self._ema: float | None = None
        self.epochs: list[dict[str, float]] = []
        self.batches: list[tuple[int, int, float]] = []
        self.step_offset = 0
        self.last_step = 0
        self.lr_value: float | None = None
        for r in getattr(self, "ranges", {}).values():
            r.clear_view()

    def begin(self, names: dict[str, str], lr: float | None, total_steps: int = 1) -> None:
        """A new run continues the curves where the previous one stopped (same weights, later steps)."""
        self.names = dict(names)
        self.step_offset = self.last_step
        self.lr_value = lr
        self.run_end = self.step_offset + max(1, total_steps)
        for r in self.ranges.values():
            r.reset()

    def feed(self, latest: dict[str, Any], events: list[BatchRecord | EpochRecord], draw_main: bool = True,
             draw_aux: bool = True) -> None:
        """Record a snapshot's batches/epochs; redraw loss/accuracy when ``draw_main`` and the gradient
        norms and learning rate when ``draw_aux`` (line plots are costly to paint, so they take turns)."""
        if "begin" in latest:
            self.lr_value = latest["begin"]["lr"]
        for ev in events:
            if isinstance(ev, BatchRecord):
                self._batch(ev)
            elif isinstance(ev, EpochRecord):
                self._epoch(ev)
        if "grad_norms" in latest and "progress" in latest:  # recorded at every snapshot, drawn in turn
            step = latest["progress"]["step"] + self.step_offset
            for nid, g in latest["grad_norms"].items():
                if g > 0 and np.isfinite(g):
                    self._grad_series(nid).append(step, g)
        if draw_main:
            for s in self.main_series:
                s.flush()
        if draw_aux:
            for s in [self.lr, *self.grad.values()]:
                s.flush()
        if draw_main or draw_aux:
            self._fit_ranges()

    def _fit_ranges(self) -> None:
        x1 = max(self.last_step, 1)
        lo = min(s.lo for s in (self.batch_loss, self.val_loss, self.epoch_loss))
        hi = max(s.hi for s in (self.batch_loss, self.val_loss, self.epoch_loss))
        if np.isfinite(hi):
            self.ranges["loss"].include(0, x1, min(0.0, lo), hi)
        self.ranges["acc"].include(0, x1, 0, 1)
        if self.lr.n:
            self.ranges["lr"].include(0, x1, 0.0, self.lr.hi * 1.2)
        glo = min((s.lo for s in self.grad.values() if s.lo > 0), default=np.inf)
        ghi = max((s.hi for s in self.grad.values()), default=-np.inf)
        if np.isfinite(glo) and np.isfinite(ghi):
            lo, hi = np.log10(glo) - 0.2, np.log10(ghi) + 0.2
            self.ranges["grad"].include(0, x1, lo, hi)
            room = self.grad_plot.getPlotItem().getViewBox().height()
            ticks = log_ticks(lo, hi, most=max(2, min(5, int(room // SparseAxis.LABEL_GAP["left"]))))
            if ticks != self._grad_ticks:  # pyqtgraph's own log ticks crowd a short plot with 2..9 labels
                self._grad_ticks = ticks
                self.grad_plot.getPlotItem().getAxis("left").setTicks([ticks])

    def _batch(self, ev: BatchRecord) -> None:
        step, epoch, loss, acc = ev.step + self.step_offset, ev.epoch, ev.loss, ev.accuracy
        self.last_step = step
        self.batches.append((step, epoch, loss))
        if np.isfinite(loss):
            self._ema = loss if self._ema is None else SMOOTHING * self._ema + (1 - SMOOTHING) * loss
            self.batch_loss.append(step, loss)
            self.smooth_loss.append(step, self._ema)
        if acc is not None:
            self.batch_acc.append(step, acc)

    def _epoch(self, ev: EpochRecord) -> None:
        step, logs = ev.step + self.step_offset, ev.logs
        self.epochs.append({"epoch": len(self.epochs) + 1, "step": step, **logs})
        if "lr" in logs:
            self.lr.append(step, logs["lr"])
        for key, series in (("loss", self.epoch_loss), ("val_loss", self.val_loss),
                            ("accuracy", self.epoch_acc), ("val_accuracy", self.val_acc)):
            if key in logs and np.isfinite(logs[key]):
                series.append(step, logs[key])

    _grad_ticks: list[tuple[float, str]] | None = None

    def _grad_series(self, nid: str) -> GrowingSeries:
        s = self.grad.get(nid)
        if s is None:
            color = PALETTE[len(self.grad) % len(PALETTE)]
            s = self._series(self.grad_plot, self.names.get(nid, nid), pg.mkPen(color, width=1.5))
            self.grad[nid] = s
        return s

    # ----- export -------------------------------------------------------------------------------------
    @property
    def point_count(self) -> int:
        return self.batch_loss.n

    def export_csv(self, path: str | Path) -> tuple[Path, Path]:
        """Per-epoch history to ``path`` and per-batch losses to ``<stem>_batches.csv`` beside it."""
        path = Path(path)
        keys: list[str] = []
        for row in self.epochs:
            keys += [k for k in row if k not in keys]
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=keys or ["epoch"])
            w.writeheader()
            w.writerows(self.epochs)
        batches = path.with_name(path.stem + "_batches.csv")
        with open(batches, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["step", "epoch", "batch_loss"])
            w.writerows((s, e + 1, f"{v:.7g}") for s, e, v in self.batches)
        return path, batches
