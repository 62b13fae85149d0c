"""What the model does with the data: the Playground view, a regression curve, image predictions.

* 2-D classification: the decision boundary as a live background image under the data points.
* 1-D regression: the model's curve over the data points.
* images: a grid of sample predictions with their confidence, and the confusion matrix at epoch end.
Items are created in ``begin`` (once per run) and mutated by ``feed``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFont
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStackedWidget, QVBoxLayout, QWidget

from .plots import PALETTE, SaveBar, image_plot, make_plot, set_text, set_title
from .snapshots import class_ids, predicted_classes, tile

GRID_SAMPLES = 16
LABEL_FONT = QFont()
LABEL_FONT.setPointSize(7)
# P(class 1) behind the points: light class colours, white at 0.5, so the saturated points stand out
BINARY_MAP = pg.ColorMap([0.0, 0.5, 1.0], [pg.mkColor("#9ec5e8"), pg.mkColor("#ffffff"), pg.mkColor("#ffc58f")])


NO_DATA_NOTE = "The data appears here once the graph and the dataset fit together."


class DataView(QWidget):
    def __init__(self, ask_path=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.stack = QStackedWidget()
        self.bar = SaveBar("Data view", self.stack, ask_path or (lambda *_: None))
        lay.addWidget(self.bar)
        lay.addWidget(self.stack, 1)
        self._build_playground()
        self._build_curve()
        self._build_images()
        self.note = QLabel()
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        self.stack.addWidget(self.note)
        self.show_note(NO_DATA_NOTE)
        self.mode = "none"
        self.boundary_frames = 0
        self.confusion_epoch: int | None = None
        self._conf_classes = 0

    # ----- construction --------------------------------------------------------------------------------
    def _build_playground(self) -> None:
        self.pg_plot = make_plot("decision boundary", "x₂", "x₁")
        p = self.pg_plot.getPlotItem()
        p.showGrid(x=False, y=False)
        p.getViewBox().setAspectLocked(True)
        self.boundary = pg.ImageItem(axisOrder="col-major")
        self.boundary.setColorMap(BINARY_MAP)
        p.addItem(self.boundary)
        self.points = pg.ScatterPlotItem(size=5, pen=pg.mkPen("w", width=0.6))
        p.addItem(self.points)
        self.stack.addWidget(self.pg_plot)

    def _build_curve(self) -> None:
        self.curve_plot = make_plot("model output", "y", "x")
        p = self.curve_plot.getPlotItem()
        self.curve_points = pg.ScatterPlotItem(size=4, brush=(31, 119, 180, 140), pen=None)
        p.addItem(self.curve_points)
        self.curve = p.plot([], [], pen=pg.mkPen("#d62728", width=2.5))
        self.stack.addWidget(self.curve_plot)

    def _build_images(self) -> None:
        page = QWidget()
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 0, 0, 0)
        self.pred_plot, self.pred_image = image_plot("sample predictions")
        self.pred_image.setColorMap(pg.colormap.get("CET-L1"))  # grey; ink is drawn dark (see set_sample_images)
        self.pred_labels: list[pg.TextItem] = []
        self.conf_plot, self.conf_image = image_plot("confusion matrix (validation)")
        self.conf_image.setColorMap(pg.colormap.get("CET-L17"))
        cp = self.conf_plot.getPlotItem()
        cp.getViewBox().setAspectLocked(False)  # fill the plot; the range is set to the matrix exactly
        cp.showAxis("left")
        cp.showAxis("bottom")
        cp.setLabel("left", "true")
        cp.setLabel("bottom", "predicted")
        self.conf_labels: list[pg.TextItem] = []
        row.addWidget(self.pred_plot, 1)
        row.addWidget(self.conf_plot, 1)
        self.stack.addWidget(page)
        self.images_page = page

    def graphics_views(self) -> list[pg.PlotWidget]:
        return [self.pg_plot, self.curve_plot, self.pred_plot, self.conf_plot]

    # ----- run lifecycle -------------------------------------------------------------------------------
    def show_note(self, text: str) -> None:
        """No picture for this data (yet): say why instead of showing empty axes."""
        self.mode = "none"
        self.note.setText(text)
        self.stack.setCurrentWidget(self.note)
        self.bar.caption.setText("Data view")

    def begin(self, kind: str, x: Any, y: np.ndarray, grid_kind: str | None) -> None:
        """Prepare the page for this dataset: scatter the points once, or lay out the sample grid."""
        self.boundary_frames = 0
        self.confusion_epoch = None
        if grid_kind == "boundary":
            self.mode = "boundary"
            self.stack.setCurrentIndex(0)
            cls = class_ids(y)
            brushes = [pg.mkBrush(PALETTE[c % len(PALETTE)]) for c in range(int(cls.max()) + 1)]
            self.points.setData(pos=np.asarray(x, dtype=np.float64), brush=[brushes[c] for c in cls])
            self.boundary.clear()
            classes = int(cls.max()) + 1
            self.boundary_levels = (0.0, 1.0) if classes <= 2 else (0.0, float(classes - 1))
            if classes > 2:
                colors = [pg.mkColor(PALETTE[i % 10]).lighter(160) for i in range(classes)]
                self.boundary.setColorMap(pg.ColorMap(np.linspace(0, 1, classes), colors))
            else:
                self.boundary.setColorMap(BINARY_MAP)
            self.bar.caption.setText("Decision boundary under the data points")
        elif grid_kind == "curve":
            self.mode = "curve"
            self.stack.setCurrentIndex(1)
            self.curve_points.setData(np.asarray(x)[:, 0], np.asarray(y).reshape(len(y), -1)[:, 0])
            self.curve.setData([], [])
            self.bar.caption.setText("Model output over the data")
        elif kind == "image" or (np.asarray(x).ndim == 4 and not isinstance(x, dict)):
            self.mode = "images"
            self.stack.setCurrentIndex(2)
            self.conf_image.clear()
            for t in self.conf_labels + self.pred_labels:
                set_text(t, "")
            self._confusion_axes(max(2, int(class_ids(y).max()) + 1))
            set_title(self.conf_plot, "confusion matrix (validation)")
            self.bar.caption.setText("Predictions and confusion matrix")
        else:
            self.show_note("No data view for this data: it is neither 2-D points, a 1-D regression nor images.")

    def feed(self, latest: dict[str, Any]) -> None:
        if self.mode in ("boundary", "curve") and "grid" in latest:
            kind, values, extra = latest["grid"]
            if kind == "boundary":
                self.boundary.setImage(values, autoLevels=False, levels=self.boundary_levels)
                self.boundary.setRect(QRectF(*extra))
                self.boundary_frames += 1
            else:
                self.curve.setData(extra, values)
        if self.mode == "images":
            if "outputs" in latest:
                self._feed_predictions(*latest["outputs"])
            if "confusion" in latest:
                self._feed_confusion(*latest["confusion"])

    # ----- images ------------------------------------------------------------------------------------------
    def set_sample_images(self, images: np.ndarray) -> None:
        """The fixed sample batch (``(n, h, w[, c])``) drawn once as a grid; labels follow predictions."""
        imgs = np.asarray(images)[:GRID_SAMPLES]
        if imgs.ndim == 4:
            imgs = imgs.mean(axis=-1)
        self.sample_shape = imgs.shape[1:]
        self.cols = max(1, int(np.ceil(np.sqrt(len(imgs)))))
        h, w = self.sample_shape
        gap = max(2, h // 2)  # room under each tile for its label
        lo, hi = float(imgs.min()), float(imgs.max())
        padded = np.full((len(imgs), h + gap, w + 1), np.nan, dtype=np.float32)
        padded[:, :h, :w] = hi - imgs
        grid = tile(padded, self.cols, gap=0)
        self.pred_image.setImage(grid, autoLevels=False, levels=(0.0, (hi - lo) or 1.0))
        p = self.pred_plot.getPlotItem()
        p.getViewBox().setRange(xRange=(0, grid.shape[1]), yRange=(0, grid.shape[0]), padding=0.02)
        while len(self.pred_labels) < len(imgs):
            t = pg.TextItem("", anchor=(0.5, 0))
            t.setFont(LABEL_FONT)
            p.addItem(t, ignoreBounds=True)
            self.pred_labels.append(t)
        for i, t in enumerate(self.pred_labels):
            r, c = divmod(i, self.cols)
            t.setPos(c * (w + 1) + w / 2, r * (h + gap) + h - 0.2)
            set_text(t, "")

    def _feed_predictions(self, out: np.ndarray, y: np.ndarray) -> None:
        pred, conf = predicted_classes(out)
        truth = class_ids(y)
        for i, t in enumerate(self.pred_labels[:len(pred)]):
            ok = pred[i] == truth[i]
            set_text(t, f"{pred[i]} {conf[i]:.0%}", "#0a7d2c" if ok else "#d62728")

    def _confusion_axes(self, k: int) -> None:
        """Class numbers on both axes of a ``k``-class matrix (shown before the first one arrives)."""
        self._conf_classes = k
        p = self.conf_plot.getPlotItem()
        p.getViewBox().setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        ticks = [[(i + 0.5, str(i)) for i in range(k)]]
        p.getAxis("left").setTicks(ticks)
        p.getAxis("bottom").setTicks(ticks)

    def _feed_confusion(self, epoch: int, matrix: np.ndarray) -> None:
        self.confusion_epoch = epoch
        k = len(matrix)
        self.conf_image.setImage(matrix.astype(np.float32), autoLevels=False, levels=(0.0, float(matrix.max()) or 1.0))
        p = self.conf_plot.getPlotItem()
        if self._conf_classes != k:
            self._confusion_axes(k)
        else:  # (again: a range set while the page was hidden may have been fitted to a zero-size view)
            p.getViewBox().setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        while len(self.conf_labels) < k * k:
            t = pg.TextItem("", anchor=(0.5, 0.5), color="#222")
            t.setFont(LABEL_FONT)
            p.addItem(t, ignoreBounds=True)
            self.conf_labels.append(t)
        hi = matrix.max() or 1
        for i in range(k):
            for j in range(k):
                t = self.conf_labels[i * k + j]
                t.setPos(j + 0.5, i + 0.5)
                set_text(t, str(matrix[i, j]) if matrix[i, j] else "", "#fff" if matrix[i, j] > 0.55 * hi else "#222")
        acc = np.trace(matrix) / max(matrix.sum(), 1)
        set_title(self.conf_plot, f"epoch {epoch + 1} · {acc:.1%} right")
