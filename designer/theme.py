"""Light and dark themes: one colour table per theme, turned into a QPalette, a small stylesheet,
canvas colours and pyqtgraph colours, so every view draws from the same source.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Colors:
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    button: str
    highlight: str
    highlight_text: str
    border: str
    error: str
    warning: str
    ok: str
    canvas: str
    grid: str
    plot_bg: str
    plot_fg: str


LIGHT = Colors(window="#eef0f3", base="#ffffff", alt_base="#f5f6f8", text="#1d2330", muted="#5d6675",
               button="#e4e7ec", highlight="#2f6fde", highlight_text="#ffffff", border="#c5cad3",
               error="#c62828", warning="#b26a00", ok="#2e7d32", canvas="#f7f8fa", grid="#e3e6eb",
               plot_bg="#ffffff", plot_fg="#1d2330")
DARK = Colors(window="#23262d", base="#1a1c21", alt_base="#262a31", text="#e3e6ec", muted="#98a0ad",
              button="#2f333b", highlight="#4c8dff", highlight_text="#ffffff", border="#3b4049",
              error="#ff6b6b", warning="#ffb74d", ok="#66bb6a", canvas="#1e2026", grid="#2a2d34",
              plot_bg="#1a1c21", plot_fg="#e3e6ec")


def colors(dark: bool) -> Colors:
    return DARK if dark else LIGHT


def make_palette(dark: bool) -> QPalette:
    c = colors(dark)
    pal = QPalette()
    role = QPalette.ColorRole
    table = {
        role.Window: c.window, role.WindowText: c.text, role.Base: c.base, role.AlternateBase: c.alt_base,
        role.Text: c.text, role.Button: c.button, role.ButtonText: c.text, role.Highlight: c.highlight,
        role.HighlightedText: c.highlight_text, role.ToolTipBase: c.base, role.ToolTipText: c.text,
        role.PlaceholderText: c.muted, role.Link: c.highlight, role.BrightText: c.error,
        role.Light: c.alt_base, role.Midlight: c.button, role.Mid: c.border, role.Dark: c.border,
        role.Shadow: "#000000",
    }
    for r, value in table.items():
        pal.setColor(r, QColor(value))
    disabled = QColor(c.muted)
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, r, disabled)
    return pal


def stylesheet(dark: bool) -> str:
    c = colors(dark)
    return f"""
QToolTip {{ color: {c.text}; background: {c.base}; border: 1px solid {c.border}; padding: 4px; }}
QDockWidget::title {{ background: {c.button}; padding: 4px 6px; }}
QLabel[role="error"] {{ color: {c.error}; }}
QLabel[role="muted"] {{ color: {c.muted}; }}
QLabel[role="heading"] {{ font-weight: 600; font-size: 11pt; }}
QLineEdit[invalid="true"], QSpinBox[invalid="true"], QDoubleSpinBox[invalid="true"] {{
    border: 1px solid {c.error}; }}
QStatusBar QLabel[state="ok"] {{ color: {c.ok}; }}
QStatusBar QLabel[state="bad"] {{ color: {c.error}; }}
QPlainTextEdit#codeView {{ font-family: "DejaVu Sans Mono", "Menlo", "Consolas", monospace; }}
"""


def apply_theme(app: QApplication, dark: bool) -> None:
    """Switch the whole application to the light or dark theme (Fusion style so palettes are honoured)."""
    app.setStyle("Fusion")
    app.setPalette(make_palette(dark))
    app.setStyleSheet(stylesheet(dark))
    app.setProperty("layergraph_dark", dark)


def is_dark(app: QApplication | None = None) -> bool:
    app = app or QApplication.instance()
    return bool(app and app.property("layergraph_dark"))


def syntax_colors(dark: bool) -> dict[str, str]:
    """Colours for the Python highlighter in the code dock."""
    if dark:
        return {"keyword": "#c792ea", "builtin": "#82aaff", "string": "#c3e88d", "comment": "#7f8794",
                "number": "#f78c6c", "decorator": "#ffcb6b", "def": "#82aaff"}
    return {"keyword": "#7b30d0", "builtin": "#1f5fbf", "string": "#2e7d32", "comment": "#7a828e",
            "number": "#b5530b", "decorator": "#9c6500", "def": "#1f5fbf"}


def plot_colors(dark: bool) -> dict[str, str]:
    """Background/foreground and series colours for pyqtgraph plots (the run panel)."""
    c = colors(dark)
    return {"background": c.plot_bg, "foreground": c.plot_fg, "train": c.highlight, "val": c.warning,
            "grid": c.grid}
