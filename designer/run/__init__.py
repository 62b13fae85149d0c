"""Live training in the designer: the run dock, the plot docks and the training process.

``run_panel.attach_run_panel(window)`` adds the docks to a ``MainWindow`` and wires them to its
document and canvas; ``run_panel`` holds the controls, ``training_thread`` the Qt side of a run,
``worker`` the training process (NumPy and the engine only), ``plots`` / ``node_plots`` /
``data_plots`` the pyqtgraph views and ``snapshots`` their NumPy helpers.

This package imports nothing at import time: the training process imports ``worker`` from it and
must not load Qt.
"""
