"""Every large allocation is estimated from declared shapes and refused over the memory limit, before it
is made (issue 9, item 1).  Hostile files run the real CLI in a child whose peak memory is measured with
``os.wait4``."""
import io
import json
import os
import subprocess
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.datasets import load_dataset
from engine.errors import FileFormatError, TrainingError
from engine.initializers import INITIALIZERS
from engine.memory import LIMIT_ENV, MemoryLimitError, memory_limit, parse_size
from engine import memory

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
CHILD_PEAK_MB = 200  # the interpreter, NumPy and h5py take ~65 MB; every refusal must stay near that


# A forked child's ru_maxrss counts its parent's pages from before exec, so the CLI is started by a fresh,
# small launcher interpreter, which measures it with os.wait4 and prints the peak last on stdout.
LAUNCHER = """
import os, resource, subprocess, sys
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # the code before the fix fails, not swaps
proc = subprocess.Popen(sys.argv[1:], preexec_fn=cap)
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
print("PEAK_KB", usage.ru_maxrss, flush=True)
sys.exit(proc.returncode)
"""


def run_cli(*args: str, limit: str = "64MB") -> tuple[int, str, float]:
    """``layergraph ARGS`` in a child: exit code, stderr and peak resident memory in MB."""
    env = {**os.environ, LIMIT_ENV: limit, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        rc = subprocess.run([sys.executable, "-c", LAUNCHER, *cli], stdout=out, stderr=err, env=env,
                            cwd=ROOT).returncode
        out.seek(0)
        err.seek(0)
        peak_kb = int(out.read().decode().strip().splitlines()[-1].split()[1])
        return rc, err.read().decode("utf-8", "replace"), peak_kb / 1024


def assert_refused(result, code: int, *words: str) -> None:
    rc, err, peak = result
    lines = err.strip().splitlines()
    assert rc == code and len(lines) == 1 and lines[0].startswith("layergraph: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], err
    assert peak < CHILD_PEAK_MB, f"peak {peak:.0f} MB"


def keras_config(n: int) -> dict:
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, n], "dtype": "float32", "name": "input_layer"}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "units": n, "use_bias": False}}]}}


# ----- the limit --------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [("1GB", 1 << 30), ("512MB", 512 * MB), ("1.5G", 3 << 29),
                                            ("1048576", 1 << 20), (" 2 kb ", 2048), ("3GiB", 3 << 30)])
def test_sizes_are_read_in_bytes_or_units(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["abc", "-1GB", "0", "1PB", "1e9", "GB"])
def test_nonsense_sizes_are_refused(text):
    with pytest.raises(ValueError, match=LIMIT_ENV):
        parse_size(text)


def test_the_limit_comes_from_the_environment_else_half_the_available_memory(monkeypatch):
    monkeypatch.setenv(LIMIT_ENV, "300MB")
    assert memory_limit()[0] == 300 * MB
    monkeypatch.setenv(LIMIT_ENV, "lots")
    with pytest.raises(MemoryLimitError, match=LIMIT_ENV):
        memory_limit()
    monkeypatch.delenv(LIMIT_ENV)
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 8000 * MB)
    assert memory_limit()[0] == 4000 * MB
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: None)
    assert memory_limit()[0] == memory.FALLBACK_LIMIT


def test_a_refusal_is_one_line_with_the_estimate_the_limit_and_the_fix(monkeypatch):
    monkeypatch.setenv(LIMIT_ENV, "1MB")
    with pytest.raises(FileFormatError) as exc:
        memory.check_allocation(3 * 1024 ** 3, "x.npz: the data", FileFormatError)
    msg = str(exc.value)
    assert "\n" not in msg and "3.0 GB" in msg and "1.0 MB" in msg and f"{LIMIT_ENV}=" in msg


# ----- Keras archives ---------------------------------------------------------------------------------
def test_a_1kb_keras_file_declaring_a_huge_unwritten_dataset_is_refused_before_reading(tmp_path):
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("layers/dense/vars/0", shape=(60000, 60000), dtype="float32")  # never written
    path = tmp_path / "lazy.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(keras_config(60000)))
        zf.writestr("model.weights.h5", buf.getvalue())
    assert path.stat().st_size < 2048
    result = run_cli("import", str(path), "-o", str(tmp_path / "out.lgraph"))
    assert_refused(result, 2, "memory limit", "GB", LIMIT_ENV)
    assert not (tmp_path / "out.lgraph").exists()


def _zeros_member(path: Path, megabytes: int, head: bytes = b"") -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(keras_config(4)))
        with zf.open("model.weights.h5", "w", force_zip64=True) as fh:
            fh.write(head)
            chunk = bytes(MB)
            for _ in range(megabytes):
                fh.write(chunk)


def test_a_compression_bomb_is_refused_from_its_declared_size(tmp_path):
    path = tmp_path / "bomb.keras"
    _zeros_member(path, 256)
    assert path.stat().st_size < 2 * MB
    assert_refused(run_cli("import", str(path), "-o", str(tmp_path / "out.lgraph")), 2, "memory limit", "256.0 MB")


def test_an_archive_member_under_the_limit_is_streamed_not_held_in_memory(tmp_path):
    path = tmp_path / "zeros.keras"
    _zeros_member(path, 256)
    assert_refused(run_cli("import", str(path), "-o", str(tmp_path / "out.lgraph"), limit="1GB"), 2,
                   "not an HDF5 file")
    _zeros_member(path, 256, head=b"\x89HDF\r\n\x1a\n")  # a real signature: decompressed to disk, not memory
    assert_refused(run_cli("import", str(path), "-o", str(tmp_path / "out.lgraph"), limit="1GB"), 2, "damaged")


# ----- weights the engine creates ---------------------------------------------------------------------
def test_train_refuses_weights_over_the_limit_before_creating_them(tmp_path):
    from engine.fileformat import save_document
    from tests.engine.graph_helpers import chain

    g, _ = chain(("Dense", {"units": 60000}), input_shape=(60000,))
    save_document(tmp_path / "big.lgraph", g)
    np.savez(tmp_path / "data.npz", x=np.zeros((2, 60000), np.float32), y=np.zeros((2, 60000), np.float32))
    assert_refused(run_cli("train", str(tmp_path / "big.lgraph"), "--data", str(tmp_path / "data.npz")), 1,
                   "weights", "memory limit")


def test_fit_checks_the_run_against_the_limit(monkeypatch):
    from engine.training import fit
    from tests.engine.graph_helpers import chain

    g, _ = chain(("Dense", {"units": 64}), ("Dense", {"units": 2, "activation": "softmax"}))
    x, y = np.zeros((8, 4), np.float32), np.zeros(8, np.int64)
    monkeypatch.setenv(LIMIT_ENV, "64KB")
    with pytest.raises(TrainingError, match=f"batch size 4096.*{LIMIT_ENV}"):
        fit(g, x, y, batch_size=4096)


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "random_normal"])
def test_initializers_never_hold_a_float64_copy_of_the_kernel(name):
    shape = (2048, 1024)  # 8 MB in float32, 16 MB in float64
    tracemalloc.start()
    try:
        out = INITIALIZERS[name](shape, np.random.default_rng(0), np.float32)
        peak = tracemalloc.get_traced_memory()[1]  # before the fix: a float64 copy and its cast, 3x or more
    finally:
        tracemalloc.stop()
    assert out.dtype == np.float32 and out.shape == shape
    assert peak < 2 * out.nbytes, f"peak {peak / MB:.1f} MB for a {out.nbytes / MB:.0f} MB kernel"


# ----- .npz / .npy / .csv -----------------------------------------------------------------------------
def _npy_header_only(shape, dtype="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _npz_declaring(path: Path, members: dict[str, tuple]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, shape in members.items():
            zf.writestr(f"{name}.npy", _npy_header_only(shape))


def _compressed_zeros_npz(path: Path, members: dict[str, int]) -> None:
    """A real ``.npz`` whose float32 members hold ``n`` zeros each, deflated to almost nothing."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, n in members.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                fh.write(_npy_header_only((n,)))
                for start in range(0, n, MB):
                    fh.write(bytes(4 * min(MB, n - start)))


def test_data_npz_declaring_terabytes_is_refused_from_its_headers(tmp_path):
    from engine.fileformat import save_document
    from tests.engine.graph_helpers import chain

    g, _ = chain(("Dense", {"units": 2}))
    save_document(tmp_path / "g.lgraph", g)
    _npz_declaring(tmp_path / "data.npz", {"x": (10**6, 10**6), "y": (10**6,)})
    assert_refused(run_cli("train", str(tmp_path / "g.lgraph"), "--data", str(tmp_path / "data.npz")), 2,
                   "data.npz")
    # a real archive: 300 MB of zeros deflated to a few hundred KB
    _compressed_zeros_npz(tmp_path / "data.npz", {"x": 75 * MB // 4 * 4, "y": 4})
    assert (tmp_path / "data.npz").stat().st_size < 2 * MB
    assert_refused(run_cli("train", str(tmp_path / "g.lgraph"), "--data", str(tmp_path / "data.npz")), 2,
                   "data.npz", "memory limit", LIMIT_ENV)


def test_weights_and_inputs_declaring_terabytes_are_refused(tmp_path):
    from engine.executor import CompiledGraph, ParamStore
    from engine.fileformat import save_document
    from tests.engine.graph_helpers import chain

    g, ids = chain(("Dense", {"units": 2}))
    save_document(tmp_path / "g.lgraph", g, ParamStore(CompiledGraph(g), seed=0).snapshot())
    (tmp_path / "x.npy").write_bytes(_npy_header_only((10**7, 10**6)))
    assert_refused(run_cli("predict", str(tmp_path / "g.lgraph"), "--input", str(tmp_path / "x.npy"), "-o",
                           str(tmp_path / "y.npy")), 2, "x.npy")
    assert not (tmp_path / "y.npy").exists()
    _compressed_zeros_npz(tmp_path / "g.npz", {f"{ids[1]}/kernel": 75 * MB, f"{ids[1]}/bias": 2})
    assert_refused(run_cli("validate", str(tmp_path / "g.lgraph")), 2, "g.npz", "memory limit")


def test_a_csv_over_the_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n" + "0.5,0.25,1\n" * 5000)
    monkeypatch.setenv(LIMIT_ENV, "1MB")
    with pytest.raises(FileFormatError, match=f"d.csv.*memory limit.*{LIMIT_ENV}"):
        load_dataset(str(path))
    monkeypatch.setenv(LIMIT_ENV, "64MB")
    x, y = load_dataset(str(path))
    assert x.shape == (5000, 2)


def test_predict_and_numpy_export_check_the_limit_before_allocating(tmp_path, monkeypatch):
    from engine.executor import CompiledGraph, Executor, ParamStore
    from engine.export.cli import export_files
    from engine.errors import GraphError
    from tests.engine.graph_helpers import chain

    g, _ = chain(("Dense", {"units": 300}), input_shape=(300,))
    store = ParamStore(CompiledGraph(g), seed=0)
    monkeypatch.setenv(LIMIT_ENV, "256KB")
    with pytest.raises(TrainingError, match=f"Predicting 1,000 samples.*{LIMIT_ENV}"):
        Executor(store.plan).predict(store, np.zeros((1000, 300), np.float32))
    with pytest.raises(GraphError, match=f"exported weights.*{LIMIT_ENV}"):
        export_files(g, None, None, "numpy", tmp_path / "m.py")


def test_a_malformed_limit_is_reported_as_the_callers_error(tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,label\n1,0\n")
    monkeypatch.setenv(LIMIT_ENV, "plenty")
    with pytest.raises(FileFormatError, match=f"{LIMIT_ENV}='plenty' is not a size"):
        load_dataset(str(path))
