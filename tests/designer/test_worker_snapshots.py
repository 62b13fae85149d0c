"""The training process's pictures for every layer of every bundled example (no Qt needed).

A run trains with ``LiveCallback`` while, in turn, each node is the selected one; every snapshot
must arrive, and every picture must be a finite 2-D image or histogram.
"""
from __future__ import annotations

import numpy as np
import pytest

from designer.main_window import EXAMPLES_DIR as EXAMPLES
from designer.run.messages import Snapshot
from designer.run.worker import LiveCallback, RunConfig, RunData, SnapshotSink
from engine.datasets import DATASETS, load_dataset
from engine.executor import CompiledGraph
from engine.fileformat import load_document
from engine.training import RunControl, fit

EXAMPLES_WITH_DATA = ["spirals_mlp", "digits_mlp", "digits_cnn", "lstm_sequence", "residual_block"]


class Recorder:
    def __init__(self) -> None:
        self.messages: list[tuple] = []

    def send(self, message: tuple) -> None:
        self.messages.append(message)


class SelectEachNode(LiveCallback):
    """Selects the next node before every batch's snapshot, forcing one per batch."""

    def __init__(self, sink, data, order):
        super().__init__(sink, data)
        self.order = order

    def on_batch_end(self, step, logs):
        self.sink.selected = self.order[step % len(self.order)]
        self._next_snap = 0.0
        super().on_batch_end(step, logs)


def _picture(img: np.ndarray) -> bool:
    """A 2-D image with values, finite apart from the NaN gaps between tiles."""
    values = img[~np.isnan(img)]
    return img.ndim == 2 and values.size > 0 and bool(np.all(np.isfinite(values)))


@pytest.mark.parametrize("name", [*EXAMPLES_WITH_DATA, "two_input_concat"])
def test_every_layer_of_every_example_is_pictured(name):
    doc = load_document(EXAMPLES / f"{name}.lgraph", with_weights=False)
    plan = CompiledGraph(doc.graph)
    if name == "two_input_concat":  # its data is the user's own file: two named inputs
        rng = np.random.default_rng(0)
        x = {plan.names[i]: rng.normal(size=(400, *plan.shapes[i][1:])).astype(np.float32) for i in plan.input_ids}
        y, dataset, kind = rng.integers(0, 10, 400), "data.npz", "file"
    else:
        dataset = doc.training["dataset"]
        x, y = load_dataset(dataset, seed=0)
        x, y, kind = x[:400], y[:400], DATASETS[dataset].kind
    config = RunConfig(dataset=dataset, batch_size=8, epochs=1, validation_split=0.2)
    sink = SnapshotSink(Recorder(), RunControl(), None)
    cb = SelectEachNode(sink, RunData(plan, x, y, kind, config), plan.order)
    fit(plan, x, y, epochs=1, batch_size=8, validation_split=0.2, seed=0, callbacks=[cb])
    snapshots = [m.latest for m in sink.channel.messages if isinstance(m, Snapshot)]
    pictured = {s["node"]["id"]: s["node"] for s in snapshots if "node" in s}
    assert set(pictured) == set(plan.order)  # every node, inputs included
    for nid, node in pictured.items():
        assert _picture(node["act_image"]), nid
        edges, counts = node["act_hist"]
        assert len(edges) == len(counts) + 1 and counts.sum() > 0
        if plan.layers[nid].weight_specs(plan.in_shapes[nid]):
            assert _picture(node["weight_image"]), nid
    assert any("confusion" in s for s in snapshots)  # every example is a classifier
