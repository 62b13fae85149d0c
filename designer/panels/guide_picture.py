"""The Guide dock's picture: the selected layer's computation drawn with QPainter on its real shapes.

One drawing per family the guide teaches with a picture: the Dense weight matrix, a convolution kernel over its
receptive field on the input grid, pooling windows, the LSTM/GRU/SimpleRNN cell with its gates, a merge combining
its inputs, an attention score matrix; every other layer gets its input → layer → output flow.  The numbers come
from the layer's declaration (shapes, config) and, for the matrices, from the proof's seeded weights.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication

from engine.layers import Layer
from engine.shapes import Shape, fmt_shape

CELL = 15.0
MAX_CELLS = 10
PICTURE_HEIGHT = 250
MERGE_SYMBOLS = {"Add": "+", "Subtract": "−", "Multiply": "×", "Average": "mean", "Maximum": "max",
                 "Minimum": "min", "Concatenate": "‖", "Dot": "·"}
WINDOW_COLOURS = ("#f4a261", "#2a9d8f", "#e9c46a", "#8ab17d", "#e76f51", "#6d9dc5")


def picture_kind(class_name: str) -> str:
    """Which drawing explains this layer."""
    if class_name == "Dense":
        return "matrix"
    if "Attention" in class_name:
        return "attention"
    if class_name in ("LSTM", "GRU", "SimpleRNN", "Bidirectional"):
        return "recurrent"
    if class_name in MERGE_SYMBOLS:
        return "merge"
    if class_name.startswith(("Conv", "DepthwiseConv", "SeparableConv")) and "Transpose" not in class_name:
        return "kernel"
    if "Pooling" in class_name:
        return "pooling"
    return "flow"


def spatial_dims(layer: Layer, shape: Shape) -> tuple[int, int] | None:
    """The (rows, columns) drawn for a grid input: height × width, or 1 × steps; depth is left out."""
    cf = layer.config.get("data_format") == "channels_first"
    spatial = [d for d in (shape[2:] if cf else shape[1:-1])]
    if not spatial or any(d is None for d in spatial):
        return None
    return (1, spatial[0]) if len(spatial) == 1 else (spatial[-2], spatial[-1])


def _pair(value, rank: int) -> tuple[int, int]:
    v = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    return (1, v[0]) if len(v) == 1 else (v[-2], v[-1])


def picture_image(layer: Layer, shapes: list[Shape], width: int, palette: QPalette, strict: bool = False) -> QImage:
    """The picture of ``layer`` on ``shapes`` as an image ``width`` pixels wide, in the palette's colours
    (``strict``: a drawing that fails raises instead of saying so in the image)."""
    image = QImage(max(width, 320), PICTURE_HEIGHT, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(palette.base().color())
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont(QApplication.font())
    font.setPointSizeF(max(font.pointSizeF() - 1, 7))
    p.setFont(font)
    painter = PicturePainter(layer, shapes, image.width(), image.height(), palette.text().color())
    try:
        getattr(painter, f"draw_{picture_kind(layer.class_name)}")(p)
    except Exception as exc:  # a drawing must never take the dock down; say what happened instead
        if strict:
            p.end()
            raise
        p.fillRect(image.rect(), palette.base())
        p.setPen(painter.ink)
        p.drawText(image.rect(), Qt.AlignmentFlag.AlignCenter, f"No picture for these shapes: {exc}")
    p.end()
    return image


def receptive_field(layer: Layer, shapes: list[Shape]) -> tuple[set, tuple[int, int], tuple[int, int]]:
    """``(input cells, output cell, (padding rows, padding columns) before)`` of the convolution output cell
    (1, 1) (or (0, 0) on a grid of one): the cells ``o * stride + k * dilation - padding`` its kernel reads."""
    out_dims = spatial_dims(layer, layer.output_shape(shapes))
    rank = len(layer.config["kernel_size"])
    k, s = _pair(layer.config["kernel_size"], rank), _pair(layer.config["strides"], rank)
    dil = _pair(layer.config.get("dilation_rate", 1), rank)
    padding = layer.config.get("padding")
    dims = spatial_dims(layer, shapes[0])

    def before(axis: int) -> int:  # Keras 'same': the odd extra padding goes after
        if padding == "causal":
            return (k[axis] - 1) * dil[axis]
        if padding != "same":
            return 0
        n = dims[axis]
        return max((math.ceil(n / s[axis]) - 1) * s[axis] + (k[axis] - 1) * dil[axis] + 1 - n, 0) // 2

    pr, pc = before(0), before(1)
    o = (min(1, out_dims[0] - 1), min(1, out_dims[1] - 1))
    taps = {(o[0] * s[0] + i * dil[0] - pr, o[1] * s[1] + j * dil[1] - pc) for i in range(k[0]) for j in range(k[1])}
    return taps, o, (pr, pc)


class PicturePainter:
    """The drawings, one method per kind, on a ``w`` × ``h`` canvas."""

    def __init__(self, layer: Layer, shapes: list[Shape], w: int, h: int, ink: QColor) -> None:
        self.layer, self.shapes, self.w, self.h, self.ink = layer, list(shapes), w, h, ink
        self.cell = CELL

    def fit_cells(self, columns: int, room: float) -> float:
        """The cell size that fits ``columns`` grid columns (clipped to MAX_CELLS each) and ``room`` pixels of
        arrows and gaps into the width; at most ``CELL``."""
        self.cell = max(6.0, min(CELL, (self.w - room) / max(columns, 1)))
        return self.cell

    def width(self) -> int:
        return self.w

    def height(self) -> int:
        return self.h

    def caption(self, p: QPainter, text: str) -> None:
        """One or two wrapped lines along the bottom edge."""
        p.setPen(self.ink)
        p.drawText(QRectF(8, self.height() - 36, self.width() - 16, 34),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap, text)

    def grid(self, p: QPainter, x: float, y: float, rows: int, cols: int, fill=None, label: str = "",
             cell: float | None = None) -> QRectF:
        """A rows × cols grid (clipped to MAX_CELLS, '…' for the rest); ``fill(r, c)`` gives a cell colour."""
        cell = cell or self.cell
        shown_r, shown_c = min(rows, MAX_CELLS), min(cols, MAX_CELLS)
        p.setPen(QPen(self.ink, 0.6))
        for r in range(shown_r):
            for c in range(shown_c):
                colour = fill(r, c) if fill else None
                rect = QRectF(x + c * cell, y + r * cell, cell, cell)
                if colour is not None:
                    p.fillRect(rect, colour)
                p.drawRect(rect)
        if cols > shown_c:
            p.drawText(QPointF(x + shown_c * cell + 2, y + cell * 0.8), "…")
        if rows > shown_r:
            p.drawText(QPointF(x, y + shown_r * cell + 11), "⋮")
        if label:
            p.drawText(QPointF(x, y - 5), label)
        return QRectF(x, y, shown_c * cell, shown_r * cell)

    def arrow(self, p: QPainter, a: QPointF, b: QPointF) -> None:
        p.setPen(QPen(self.ink, 1.2))
        p.drawLine(a, b)
        angle = math.atan2(b.y() - a.y(), b.x() - a.x())
        for side in (-0.45, 0.45):
            p.drawLine(b, QPointF(b.x() - 7 * math.cos(angle + side), b.y() - 7 * math.sin(angle + side)))

    def box(self, p: QPainter, rect: QRectF, text: str, colour: str = "#dbe7f3") -> None:
        p.setPen(QPen(self.ink, 1.0))
        p.setBrush(QColor(colour))
        p.drawRoundedRect(rect, 4, 4)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QColor("#1b1b1b"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        p.setPen(self.ink)

    # ----- the drawings --------------------------------------------------------------------------------------
    def draw_matrix(self, p: QPainter) -> None:
        """x (d) · kernel (d × u) + bias (u) = y (u); the kernel coloured by the proof's seeded weights."""
        d, u = self.shapes[0][-1], self.layer.config["units"]
        kernel = np.random.default_rng(0).uniform(-0.5, 0.5, (min(d, MAX_CELLS), min(u, MAX_CELLS)))

        def weight(r, c):
            v = kernel[r, c]
            return QColor(214, 96, 77, int(255 * abs(v) * 2)) if v < 0 else QColor(67, 147, 195, int(255 * v * 2))

        top = 34.0
        x_rect = self.grid(p, 12, top, d, 1, lambda r, c: QColor("#e9c46a"), "x")
        p.drawText(QPointF(x_rect.right() + 8, top + x_rect.height() / 2 + 4), "·")
        k_rect = self.grid(p, x_rect.right() + 24, top, d, u, weight, f"kernel {d} × {u}")
        col = QRectF(k_rect.left() + 2 * CELL, k_rect.top(), CELL, k_rect.height())
        p.setPen(QPen(QColor("#e76f51"), 2.0))
        p.drawRect(col)
        left = k_rect.right() + (46 if u > MAX_CELLS else 36)
        out_y = top
        if self.layer.config.get("use_bias"):
            p.setPen(self.ink)
            p.drawText(QPointF(left - 16, top + CELL * 0.8), "+")
            self.grid(p, left, top, 1, u, lambda r, c: QColor("#cfd8dc"), f"bias ({u})")
            out_y = top + 3 * CELL
        self.arrow(p, QPointF(left + 2 * CELL + CELL / 2, out_y + CELL + 4), QPointF(left + 2 * CELL + CELL / 2,
                                                                                     out_y + 3 * CELL))
        self.grid(p, left, out_y + 4 * CELL, 1, u, lambda r, c: QColor("#e76f51") if c == 2 else None, f"y ({u})")
        act = self.layer.config.get("activation") or "linear"
        self.caption(p, f"y[j] = {act}(Σᵢ x[i]·kernel[i, j] + bias[j]) for x of {d} features: the outlined column "
                        f"j = 2 makes y[2]; kernel colours: the proof's seeded weights (blue > 0, red < 0)")

    def draw_kernel(self, p: QPainter) -> None:
        """The input grid (padding dashed), the receptive field of one output cell, and that output cell."""
        dims = spatial_dims(self.layer, self.shapes[0])
        out_dims = spatial_dims(self.layer, self.layer.output_shape(self.shapes))
        taps, o, (pr, pc) = receptive_field(self.layer, self.shapes)
        padding = self.layer.config.get("padding")
        pad = padding in ("same", "causal")
        rank = len(self.layer.config["kernel_size"])
        k, s = _pair(self.layer.config["kernel_size"], rank), _pair(self.layer.config["strides"], rank)
        field = lambda r, c: QColor("#f4a261") if (r, c) in taps else None  # noqa: E731
        cell = self.fit_cells(2 * MAX_CELLS + 4, 150)  # the same cells whatever the config, so pictures compare
        in_rect = self.grid(p, 20, 36, dims[0], dims[1], field, f"input {dims[0]}×{dims[1]} (one channel)")
        if pad and (pr or pc):  # the zero padding around the input ('causal': before the first step only)
            p.setPen(QPen(self.ink, 0.8, Qt.PenStyle.DashLine))
            after = 0 if padding == "causal" else pc
            p.drawRect(in_rect.adjusted(-pc * cell, -pr * cell, after * cell, pr * cell))
        x_out = in_rect.right() + 100
        self.arrow(p, QPointF(in_rect.right() + 16, in_rect.center().y()), QPointF(x_out - 14, in_rect.center().y()))
        p.drawText(QPointF(in_rect.right() + 18, in_rect.center().y() - 6), f"{k[0]}×{k[1]} kernel")
        self.grid(p, x_out, 36, out_dims[0], out_dims[1], lambda r, c: QColor("#f4a261") if (r, c) == o else None,
                  f"output {out_dims[0]}×{out_dims[1]}")
        self.caption(p, f"output {o} = Σ over the orange taps (× every input channel) of x·kernel + bias; strides "
                        f"{s[0]}×{s[1]}, padding '{self.layer.config.get('padding')}'")

    def draw_pooling(self, p: QPainter) -> None:
        """Every output cell's window on the input grid, in the output cell's colour."""
        dims = spatial_dims(self.layer, self.shapes[0])
        out_dims = spatial_dims(self.layer, self.layer.output_shape(self.shapes)) if not self.layer.class_name \
            .startswith("Global") else (1, 1)
        owner = self._window_owner(dims, out_dims)
        self.fit_cells(2 * MAX_CELLS + 2, 130)
        colour = lambda cell: QColor(WINDOW_COLOURS[(cell[0] * 3 + cell[1]) % len(WINDOW_COLOURS)])  # noqa: E731
        in_rect = self.grid(p, 20, 36, dims[0], dims[1],
                            lambda r, c: colour(owner[(r, c)]) if (r, c) in owner else None,
                            f"input {dims[0]}×{dims[1]} (one channel)")
        x_out = in_rect.right() + 80
        self.arrow(p, QPointF(in_rect.right() + 16, in_rect.center().y()), QPointF(x_out - 14, in_rect.center().y()))
        op = "max" if "Max" in self.layer.class_name else "mean"
        p.drawText(QPointF(in_rect.right() + 22, in_rect.center().y() - 6), op)
        self.grid(p, x_out, 36, out_dims[0], out_dims[1], lambda r, c: colour((r, c)), f"output {out_dims[0]}×"
                                                                                       f"{out_dims[1]}")
        self.caption(p, f"each output cell is the {op} of the input cells of its colour (a cell in two windows "
                        "shows the later one)")

    def _window_owner(self, dims, out_dims) -> dict[tuple[int, int], tuple[int, int]]:
        """Input cell -> the last output cell whose window covers it (windows clipped to the input)."""
        name, cfg = self.layer.class_name, self.layer.config
        owner = {}
        for orow in range(min(out_dims[0], MAX_CELLS)):
            for ocol in range(min(out_dims[1], MAX_CELLS)):
                if name.startswith("Global"):
                    rows, cols = range(dims[0]), range(dims[1])
                elif name.startswith("Adaptive"):
                    rows = range(orow * dims[0] // out_dims[0], -(-(orow + 1) * dims[0] // out_dims[0]))
                    cols = range(ocol * dims[1] // out_dims[1], -(-(ocol + 1) * dims[1] // out_dims[1]))
                else:
                    rank = len(cfg["pool_size"])
                    k = _pair(cfg["pool_size"], rank)
                    s = _pair(cfg["strides"] or cfg["pool_size"], rank)
                    rows, cols = range(orow * s[0], orow * s[0] + k[0]), range(ocol * s[1], ocol * s[1] + k[1])
                owner.update({(r, c): (orow, ocol) for r in rows for c in cols if r < dims[0] and c < dims[1]})
        return owner

    def draw_recurrent(self, p: QPainter) -> None:
        """One step of the cell: x_t and h_(t-1) into the gates, the gates into the new state."""
        name = self.layer.class_name
        inner = self.layer.forward_layer.class_name if name == "Bidirectional" else name
        gates = {"LSTM": [("f", "σ forget"), ("i", "σ input"), ("g", "tanh cand."), ("o", "σ output")],
                 "GRU": [("z", "σ update"), ("r", "σ reset"), ("h̃", "tanh cand.")],
                 "SimpleRNN": [("h", "tanh")]}[inner]
        units = (self.layer.forward_layer if name == "Bidirectional" else self.layer).config["units"]
        d = self.shapes[0][-1]
        source = QRectF(12, 160, 110, 30)
        self.box(p, source, "x_t ‖ h_(t−1)", "#e9c46a")
        width = min(110.0, max(56.0, (self.width() - 160) / len(gates) - 12))
        bus_in, bus_out = source.center().y(), 40.0
        rects = [QRectF(150 + i * (width + 12), 90, width, 30) for i in range(len(gates))]
        state = QRectF(12, 18, 110, 44)
        p.setPen(QPen(self.ink, 1.2))
        p.drawLine(QPointF(source.right(), bus_in), QPointF(rects[-1].center().x(), bus_in))
        p.drawLine(QPointF(rects[-1].center().x(), bus_out), QPointF(state.right() + 8, bus_out))
        for rect, (_, label) in zip(rects, gates):
            self.arrow(p, QPointF(rect.center().x(), bus_in), QPointF(rect.center().x(), rect.bottom() + 1))
            p.setPen(QPen(self.ink, 1.2))
            p.drawLine(QPointF(rect.center().x(), rect.top()), QPointF(rect.center().x(), bus_out))
            self.box(p, rect, label, "#a8dadc")
        self.arrow(p, QPointF(state.right() + 8, bus_out), QPointF(state.right(), bus_out))
        rule = {"LSTM": "c = f·c + i·g\nh = o·tanh(c)", "GRU": "h = z·h + (1−z)·h̃",
                "SimpleRNN": "h = tanh(x W + h U + b)"}
        self.box(p, state, rule[inner], "#f4a261")
        self.arrow(p, QPointF(state.center().x(), state.bottom()), QPointF(state.center().x(), source.top()))
        p.drawText(QPointF(state.center().x() + 6, (state.bottom() + source.top()) / 2), "h_t: next step")
        mult = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[inner]
        side = "; ×2 for the two directions" if name == "Bidirectional" else ""
        self.caption(p, f"one step: {len(gates)} gate(s) of {units} units read x_t ({d} features) and h_(t−1): "
                        f"kernel {d} × {mult}·{units}, recurrent kernel {units} × {mult}·{units}{side}; the same "
                        "weights at every step")

    def draw_merge(self, p: QPainter) -> None:
        """Each input as a row of cells, the operator, and the output row."""
        name = self.layer.class_name
        n = len(self.shapes)
        top = 30.0
        for i, shape in enumerate(self.shapes):
            cols = shape[-1] or 1
            self.grid(p, 20, top + i * 34, 1, cols, lambda r, c, i=i: QColor(WINDOW_COLOURS[i % 6]),
                      f"input {i} {fmt_shape(shape)}")
        mid = top + (n - 1) * 17 + 7
        x_op = 20 + min(max(s[-1] or 1 for s in self.shapes), MAX_CELLS) * CELL + 30
        self.box(p, QRectF(x_op, mid - 4, 44, 22), MERGE_SYMBOLS[name], "#ffffff")
        out = self.layer.output_shape(self.shapes)
        out_cols = out[-1] or 1
        if name == "Concatenate":
            edges = np.cumsum([s[self.layer.config["axis"]] or 1 for s in self.shapes])
            fill = lambda r, c: QColor(WINDOW_COLOURS[int(np.searchsorted(edges, c, side="right")) % 6])  # noqa
        else:
            fill = lambda r, c: QColor("#cfd8dc")  # noqa: E731
        self.arrow(p, QPointF(x_op + 48, mid + 7), QPointF(x_op + 80, mid + 7))
        self.grid(p, x_op + 90, mid, 1, out_cols, fill, f"output {fmt_shape(out)}")
        rule = "side by side along the axis" if name == "Concatenate" else \
            "one number per sample from the summed products" if name == "Dot" else "element by element"
        self.caption(p, f"{name}: the inputs are combined {rule}")

    def draw_attention(self, p: QPainter) -> None:
        """The score matrix softmax(q·kᵀ/√d): one row per query, one column per key, seeded values."""
        tq = self.shapes[0][1] or 4
        tk = (self.shapes[1] if len(self.shapes) > 1 else self.shapes[0])[1] or 4
        rng = np.random.default_rng(0)
        scores = rng.normal(size=(min(tq, MAX_CELLS), min(tk, MAX_CELLS)))
        weights = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
        self.grid(p, 60, 36, tq, tk, lambda r, c: QColor(42, 157, 143, int(40 + 215 * weights[r, c])),
                  f"scores: {tq} queries × {tk} keys", cell=CELL + 3)
        self.caption(p, "row i: how much query i attends to each key (each row sums to 1); output = scores · values")

    def draw_flow(self, p: QPainter) -> None:
        """input shape(s) → the layer → output shape."""
        out = self.layer.output_shape(self.shapes)
        y = 40.0
        for i, shape in enumerate(self.shapes):
            self.box(p, QRectF(12, y + i * 36, 150, 28), fmt_shape(shape), "#e9c46a")
        layer_rect = QRectF(200, y, 170, 28 + 36 * (len(self.shapes) - 1))
        for i in range(len(self.shapes)):
            self.arrow(p, QPointF(162, y + 14 + i * 36), QPointF(layer_rect.left() - 2, y + 14 + i * 36))
        self.box(p, layer_rect, self.layer.class_name, "#a8dadc")
        self.arrow(p, QPointF(layer_rect.right(), layer_rect.center().y()),
                   QPointF(layer_rect.right() + 36, layer_rect.center().y()))
        self.box(p, QRectF(layer_rect.right() + 40, layer_rect.center().y() - 14, 150, 28), fmt_shape(out), "#f4a261")
        params = self.layer.param_count(self.shapes)
        self.caption(p, f"{params:,} parameters; the text below says what happens inside")
