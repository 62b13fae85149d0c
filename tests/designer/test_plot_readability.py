"""The plots at the size a 1366x768 screen gives them: tick labels apart, legends off the curves,
titles and captions whole or cut with "…", and a sentence instead of empty axes."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFontMetrics, QImage, QPainter

from designer.run.data_plots import DataView
from designer.run.messages import BatchRecord, EpochRecord
from designer.run.node_plots import LayerView
from designer.run.plots import TITLE_FONT, CurvesView


def _drawn_tick_labels(axis) -> list[QRectF]:
    """The rectangles of the tick labels the axis paints at its current size."""
    img = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(img)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [QRectF(rect) for rect, _flags, _text in specs[2]] if specs else []


def _fed_curves(qtbot, steps: int = 900) -> CurvesView:
    view = CurvesView(lambda *_: None)
    qtbot.addWidget(view)
    view.resize(370, 290)  # the Training curves dock during a run on a 1366x768 screen
    view.show()
    qtbot.waitExposed(view)
    view.begin({n: f"layer_{n}" for n in "abcd"}, 0.003, steps)
    events = []
    for s in range(1, steps + 1):
        events.append(BatchRecord(s, s // 45, s % 45, 2.3 * np.exp(-s / 90) + 0.05, min(1.0, s / 200), 0.0))
        if s % 45 == 0:
            events.append(EpochRecord(s, {"loss": 2.3 * np.exp(-s / 90), "val_loss": 2.4 * np.exp(-s / 90),
                                          "accuracy": min(1.0, s / 200), "lr": 0.003}))
    for s in range(1, steps + 1, 20):
        view.feed({"grad_norms": {n: (k + 1) * 0.3 * np.exp(-s / 400) for k, n in enumerate("abcd")},
                   "progress": {"step": s}}, [], draw_main=False, draw_aux=False)
    view.feed({}, events, draw_main=True, draw_aux=True)
    qtbot.wait(100)
    return view


def test_tick_labels_never_run_together(qtbot):
    view = _fed_curves(qtbot)
    for plot in view.graphics_views():  # a first paint widens each axis to its labels (pyqtgraph)
        for side in ("bottom", "left"):
            _drawn_tick_labels(plot.getPlotItem().getAxis(side))
    qtbot.wait(50)
    for plot in view.graphics_views():
        for side in ("bottom", "left"):
            rects = sorted(_drawn_tick_labels(plot.getPlotItem().getAxis(side)),
                           key=lambda r: r.left() if side == "bottom" else r.top())
            assert len(rects) >= 2, (plot._title_text, side)
            for a, b in zip(rects, rects[1:]):  # labels the width of "2004006000800" apart at least
                assert not a.adjusted(-2, -1, 2, 1).intersects(b), (plot._title_text, side, a, b)


def test_legends_sit_off_the_curves(qtbot):
    view = _fed_curves(qtbot)
    for plot in (view.loss_plot, view.metric_plot, view.grad_plot):
        item = plot.getPlotItem()
        area = item.getViewBox().sceneBoundingRect()
        legend = getattr(plot, "_legend_line", None)
        legend_item = legend.label if legend is not None else item.legend
        assert legend_item is not None and legend_item.isVisible()
        assert not legend_item.sceneBoundingRect().intersects(area), plot._title_text


@pytest.mark.parametrize("width", [170, 240])
def test_titles_and_captions_are_whole_or_end_in_an_ellipsis(qtbot, width):
    layer, data = LayerView(lambda *_: None), DataView(lambda *_: None)
    for view in (layer, data):
        qtbot.addWidget(view)
        view.resize(2 * width, 260)
        view.show()
    layer.set_node("n", "max_pooling2d_1", "MaxPooling2D")
    data.begin("image", np.zeros((20, 8, 8, 1), np.float32), np.arange(20) % 10, None)
    data._feed_confusion(9, np.eye(10, dtype=np.int64) * 3)
    qtbot.wait(20)
    metrics = QFontMetrics(TITLE_FONT)
    for plot in layer.graphics_views() + [data.conf_plot, data.pred_plot]:
        shown = plot.getPlotItem().titleLabel.text
        assert metrics.horizontalAdvance(shown) <= plot.width(), (shown, plot.width())
        full = plot._title_text
        assert shown == full or (shown.endswith("…") and full.startswith(shown[:-1]))
    for bar in (layer.bar, data.bar):
        shown = bar.caption.shown_text() if hasattr(bar.caption, "shown_text") else bar.caption.text()
        assert bar.caption.fontMetrics().horizontalAdvance(shown) <= bar.caption.width(), shown
        assert bar.caption.geometry().right() < bar.button.geometry().left()


def test_a_layer_with_nothing_to_show_gets_a_sentence_not_empty_axes(qtbot):
    view = LayerView(lambda *_: None)
    qtbot.addWidget(view)
    view.show()
    view.set_node("f", "flatten", "Flatten")
    assert view.stack.currentWidget() is view.note and "flatten" in view.note.text()  # untrained
    view.feed({"node": {"id": "f", "act_image": np.ones((4, 8), np.float32), "act_mode": "units",
                        "act_hist": (np.linspace(0, 1, 5), np.array([1, 2, 3, 4])), "dead": None}})
    assert view.stack.currentWidget() is view.plots
    assert view.no_weights.isVisible() and "no weights" in view.no_weights.text()
    assert not view.w_plot.isVisible() and not view.wh_plot.isVisible()
