"""The guide's prose: one Markdown file per family under ``resources/guide/``, read with the standard library.

A file holds ``# LayerName`` headings, each followed by ``## Section`` headings from ``PROSE_SECTIONS``;
the text under a section is kept verbatim.  Nothing is evaluated.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from engine.errors import FileFormatError

PROSE_SECTIONS = ("What", "Where it is used", "Why", "When to use it", "Pros", "Cons and pitfalls", "Key points",
                  "Summary")
GUIDE_DIR = Path(__file__).resolve().parents[2] / "resources" / "guide"


def parse_prose(text: str, where: str) -> dict[str, dict[str, str]]:
    """``{layer: {section: markdown}}`` from one family file; an unknown section or a repeat is an error."""
    out: dict[str, dict[str, str]] = {}
    layer = section = None
    lines: list[str] = []

    def close():
        if layer and section:
            out[layer][section] = "\n".join(lines).strip()

    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("# "):
            close()
            layer, section, lines = line[2:].strip(), None, []
            if layer in out:
                raise FileFormatError(f"{where}:{number}: layer {layer!r} appears twice.")
            out[layer] = {}
        elif line.startswith("## "):
            close()
            section, lines = line[3:].strip(), []
            if layer is None or section not in PROSE_SECTIONS or section in out[layer]:
                raise FileFormatError(f"{where}:{number}: unexpected section {section!r} "
                                      f"(sections are {', '.join(PROSE_SECTIONS)}, once per layer).")
        elif section is not None:
            lines.append(line)
        elif line.strip():
            raise FileFormatError(f"{where}:{number}: text outside a '## Section'.")
    close()
    return out


@lru_cache(maxsize=1)
def all_prose() -> dict[str, dict[str, str]]:
    """Every layer's prose from every family file."""
    prose: dict[str, dict[str, str]] = {}
    for path in sorted(GUIDE_DIR.glob("*.md")):
        for layer, sections in parse_prose(path.read_text(encoding="utf-8"), path.name).items():
            if layer in prose:
                raise FileFormatError(f"{path.name}: layer {layer!r} is also described in another file.")
            prose[layer] = sections
    return prose


def prose_for(class_name: str) -> dict[str, str]:
    return all_prose().get(class_name, {})


def has_full_prose(class_name: str) -> bool:
    sections = prose_for(class_name)
    return all(sections.get(s) for s in PROSE_SECTIONS)
