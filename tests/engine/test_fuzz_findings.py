"""Regression tests for what the fuzz campaign (tests/fuzz) found."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from engine.cli import main
from engine.errors import FileFormatError
from engine.export.keras_import import import_model
from tests.oracle import keras


def _with_h5_values(archive: bytes, value: float) -> bytes:
    """The archive with every element of the first kernel in model.weights.h5 set to ``value``."""
    import h5py

    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    h5 = io.BytesIO(members["model.weights.h5"])
    with h5py.File(h5, "r+") as f:
        names: list[str] = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        ds = f[names[0]]
        ds[...] = np.full(ds.shape, value, ds.dtype)
    members["model.weights.h5"] = h5.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return out.getvalue()


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_import_refuses_non_finite_weights_and_writes_nothing(tmp_path, value, capsys):
    """Found by the campaign (archives, h5_mutation): import wrote the NaN weights, and the document it
    wrote was then refused by validate (exit 2) -- a file import made that could never be opened."""
    k = keras()
    model = k.Sequential([k.Input((3,)), k.layers.Dense(2, name="hidden")])
    model.save(tmp_path / "m.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(_with_h5_values((tmp_path / "m.keras").read_bytes(), value))
    with pytest.raises(FileFormatError, match="bad.keras.*'hidden'.*NaN or Inf"):
        import_model(bad)
    assert main(["import", str(bad), "-o", str(tmp_path / "out.lgraph")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NaN or Inf" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.keras", "m.keras"]


def test_import_of_an_archive_whose_deflated_config_is_damaged_is_one_line(tmp_path, capsys):
    """Found by the campaign (archives, config.json mutation + byte flip): a corrupt deflate stream made
    zlib raise through the importer (a traceback, exit 1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", '{"class_name": "Sequential", "config": {"layers": []}}' * 20)
    raw = bytearray(buf.getvalue())
    start = raw.index(b"config.json") + len("config.json")  # the local header's name, then the stream
    raw[start] = 0x07  # a final block of the reserved type: zlib.error "invalid block type"
    bad = tmp_path / "bad.keras"
    bad.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="bad.keras: the archive is damaged"):
        import_model(bad)
    assert main(["import", str(bad), "-o", str(tmp_path / "out.lgraph")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
