"""Where new cards go: where the user is looking, never on top of another card.

A dropped, quick-added, inserted or pasted card (or block of cards) first gets the place the
gesture asks for; if that overlaps a card, it moves to the nearest free place on a grid of rings
around it, preferring places inside the visible part of the canvas.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF

from designer.canvas.node_item import BASE_HEIGHT, WIDTH, NodeItem

GAP = 20.0    # free room kept around a new card (scene units)
RINGS = 30    # how far the search goes, in steps of two grid cells
SLACK = 4     # rings searched past the first free place off screen, for one on screen


def card_rects(scene, area: QRectF) -> list[QRectF]:
    """The cards in ``area``, each grown by ``GAP`` (one index query for a whole search)."""
    return [it.mapRectToScene(it.card_rect()).adjusted(-GAP, -GAP, GAP, GAP)
            for it in scene.items(area) if isinstance(it, NodeItem)]


def _ring(r: int, step: float) -> list[tuple[float, float]]:
    cells = [(i * step, j * step) for i in range(-r, r + 1) for j in range(-r, r + 1) if max(abs(i), abs(j)) == r]
    return sorted(cells, key=lambda o: (o[0] ** 2 + o[1] ** 2, o[1] < 0, o[0] < 0))


def free_offset(scene, block: QRectF, visible: QRectF | None) -> tuple[float, float]:
    """The shortest move of ``block`` (multiples of two grid cells) that overlaps no card, preferring
    a place inside ``visible``; (0, 0) when nothing free is found nearby."""
    step = 2.0 * scene.grid_size
    reach = RINGS * step + GAP
    cards = card_rects(scene, block.adjusted(-reach, -reach, reach, reach))
    off_screen: tuple[float, float] | None = None
    first_free_ring = None
    for r in range(RINGS + 1):
        if first_free_ring is not None and r > first_free_ring + SLACK:
            break
        for dx, dy in _ring(r, step):
            moved = block.translated(dx, dy)
            if any(moved.intersects(c) for c in cards):
                continue
            if visible is None or visible.contains(moved):
                return (dx, dy)
            if off_screen is None:
                off_screen, first_free_ring = (dx, dy), r
    return off_screen or (0.0, 0.0)


def block_rect(data: dict) -> QRectF:
    """The cards of clipboard data (``graph.to_dict`` form) as one rectangle (null when it holds none)."""
    block = QRectF()
    nodes = data.get("nodes")
    for nd in nodes if isinstance(nodes, list) else []:
        pos = nd.get("position") if isinstance(nd, dict) else None
        try:
            x, y = float(pos[0]), float(pos[1])
        except (TypeError, ValueError, IndexError, KeyError):
            x, y = 0.0, 0.0
        block = block.united(QRectF(x, y, WIDTH, BASE_HEIGHT))
    return block


def paste_offset(scene, data: dict, step: float) -> tuple[float, float]:
    """How far pasted cards move from where they were copied: ``step`` down-right when that is on
    screen, else into the middle of the view; then to the nearest place free of other cards."""
    block = block_rect(data)
    if block.isNull():
        return (step, step)
    dx, dy = step, step
    visible = scene.visible_rect()
    if visible is not None and not visible.contains(block.translated(dx, dy)):
        centre = visible.center() - block.center()
        dx, dy = scene.snap(centre.x(), centre.y())
    fx, fy = free_offset(scene, block.translated(dx, dy), visible)
    return (dx + fx, dy + fy)
