# ruff: noqa: F811  (pytest fixtures imported from window_helpers)
"""File > Compare with…: opened through the real menu with a scripted file dialog; the colours of
specific cards, the legend and colour bar, the details of a clicked layer, and that nothing edits."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel

from designer.compare_view import ColorBar, CompareDialog
from engine.executor import compile_graph
from engine.fileformat import load_document, save_document
from tests.designer.window_helpers import make_window, settings, window  # noqa: F401

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
GREEN, RED, ORANGE, TEAL, PURPLE = "#2DA44E", "#CF222E", "#D97706", "#1B7C83", "#8250DF"


def model_pair(folder: Path) -> tuple[Path, Path, dict[str, str]]:
    """digits_mlp (A) and B: 'dense' renamed 'hidden' with its kernel retrained (x1.25), the dropout
    rate 0.2 -> 0.4 and a Dense 'extra' inserted before 'digit' (whose kernel changes shape)."""
    a = load_document(EXAMPLES / "digits_mlp.lgraph").graph
    wa = compile_graph(a, seed=0)[1].snapshot()
    b = a.copy()
    ids = {n.name: nid for nid, n in b.nodes.items()}
    b.rename(ids["dense"], "hidden")
    b.set_config_value(ids["dropout"], "rate", 0.4)
    b.disconnect(b.in_edges(ids["digit"])[0])
    extra = b.add_node("Dense", {"units": 16}, name="extra", position=(1300.0, 200.0))
    b.connect(ids["dropout"], extra)
    b.connect(extra, ids["digit"])
    wb = compile_graph(b, seed=0)[1].snapshot()
    wb[ids["dense"]] = {"kernel": wa[ids["dense"]]["kernel"] * 1.25, "bias": wa[ids["dense"]]["bias"]}
    save_document(folder / "a.lgraph", a, wa)
    save_document(folder / "b.lgraph", b, wb)
    return folder / "a.lgraph", folder / "b.lgraph", {**ids, "extra": extra}


def open_through_menu(w, path: Path) -> CompareDialog:
    w.dialogs.open_path_answer = str(path)
    file_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&File")
    compare = next(a for a in file_menu.actions() if a.text() == "Co&mpare with…")
    compare.trigger()
    return w.compare_dialog


def marks(dialog: CompareDialog, side: str, nid: str) -> tuple[str | None, str | None]:
    item = (dialog.pane_a if side == "a" else dialog.pane_b).scene.node_item(nid)
    return item.outline, item.fill


def test_compare_through_the_menu(window, tmp_path, qtbot):
    """One window (building one costs seconds): a bad file first, then the real comparison."""
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    assert open_through_menu(window, bad) is None
    assert len(window.dialogs.errors) == 1 and "broken.keras" in window.dialogs.errors[0][1]

    pa, pb, ids = model_pair(tmp_path)
    window.files.open_path(pa, ask=False)
    before = window.doc.graph.to_dict()
    dialog = open_through_menu(window, pb)
    assert isinstance(dialog, CompareDialog)
    qtbot.waitExposed(dialog)
    check_marks_and_legend(dialog, ids)
    check_clicking_a_layer_lists_its_changes_and_selects_its_pair(dialog, ids, qtbot)
    check_nothing_edits(dialog, ids, pb, qtbot)
    assert window.doc.graph.to_dict() == before and not window.is_modified()


def check_marks_and_legend(dialog: CompareDialog, ids: dict[str, str]) -> None:
    assert marks(dialog, "b", ids["extra"]) == (GREEN, "#DDF4E3")
    assert marks(dialog, "a", ids["dropout"])[0] == ORANGE == marks(dialog, "b", ids["dropout"])[0]
    assert marks(dialog, "b", ids["digit"])[0] == TEAL
    # 'dense' -> 'hidden': renamed, and its kernel moved most (0.25): the top of the heat map
    assert marks(dialog, "a", ids["dense"]) == (PURPLE, "#F08A6C") == marks(dialog, "b", ids["dense"])
    assert marks(dialog, "b", ids["image"]) == (None, None)  # unchanged and without weights
    assert marks(dialog, "b", ids["flatten"]) == (None, None)
    assert dialog.pane_b.scene.node_item(ids["dropout"]).badge == "changed"
    swatches = {s: dialog.findChild(QLabel, f"legend_{s}").property("swatch")
                for s in ("added", "removed", "changed", "rewired", "renamed")}
    assert swatches == {"added": GREEN, "removed": RED, "changed": ORANGE, "rewired": TEAL, "renamed": PURPLE}
    assert abs(dialog.findChild(ColorBar, "compare_colorbar").top - 0.25) < 1e-6
    assert dialog.summary.text() == "1 added, 0 removed, 1 renamed, 1 changed, 1 rewired, 2 weights changed"


def click(qtbot, view, item) -> None:
    view.centerOn(item)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.mapFromScene(item.sceneBoundingRect().center()))


def check_clicking_a_layer_lists_its_changes_and_selects_its_pair(dialog, ids, qtbot) -> None:
    click(qtbot, dialog.pane_a.view, dialog.pane_a.scene.node_item(ids["dropout"]))
    assert dialog.details.toPlainText().splitlines()[:2] == ["dropout (Dropout), matched by name",
                                                             "  rate: 0.2 -> 0.4"]
    assert dialog.pane_b.scene.selected_node_ids() == [ids["dropout"]]


def check_nothing_edits(dialog, ids, pb: Path, qtbot) -> None:
    pane = dialog.pane_b
    click(qtbot, pane.view, pane.scene.node_item(ids["extra"]))
    qtbot.keyClick(pane.view, Qt.Key_Delete)
    assert ids["extra"] in pane.doc.graph and len(pane.doc.graph) == 6
    assert "read-only" in dialog.details.toPlainText()
    item = pane.scene.node_item(ids["image"])
    start = item.pos()
    pane.view.centerOn(item)
    p0 = pane.view.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mousePress(pane.view.viewport(), Qt.LeftButton, pos=p0)
    for k in range(1, 5):
        qtbot.mouseMove(pane.view.viewport(), p0 + QPoint(20 * k, 15 * k))
    assert item.pos() == start  # not even while dragging (the lock alone would only undo it on release)
    qtbot.mouseRelease(pane.view.viewport(), Qt.LeftButton, pos=p0 + QPoint(80, 60))
    assert item.pos() == start
    assert load_document(pb).graph.to_dict() == pane.doc.graph.to_dict()
