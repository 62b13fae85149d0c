"""Canvas colours for the light and dark themes (the scene switches the active dict)."""
from __future__ import annotations

FAMILY_COLORS = {
    "core": "#4C78A8", "convolutional": "#E8743B", "pooling": "#3E9651", "recurrent": "#9467BD",
    "normalization": "#17A2B8", "regularization": "#8C6D31", "reshaping": "#C9A227", "merging": "#D6336C",
    "activation": "#6C757D", "preprocessing": "#2F8F83",
    "augmentation": "#7B8F1E", "attention": "#5B5BD6",
}

LIGHT = {
    "background": "#F4F5F7", "grid": "#E2E5E9", "grid_major": "#D3D7DC",
    "node": "#FFFFFF", "node_border": "#AEB5BD", "hover": "#6E7781", "selected": "#0969DA",
    "text": "#1F2328", "muted": "#57606A", "title_text": "#FFFFFF",
    "wire": "#7D8590", "wire_selected": "#0969DA", "label_bg": "#FFFFFF", "label_text": "#3D444D",
    "error": "#D1242F", "ok": "#1A7F37", "port": "#FFFFFF", "port_border": "#57606A",
    "badge": "#0969DA", "badge_text": "#FFFFFF", "drop": "#0969DA",
}

DARK = {
    "background": "#1C1D20", "grid": "#26282C", "grid_major": "#303338",
    "node": "#2B2D31", "node_border": "#4A4F57", "hover": "#8B949E", "selected": "#58A6FF",
    "text": "#E6E8EB", "muted": "#A0A7B0", "title_text": "#FFFFFF",
    "wire": "#8B949E", "wire_selected": "#58A6FF", "label_bg": "#2B2D31", "label_text": "#C9D1D9",
    "error": "#F85149", "ok": "#3FB950", "port": "#2B2D31", "port_border": "#A0A7B0",
    "badge": "#1F6FEB", "badge_text": "#FFFFFF", "drop": "#58A6FF",
}


#: Model inputs stand out from the other core layers: the graph starts there.
INPUT_COLOR = "#14324F"


def family_color(family: str) -> str:
    return FAMILY_COLORS.get(family, "#6C757D")


def title_color(class_name: str, family: str) -> str:
    """The title-bar colour of a node: its family's, except for ``Input`` which has its own."""
    return INPUT_COLOR if class_name == "Input" else family_color(family)


class HoverHighlight:
    """Mixin for canvas items that redraw highlighted while the pointer is over them."""

    hovered = False

    def hoverEnterEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.hovered = True
        self.update()

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.hovered = False
        self.update()
