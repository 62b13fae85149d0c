"""Run real Keras for layergraph, in its own process: ``train`` fits a model, ``proof`` runs the guide's proofs.

This package is the one place that imports Keras at run time.  The engine never imports it: it
writes the model as a ``.keras`` archive (``engine.export.keras_file``) and the data as a ``.npz``,
starts this module in a subprocess with the chosen ``KERAS_BACKEND`` and reads the trained archive
back with its own importer (``engine.keras_training``).
"""
