"""The exported training script past one machine: ``--distribute data`` / ``model`` on 8 simulated devices.

One subprocess (JAX with ``--xla_force_host_platform_device_count=8``) trains the digits MLP on 203
samples (no batch size divides them) three ways: data parallel over 1 device, over 8, and model
parallel (batch x4, model x2).  All three see the same padded batches, so their losses agree.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from pathlib import Path

import numpy as np
import pytest

from engine.datasets import load_dataset
from engine.export.keras_code import keras_code
from engine.fileformat import load_document

pytest.importorskip("keras")
ROOT = Path(__file__).resolve().parents[3]

SCRIPT = r'''
import importlib.util, json, sys
import keras
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
runs = {}
for name, extra in (("one", ["data", "--devices", "1"]), ("data", ["data"]), ("model", ["model"])):
    model = mod.main(["--data", sys.argv[2], "--epochs", "3", "--batch-size", "8", "--distribute", *extra])
    runs[name] = model.history.history
    if name == "model":
        runs["kernel_spec"] = str(model.get_layer("dense").kernel.value.sharding.spec)
for bad in (["--shard", "digit:1"], ["--batch-size", "7"], ["--shard", "nothing:0"]):
    try:
        mod.main(["--distribute", "model", "--model-devices", "4", *bad])
        runs[bad[-1]] = "accepted"
    except SystemExit as exc:
        runs[bad[-1]] = str(exc)
print("RESULT " + json.dumps(runs))
'''


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distributed")
    doc = load_document(ROOT / "resources" / "examples" / "digits_mlp.lgraph", with_weights=False)
    (tmp / "train.py").write_text(keras_code(doc.graph, training=dict(doc.training, validation_split=0.2)))
    x, y = load_dataset("digits")
    np.savez(tmp / "data.npz", x=x[:203], y=y[:203])
    env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=8",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp / "train.py"), str(tmp / "data.npz")], env=env,
                          capture_output=True, text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stderr[-3000:]
    return json.loads(line[len("RESULT "):])


def test_any_dataset_size_trains_on_eight_devices_with_the_losses_of_one(runs):
    one = runs["one"]
    assert len(one["loss"]) == 3 and one["loss"][2] < one["loss"][0]
    for name in ("data", "model"):
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            np.testing.assert_allclose(runs[name][key], one[key], rtol=1e-4, atol=1e-6, err_msg=f"{name} {key}")


def test_padding_samples_do_not_count(runs):
    # 203 samples: 162 train, 41 validation; accuracy is a whole number of the 41 real samples, not of 48
    for acc in runs["one"]["val_accuracy"]:
        assert abs(acc * 41 - round(acc * 41)) < 1e-4


def test_model_parallel_splits_the_kernels_that_divide_and_refuses_a_layout_that_does_not(runs):
    assert "model" in runs["kernel_spec"]  # dense's 64 units over the 2 model devices
    assert "'digit'" in runs["digit:1"] and "does not divide over 4 model devices" in runs["digit:1"]  # 10 units
    assert "multiple of the 2 devices" in runs["7"]  # 8 devices / 4 model devices: batches split in 2
    assert "no layer 'nothing'" in runs["nothing:0"]
