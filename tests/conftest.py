"""Test-wide settings: Qt renders offscreen, Keras (the oracle) runs on JAX."""
import os
import tempfile

import pytest

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


@pytest.fixture(autouse=True)
def _trust_code_lasts_one_test(monkeypatch):
    """``--trust-code`` trusts custom code for the rest of a process; in-process CLI tests get one test's worth."""
    from engine.custom import trust

    monkeypatch.setitem(trust._process_trust, "all", False)


def pytest_sessionstart(session):
    """The test user has accepted the bundled examples' custom-layer code (as a user does once, in the designer or
    with ``layergraph trust``); tests of untrusted code use definitions of their own or another directory."""
    from pathlib import Path

    from engine.custom.trust import custom_definitions, sign
    from engine.fileformat import load_document

    for path in sorted((Path(__file__).resolve().parent.parent / "resources" / "examples").glob("*.lgraph")):
        for _, definition in custom_definitions(load_document(path, with_weights=False).graph):
            sign(definition)


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
