"""Code export (``keras_code``, ``numpy_code``) and Keras model import (``keras_import``).

CLI entry points are in ``engine.export.cli`` (``run_export``, ``run_import``, ``write_export``).
"""
