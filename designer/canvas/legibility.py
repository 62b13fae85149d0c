"""How big the canvas's text is, and at which zoom each level of detail still reads.

A card or wire label never shows text smaller than ``LEGIBLE_PX`` on screen: zoomed out, it drops
detail (arguments, parameter count, the batch dimension) and shows what is left in large type,
and below ``READABLE_ZOOM``, where even that would be too small, it shows no text at all.
Fonts are sized in pixels, so the on-screen size is simply ``size * zoom``.
"""
from __future__ import annotations

LEGIBLE_PX = 9.0
#: Font pixel sizes (scene units): the full card, the wire label, and the large type of the simplified card.
FONT_PX = {"title": 12, "name": 12, "body": 12, "small": 11, "label": 12, "big_title": 24, "big": 20}
BIG_MIN_PX = 20  # large type shrinks to fit a long text down to this size, then elides
#: Below this zoom the full card's text would be smaller than ``LEGIBLE_PX``: show the simplified card.
DETAIL_ZOOM = LEGIBLE_PX / FONT_PX["name"]
#: Below this zoom even the large type is too small: only coloured cards and bare wires are drawn.
READABLE_ZOOM = LEGIBLE_PX / BIG_MIN_PX


def text_zoom(lod: float) -> str:
    """What a card draws at zoom ``lod``: ``"full"``, ``"simple"`` (large type) or ``"flat"``."""
    lod += 1e-6  # (a zoom of exactly READABLE_ZOOM comes back from the transform a hair smaller)
    return "full" if lod >= DETAIL_ZOOM else "simple" if lod >= READABLE_ZOOM else "flat"
