"""Test-wide settings: Qt renders offscreen, Keras (the oracle) runs on JAX."""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Custom-layer trust (engine/custom/trust.py) and other per-user files go to a directory of this session, never
# to the user's own configuration; subprocesses (CLI tests) inherit it.
os.environ["LAYERGRAPH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="layergraph-test-config-")

# Before any test imports PySide6 (directly or through pyqtgraph): see designer/qt_compat.py.
from designer.qt_compat import make_singletons_immortal  # noqa: E402

make_singletons_immortal()


def pytest_sessionfinish(session, exitstatus):
    """Empty the clipboard while Qt still runs: the offscreen platform otherwise frees the copied layers'
    QMimeData after Python has shut down, and the process dies at exit (seen as exit 139 after all tests)."""
    import sys

    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        app.clipboard().clear()
        app.processEvents()
