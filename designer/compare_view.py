"""File > Compare with…: the current document (A) and a chosen model (B) side by side, read-only.

Each side is an ordinary ``GraphScene``/``GraphView`` on a private, locked ``GraphDocument`` that holds
a copy of the model, so the canvas draws exactly as it does in the editor and nothing a gesture tries
reaches either model (every command is refused by the lock).  The comparison itself is
``engine.model_diff``; this module only paints it: a card's border says what happened to the layer
(added, removed, changed arguments, rewired, renamed; see the legend), its tint how much its weights
moved (relative change, on the colour bar's scale), and selecting a layer lists its differences
and selects its pair on the other side.  The window is a snapshot of the document when it was opened.
Its canvases stay in the light theme whatever the window's: the heat map's tints are light so that the
cards' dark text reads on them.
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import (QComboBox, QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QSplitter, QVBoxLayout,
                               QWidget)

from designer.canvas.scene import GraphScene
from designer.canvas.view import GraphView
from designer.document import GraphDocument
from engine.errors import LayergraphError
from engine.fileformat import Document
from engine.layout import layered_positions
from engine.model_diff import LayerPair, ModelDiff, diff_models, load_model

MODEL_FILTER = "Models (*.lgraph *.keras *.json);;All files (*)"
READ_ONLY = "The comparison is read-only: edit the document in the main window."

#: What happened to a layer -> its border colour; the first that applies to a pair is shown.
STATUS_COLORS = {"added": "#2DA44E", "removed": "#CF222E", "changed": "#D97706", "rewired": "#1B7C83",
                 "renamed": "#8250DF"}
STATUS_TEXT = {"added": "added (only in B)", "removed": "removed (only in A)", "changed": "arguments changed",
               "rewired": "inputs rewired", "renamed": "renamed"}
#: Layers in one model only are tinted in their status's hue (off the heat map's scale).
LONE_FILLS = {"added": "#DDF4E3", "removed": "#FBE0E2"}
#: The heat map from no weight change to the largest change in this comparison (light, so text reads).
HEAT_STOPS = ((0.0, "#FFFFFF"), (0.5, "#FFD08A"), (1.0, "#F08A6C"))


def pair_statuses(pair: LayerPair) -> list[str]:
    return [s for s, on in (("changed", pair.changed), ("rewired", pair.rewired), ("renamed", pair.renamed)) if on]


def heat_color(value: float | None, top: float) -> str | None:
    """The tint for a relative weight change on a 0..``top`` scale (None: nothing compared)."""
    if value is None:
        return None
    if math.isinf(value):
        t = 1.0
    elif top <= 0:
        t = 1.0 if value > 0 else 0.0
    else:
        t = min(value / top, 1.0)
    for (t0, c0), (t1, c1) in zip(HEAT_STOPS, HEAT_STOPS[1:]):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            a, b = QColor(c0), QColor(c1)
            return QColor(round(a.red() + f * (b.red() - a.red())), round(a.green() + f * (b.green() - a.green())),
                          round(a.blue() + f * (b.blue() - a.blue()))).name().upper()
    return HEAT_STOPS[-1][1]


def heat_scale(diff: ModelDiff) -> float:
    """The colour bar's top: the largest finite relative change (0 when nothing moved)."""
    values = [p.relative for p in diff.pairs if p.relative is not None and math.isfinite(p.relative)]
    return max(values, default=0.0)


class ColorBar(QWidget):
    """The heat map's scale: a gradient from 0 to ``top`` with its two ends labelled."""

    def __init__(self, top: float, parent=None) -> None:
        super().__init__(parent)
        self.top = top
        self.setMinimumSize(180, 34)
        self.setToolTip("Card tint: relative weight change ||W_B - W_A|| / ||W_A|| of the layer")

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt override)
        p = QPainter(self)
        bar = QRectF(1, 2, self.width() - 2, 14)
        grad = QLinearGradient(bar.topLeft(), bar.topRight())
        for t, color in HEAT_STOPS:
            grad.setColorAt(t, QColor(color))
        p.fillRect(bar, grad)
        p.setPen(self.palette().windowText().color())
        p.drawRect(bar)
        text = QRectF(1, 17, self.width() - 2, self.height() - 17)
        p.drawText(text, Qt.AlignLeft | Qt.AlignTop, "0")
        p.drawText(text, Qt.AlignHCenter | Qt.AlignTop, "weight change")
        p.drawText(text, Qt.AlignRight | Qt.AlignTop, f"{self.top:.3g}" if self.top > 0 else "no change")
        p.end()


def legend(diff: ModelDiff) -> QWidget:
    """Coloured swatches for every status, then the colour bar when weights were compared."""
    box = QWidget()
    box.setObjectName("compare_legend")
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    for status, color in STATUS_COLORS.items():
        label = QLabel(f'<span style="color:{color}; font-size:16px">■</span> {STATUS_TEXT[status]}')
        label.setObjectName(f"legend_{status}")
        label.setProperty("swatch", color)
        row.addWidget(label)
    row.addStretch(1)
    if diff.weights_compared:
        bar = ColorBar(heat_scale(diff))
        bar.setObjectName("compare_colorbar")
        row.addWidget(bar)
    else:
        row.addWidget(QLabel("weights not compared (a model has no saved weights)"))
    return box


class ComparePane(QWidget):
    """One side: a title and a read-only canvas of a copy of the model."""

    def __init__(self, title: str, document: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = GraphDocument(self)
        graph = document.graph.copy()
        if len(graph) > 1 and len({n.position for n in graph.nodes.values()}) == 1:
            for nid, position in layered_positions(graph).items():  # a model with no layout of its own
                graph.move(nid, position)
        self.doc.replace(Document(graph, document.weights, dict(document.training)), None)
        self.doc.locked_reason = READ_ONLY
        self.scene = GraphScene(self.doc, self)
        self.view = GraphView(self.scene, self)
        self.view.setAcceptDrops(False)
        for item in self.scene.node_items():
            item.setFlag(item.GraphicsItemFlag.ItemIsMovable, False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel(title)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)


class CompareDialog(QDialog):
    """A and B side by side (or one above the other) with the differences marked."""

    def __init__(self, a: Document, b: Document, a_label: str, b_label: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {Path(a_label).name} with {Path(b_label).name} — layergraph")
        self.diff = diff_models(a.graph, b.graph, a.weights, b.weights, a_label, b_label)
        self.pane_a = ComparePane(f"A: {a_label}  ({len(a.graph)} layers)", a, self)
        self.pane_b = ComparePane(f"B: {b_label}  ({len(b.graph)} layers)", b, self)
        self._syncing = False
        self.paint_marks()
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(self.pane_a)
        self.splitter.addWidget(self.pane_b)
        self.arrangement = QComboBox()
        self.arrangement.addItems(["Side by side", "A above B"])
        self.arrangement.currentIndexChanged.connect(self._arrange)
        wide = self.pane_a.scene.nodes_bounding_rect().united(self.pane_b.scene.nodes_bounding_rect())
        if wide.width() > wide.height():  # wide graphs (the layout's bands) read better one above the other
            self.arrangement.setCurrentIndex(1)
        self.summary = QLabel(self.summary_text())
        self.summary.setObjectName("compare_summary")
        self.details = QPlainTextEdit(readOnly=True)
        self.details.setObjectName("compare_details")
        self.details.setMaximumHeight(84)
        self.details.setPlaceholderText("Select a layer to list what changed in it.")
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.arrangement)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(legend(self.diff))
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.details)
        for side, pane in (("a", self.pane_a), ("b", self.pane_b)):
            pane.scene.selection_changed_ids.connect(lambda ids, s=side: self._selected(s, ids))
            pane.scene.status_message.connect(self.details.setPlainText)

    # ----- marks ---------------------------------------------------------------------------------------
    def paint_marks(self) -> None:
        top = heat_scale(self.diff)
        for x in self.diff.removed:
            self.pane_a.scene.node_item(x.node_id).set_marks(STATUS_COLORS["removed"], LONE_FILLS["removed"])
            self.pane_a.scene.set_node_badge(x.node_id, "removed")
        for x in self.diff.added:
            self.pane_b.scene.node_item(x.node_id).set_marks(STATUS_COLORS["added"], LONE_FILLS["added"])
            self.pane_b.scene.set_node_badge(x.node_id, "added")
        for p in self.diff.pairs:
            statuses = pair_statuses(p)
            outline = STATUS_COLORS[statuses[0]] if statuses else None
            fill = heat_color(p.relative, top) if self.diff.weights_compared else None
            for pane, nid in ((self.pane_a, p.a_id), (self.pane_b, p.b_id)):
                pane.scene.node_item(nid).set_marks(outline, fill)
                pane.scene.set_node_badge(nid, " · ".join(statuses) or None)

    def summary_text(self) -> str:
        if self.diff.identical:
            return "The models are identical" + (" (weights too)." if self.diff.weights_compared else ".")
        return ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.diff.counts().items())

    def _arrange(self, index: int) -> None:
        self.splitter.setOrientation(Qt.Vertical if index == 1 else Qt.Horizontal)
        QTimer.singleShot(0, self.fit)

    def fit(self) -> None:
        """Fit both graphs, then show both at the smaller zoom so the same layers have the same size."""
        views = [pane.view for pane in (self.pane_a, self.pane_b)]
        for view in views:
            view.fit_to_view()
        zoom = min(view.zoom() for view in views)
        for view in views:
            view.fit_to_view(max_zoom=zoom)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        QTimer.singleShot(0, self.fit)

    # ----- selection -----------------------------------------------------------------------------------
    def _selected(self, side: str, ids: list[str]) -> None:
        if self._syncing or not ids:
            return
        nid = ids[0]
        pair = self.diff.pair_of_a(nid) if side == "a" else self.diff.pair_of_b(nid)
        self.details.setPlainText(self.describe(side, nid, pair))
        if pair is not None:
            other = self.pane_b if side == "a" else self.pane_a
            self._syncing = True
            try:
                other.scene.select_nodes([pair.b_id if side == "a" else pair.a_id])
            finally:
                self._syncing = False

    def describe(self, side: str, nid: str, pair: LayerPair | None) -> str:
        """What changed in one layer, as lines for the details box."""
        if pair is None:
            graph = (self.pane_a if side == "a" else self.pane_b).doc.graph
            node = graph.node(nid)
            return f"{node.name} ({node.class_name}): " + ("only in A (removed)" if side == "a" else
                                                          "only in B (added)")
        name = f"{pair.a_name} -> {pair.b_name}" if pair.renamed else pair.b_name
        lines = [f"{name} ({pair.class_name}), matched by {pair.matched_by}"]
        lines += [f"  {c.name}: {c.old!r} -> {c.new!r}" for c in pair.arguments] or ["  arguments unchanged"]
        if pair.rewired:
            lines.append(f"  inputs: {', '.join(pair.inputs_a) or '-'} -> {', '.join(pair.inputs_b) or '-'}")
        for w in pair.weights:
            change = (f"{w.shape_a} -> {w.shape_b}" if w.shape_changed else
                      f"relative change {w.relative:.4g}")
            lines.append(f"  weight {w.name}: {change}")
        return "\n".join(lines)


def open_compare(window) -> CompareDialog | None:
    """Ask for a model file and show it against the window's document; None when cancelled or unreadable."""
    doc = window.doc
    start = str(doc.path.parent) if doc.path else ""
    path = window.dialogs.open_path("Compare with", MODEL_FILTER, start)
    if not path:
        return None
    try:
        other = load_model(path)
    except (LayergraphError, OSError, ValueError) as exc:
        window.dialogs.error("Cannot compare with this file", str(exc))
        return None
    current = Document(doc.graph, doc.weights, dict(doc.training))
    label = str(doc.path) if doc.path else f"{window.display_name()} (current document)"
    dialog = CompareDialog(current, other, label, str(path), window)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.resize(window.size())
    window.compare_dialog = dialog
    dialog.show()
    return dialog
