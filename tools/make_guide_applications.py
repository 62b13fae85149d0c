"""Write resources/guide/applications.json: which ``keras.applications`` modules construct each layer class.

Reads the installed Keras's application sources as text (``layers.Conv2D(`` calls), so the guide's
Applications section needs no Keras at run time.  Run after a Keras upgrade:
``python tools/make_guide_applications.py``.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

CALL = re.compile(r"\blayers\.(\w+)\(")


def main() -> int:
    import keras  # the tool runs where Keras is installed; the engine never imports it

    apps = Path(keras.__file__).parent / "src" / "applications"
    used: dict[str, set[str]] = {}
    for path in sorted(apps.glob("*.py")):
        if path.stem.startswith("_") or path.stem in ("imagenet_utils",):
            continue
        for name in CALL.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(path.stem)
    out = Path(__file__).resolve().parents[1] / "resources" / "guide" / "applications.json"
    data = {"keras_version": keras.__version__, "layers": {k: sorted(v) for k, v in sorted(used.items())}}
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(used)} layer classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
