"""The docks at laptop size: the canvas's room between runs, the Inspector after a run (and in the
next session), the Summary's columns, the idle progress bar, the Run settings above the fold."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from designer.dock_layout import INSPECTOR_MIN_HEIGHT, plots_spread
from designer.main_window import EXAMPLES_DIR, MainWindow
from tests.designer.window_helpers import FakeDialogs


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)


def _window(qtbot, tmp_path, settings, size):
    w = MainWindow(settings=settings, autosave_dir=tmp_path / "autosave", dialogs=FakeDialogs())
    qtbot.addWidget(w)
    w.setAnimated(False)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(20)
    return w


def _run(qtbot, w, example: str, epochs: int) -> None:
    w.files.open_example(EXAMPLES_DIR / example, ask=False)
    w.doc.training["epochs"] = epochs
    w.run_panel.apply_settings(w.doc.training)
    w.run_panel.update_state()
    with qtbot.waitSignal(w.run_panel.run_finished, timeout=60000):
        qtbot.mouseClick(w.run_panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)


def test_between_runs_the_canvas_has_the_room_and_the_summary_its_columns(qtbot, tmp_path, settings):
    w = _window(qtbot, tmp_path, settings, (1366, 768))
    assert not plots_spread(w)
    assert w.view.viewport().height() >= 0.6 * w.height()  # was 430 of 768: the plots took the rest
    w.files.open_example(EXAMPLES_DIR / "digits_cnn.lgraph", ask=False)
    w.summary_dock.raise_()
    qtbot.wait(20)
    header = w.summary.table.horizontalHeader()
    columns = sum(header.sectionSizeHint(i) for i in range(header.count()))
    assert w.summary.table.viewport().width() >= columns  # no column cut off
    assert not w.run_panel.progress_bar.isVisible()  # idle and nothing ran: no empty "text field"


def test_speed_and_learning_rate_are_in_view_at_1680(qtbot, tmp_path, settings):
    w = _window(qtbot, tmp_path, settings, (1680, 1050))
    w.files.open_example(EXAMPLES_DIR / "digits_cnn.lgraph", ask=False)
    qtbot.wait(200)  # (the panel checks the data on a short timer)
    panel = w.run_panel
    scroll = w.run_dock.widget()
    shown = scroll.viewport().rect()
    for field in (panel.speed, panel.lr):
        top_left = field.mapTo(scroll.viewport(), QPoint(0, 0))
        assert shown.contains(top_left) and shown.contains(top_left + QPoint(0, field.height() - 1))


def test_a_run_spreads_the_plots_and_gives_the_inspector_back_in_this_and_the_next_session(
        qtbot, tmp_path, settings):
    w = _window(qtbot, tmp_path, settings, (1366, 768))
    before = w.inspector_dock.height()
    _run(qtbot, w, "spirals_mlp.lgraph", 3)
    assert plots_spread(w) and w.curves_dock.height() >= 0.38 * w.height()
    # not squeezed to one row after the run: its room back, as much as the taller plots leave
    assert w.inspector_dock.height() >= max(INSPECTOR_MIN_HEIGHT, 0.85 * before)
    assert w.run_panel.progress_bar.isVisible() and "epoch 3/3" in w.run_panel.progress_bar.format()
    w.close()
    w2 = _window(qtbot, tmp_path, settings, (1366, 768))
    assert w2.inspector_dock.height() >= INSPECTOR_MIN_HEIGHT
    w2.files.open_example(EXAMPLES_DIR / "digits_mlp.lgraph", ask=False)
    assert not plots_spread(w2)  # another document: the canvas takes the room back
