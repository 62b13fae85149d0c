"""The canvas-selected layer during a run: its activations on a fixed sample batch and its weights.

Four plots, items created once: the output as a picture (feature maps of conv layers as a grid,
units x samples for dense/recurrent layers), a histogram of output values (with the dead-ReLU
fraction), the main weight as a picture (kernel heatmap or conv filters), and the weight
histogram over time (one column per snapshot).  Images use fixed levels from a running range.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from .plots import GrowOnlyRange, RunningRange, SaveBar, image_plot, make_plot, set_title

HISTORY_COLUMNS = 240


class LayerView(QWidget):
    """Activations and weights of one node; ``set_node`` chooses it, ``feed`` draws a snapshot."""

    def __init__(self, ask_path=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plots = QWidget()
        grid = QGridLayout(self.plots)
        grid.setContentsMargins(0, 0, 0, 0)
        self.act_plot, self.act_image = image_plot("output activations")
        self.act_image.setColorMap(pg.colormap.get("viridis"))
        self.hist_plot = make_plot("output values")
        self.hist_curve = self.hist_plot.getPlotItem().plot([0, 1], [0], stepMode="center", fillLevel=0,
                                                            brush=(31, 119, 180, 120), pen=pg.mkPen("#1f77b4"))
        self.w_plot, self.w_image = image_plot("weights")
        self.w_image.setColorMap(pg.colormap.get("CET-D1"))
        self.wh_plot, self.wh_image = image_plot("weights over time", invert=False)
        self.wh_plot.getPlotItem().getViewBox().setAspectLocked(False)
        self.wh_plot.getPlotItem().showAxis("left")
        self.wh_plot.getPlotItem().setLabel("left", "value")
        self.wh_image.setColorMap(pg.colormap.get("inferno"))
        self.hist_range = GrowOnlyRange(self.hist_plot, headroom=0.05)
        grid.addWidget(self.act_plot, 0, 0)
        grid.addWidget(self.hist_plot, 0, 1)
        grid.addWidget(self.w_plot, 1, 0)
        grid.addWidget(self.wh_plot, 1, 1)
        self.no_weights = QLabel()  # instead of two empty plots for a layer without weights
        self.no_weights.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_weights.setWordWrap(True)
        grid.addWidget(self.no_weights, 1, 0, 1, 2)
        self.no_weights.hide()
        self.bar = SaveBar("Select a layer on the canvas", self.plots, ask_path or (lambda *_: None))
        self.note = QLabel("Select a layer on the canvas to see its activations and weights change.")
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.plots)
        self.stack.addWidget(self.note)
        self.stack.setCurrentWidget(self.note)
        lay.addWidget(self.bar)
        lay.addWidget(self.stack, 1)
        self.node_id: str | None = None
        self.node_name = ""
        self.reset()

    def graphics_views(self) -> list[pg.PlotWidget]:
        return [self.act_plot, self.hist_plot, self.w_plot, self.wh_plot]

    def reset(self) -> None:
        self.act_range = RunningRange()
        self.w_range = RunningRange(symmetric=True)
        self.history = np.zeros((0, 0), dtype=np.float32)
        self.history_range: tuple[float, float] | None = None
        if hasattr(self, "hist_range"):
            self.hist_range.reset()
        self.frames = 0
        if hasattr(self, "stack"):  # (the plots come back with the first picture)
            self.stack.setCurrentWidget(self.note)
        for item in (self.act_image, self.w_image, self.wh_image):
            item.clear()
        self.hist_curve.setData([0, 1], [0])

    def set_node(self, node_id: str | None, name: str = "", class_name: str = "") -> None:
        if node_id == self.node_id:
            return
        self.node_id, self.node_name = node_id, name
        self.reset()
        self.bar.caption.setText(f"{class_name} '{name}'" if node_id else "Select a layer on the canvas")
        # no empty plots with made-up axes: a sentence until the first picture of this layer arrives
        self.note.setText(f"What '{name}' computes appears here once the graph trains (press Train or Step)."
                          if node_id else "Select a layer on the canvas to see its activations and weights change.")
        self.stack.setCurrentWidget(self.note)
        for plot, title in ((self.act_plot, "output activations"), (self.hist_plot, "output values"),
                            (self.w_plot, "weights"), (self.wh_plot, "weights over time")):
            set_title(plot, title)

    def feed(self, latest: dict[str, Any], draw_slow: bool = True) -> None:
        """Draw the images now; the histograms only when ``draw_slow`` (they cost more to paint)."""
        node = latest.get("node")
        if node is None or node["id"] != self.node_id:
            return
        self.frames += 1
        self.stack.setCurrentWidget(self.plots)
        has_weights = "weight_image" in node
        for plot in (self.w_plot, self.wh_plot):
            plot.setVisible(has_weights)
        self.no_weights.setVisible(not has_weights)
        if not has_weights:
            self.no_weights.setText(f"'{self.node_name}' has no weights.")
        img = node["act_image"]
        self.act_image.setImage(img, autoLevels=False, levels=self.act_range.update(img))
        set_title(self.act_plot, "feature maps (sample 1)" if node["act_mode"] == "maps" else "units × samples")
        if draw_slow:
            edges, counts = node["act_hist"]
            self.hist_curve.setData(edges, counts)
            self.hist_range.include(float(edges[0]), float(edges[-1]), 0.0, float(counts.max()))
            title = "outputs"
            if node["dead"] is not None:
                title += f" · dead ReLU {node['dead']:.0%}"
            set_title(self.hist_plot, title)
        if "weight_image" in node:
            self._feed_weights(node)

    def _feed_weights(self, node: dict[str, Any]) -> None:
        img = node["weight_image"]
        self.w_image.setImage(img, autoLevels=False, levels=self.w_range.update(img))
        shape = "filters" if node["weight_mode"] == "filters" else "in × out"
        set_title(self.w_plot, f"{node['weight_name']} ({shape})")
        _edges, counts = node["weight_hist"]
        col = counts[:, None].astype(np.float32)
        if self.history.shape[0] != len(counts):
            self.history = col
        else:
            self.history = np.concatenate([self.history, col], axis=1)
            if self.history.shape[1] > HISTORY_COLUMNS:  # keep the whole run: halve the time resolution
                h = self.history
                keep = h.shape[1] - (h.shape[1] % 2)
                self.history = np.concatenate([h[:, :keep].reshape(len(h), -1, 2).mean(axis=2), h[:, keep:]], axis=1)
        lo, hi = node["weight_range"]
        peak = float(np.log1p(self.history).max()) or 1.0
        self.wh_image.setImage(np.log1p(self.history), autoLevels=False, levels=(0.0, peak))
        self.wh_image.setRect(0, lo, self.history.shape[1], hi - lo)
