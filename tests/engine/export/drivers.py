"""Scripts run in subprocesses: load many exported modules in one process and record their predictions.

Each driver reads a JSON manifest ``[{"module": path, "x": npz, "out": npz}, ...]``.  Batching all
modules into one process keeps the suite fast (one Keras start-up instead of one per model).
"""

COMMON = r'''
import importlib.util
import json
import sys

import numpy as np


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def inputs(path):
    with np.load(path, allow_pickle=False) as d:
        xs = {k: d[k] for k in d.files}
    return xs["x"] if set(xs) == {"x"} else xs


def save(path, y, **extra):
    ys = y if isinstance(y, (list, tuple)) else [y]
    np.savez(path, *[np.asarray(v) for v in ys], **extra)
'''

KERAS_DRIVER = COMMON + r'''
import keras  # noqa: E402

for i, job in enumerate(json.load(open(sys.argv[1]))):
    mod = load(job["module"], f"exported_keras_{i}")
    model = mod.build_model()
    y = model.predict(inputs(job["x"]), verbose=0)
    save(job["out"], y, params=np.array(model.count_params()))
    if job.get("train"):
        mod.main(["--data", job["train"], "--epochs", "1", "--batch-size", "4"])
        mod.main(["--data", job["train"], "--epochs", "1", "--batch-size", "4", "--distribute"])
        print("DEVICES", len(keras.distribution.list_devices()))
print("KERAS DRIVER DONE")
'''

NUMPY_DRIVER = COMMON + r'''
for i, job in enumerate(json.load(open(sys.argv[1]))):
    mod = load(job["module"], f"exported_numpy_{i}")
    save(job["out"], mod.predict(inputs(job["x"])))
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "jax", "engine", "designer", "tests", "h5py"))
print("FORBIDDEN", json.dumps(bad))
print("NUMPY DRIVER DONE")
'''
