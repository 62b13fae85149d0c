"""Fixtures for main-window tests: private settings, a private autosave folder and scripted dialogs.

Import the fixtures by name (`from tests.designer.window_helpers import make_window, settings, window`)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings


class FakeDialogs:
    """Answers the window's questions from scripted values and records what was asked."""

    def __init__(self) -> None:
        self.save_answer = "cancel"
        self.save_path_answer: str | None = None
        self.open_path_answer: str | None = None
        self.restore_answer = True
        self.errors: list[tuple[str, str]] = []
        self.asked: list[str] = []

    def ask_save_changes(self, name: str) -> str:
        self.asked.append(name)
        return self.save_answer

    def error(self, title: str, text: str) -> None:
        self.errors.append((title, text))

    def open_path(self, title, name_filter, start=""):
        return self.open_path_answer

    def save_path(self, title, name_filter, suggested=""):
        return self.save_path_answer

    def ask_restore(self, description: str) -> bool:
        self.asked.append(description)
        return self.restore_answer


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, tmp_path, settings):
    from designer.main_window import MainWindow

    made = []

    def make(**kw):
        dialogs = kw.pop("dialogs", None) or FakeDialogs()
        w = MainWindow(settings=kw.pop("settings", settings), autosave_dir=tmp_path / "autosave",
                       dialogs=dialogs, **kw)
        qtbot.addWidget(w)
        if w.settings.value("geometry") is None:
            w.resize(1200, 800)
        made.append(w)
        return w

    yield make
    for w in made:
        try:
            w.doc.undo_stack.setClean()
            w.autosaver.stop()
        except RuntimeError:
            pass


@pytest.fixture
def window(make_window):
    return make_window()
