"""The training settings a document stores (its ``"training"`` object): one spelling of each key.

``layergraph train`` writes them and the designer's Run panel reads and writes them; both go
through here, and every document is read through ``read_training_settings`` (in
``fileformat.document_from_json``), so no reader needs to know an older spelling.  ``layergraph
train`` once stored the dataset as ``"data"``; such files still open on the right dataset.
"""
from __future__ import annotations

from typing import Any

#: The key of the dataset: a built-in dataset name or the path of a ``.npz`` / ``.csv`` file.
DATASET = "dataset"
#: Older spellings, read as the current key.
RENAMED_KEYS = {"data": DATASET}


def read_training_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with older key spellings renamed; where both spellings are present the current one wins."""
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        current = RENAMED_KEYS.get(key, key)
        if current != key and current in raw:
            continue
        settings[current] = value
    return settings
