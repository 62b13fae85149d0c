"""Start the designer: ``main(argv) -> exit code``.

Opens the graph named in ``argv`` or, with none, the bundled spirals example (an empty graph when
the examples are not installed), then offers back an autosave a crashed session left behind.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

EXAMPLE = "spirals_mlp.lgraph"


def display_problem() -> str | None:
    """Why no window can be shown, or None.  Without a display Qt aborts with a core dump."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        return ("no display found (DISPLAY is not set). Run layergraph on a desktop, or on a virtual screen "
                "with `xvfb-run -a layergraph`; the commands validate, summary, train, predict, export and "
                "import need no display.")
    return None


def create_window(argv: list[str], **window_options):
    """Build the application (if needed) and a window showing ``argv[0]`` or the default example.

    ``window_options`` go to ``MainWindow`` (tests pass their own settings and autosave folder).
    """
    from PySide6.QtWidgets import QApplication

    from designer.main_window import EXAMPLES_DIR, MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "layergraph", *argv[1:]])
    app.setOrganizationName("layergraph")
    app.setApplicationName("layergraph")
    window = MainWindow(**window_options)
    if argv:
        window.files.open_path(argv[0], ask=False)
    elif (EXAMPLES_DIR / EXAMPLE).exists():
        window.files.open_example(EXAMPLES_DIR / EXAMPLE, ask=False)
    return app, window


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print("usage: layergraph [open] [GRAPH.lgraph]")
        return 0
    if argv and not Path(argv[0]).exists():
        print(f"layergraph: {argv[0]}: no such file.", file=sys.stderr)
        return 2
    problem = display_problem()
    if problem:
        print(f"layergraph: {problem}", file=sys.stderr)
        return 1
    app, window = create_window(argv)
    window.show()
    window.autosaver.start()
    window.files.offer_autosave_restore()
    return int(app.exec())
