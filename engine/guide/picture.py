"""Unicode diagrams of a layer's computation, drawn from its shapes (terminal text inside a Markdown code block)."""
from __future__ import annotations

from engine.layers import Layer
from engine.shapes import Shape, fmt_shape

MAX_GRID = 12


def flow(layer: Layer, shapes: list[Shape]) -> list[str]:
    """inputs ──► Layer(args) ──► output, with each weight under the layer."""
    out = layer.output_shape(shapes)
    args = layer.summary_args()
    box = f"{layer.class_name}" + (f" ({args})" if args else "")
    lines = []
    for i, s in enumerate(shapes):
        lines.append(f"{fmt_shape(s):>22} ──{'┐' if len(shapes) > 1 else '►'}")
    lines[-1 if len(shapes) > 1 else 0] += f" [ {box} ] ──► {fmt_shape(out)}"
    for spec in layer.weight_specs(shapes):
        lines.append(f"{'':>26}{spec.name}: {fmt_shape(spec.shape)}")
    return lines


def dense_matrix(layer: Layer, shapes: list[Shape]) -> list[str]:
    """x (1×d) times kernel (d×u) plus bias (u): one row of the matrix product per sample."""
    d, u = shapes[0][-1], layer.config["units"]
    rows, cols = min(d, 6), min(u, 8)
    bias = layer.config["use_bias"]
    xs = "[" + " ".join("x" for _ in range(rows)) + (" …" if d > rows else "") + "]"
    row = " ".join("w" for _ in range(cols)) + (" …" if u > cols else "")
    b = "[" + " ".join("b" for _ in range(cols)) + (" …" if u > cols else "") + "]"
    lines = [f"  x (1×{d}) · kernel ({d}×{u})" + (f" + bias ({u})" if bias else "") + f" = y (1×{u})"]
    for r in range(rows):
        left = f"{xs} · " if r == rows // 2 else " " * (len(xs) + 3)
        edge = ("┌", "┐") if r == 0 and rows > 1 else ("└", "┘") if r == rows - 1 and rows > 1 else ("│", "│")
        right = (f" + {b}" if bias else "") if r == rows // 2 else ""
        lines.append(f"  {left}{edge[0]} {row} {edge[1]}{right}")
    if d > rows:
        lines.append(f"  {' ' * (len(xs) + 3)}  … {d - rows} more rows")
    lines.append("  y[j] = Σ_i x[i]·kernel[i, j]" + (" + bias[j]" if bias else "") + f"   for j < {u}")
    return lines


def window_grid(layer: Layer, shapes: list[Shape]) -> list[str]:
    """The first window (kernel or pool) marked ▓ on the input's height × width grid."""
    cf = layer.config.get("data_format") == "channels_first"
    spatial = shapes[0][2:] if cf else shapes[0][1:-1]
    k = layer.config.get("kernel_size") or layer.config.get("pool_size")
    d = layer.config.get("dilation_rate") or (1, 1)
    h, w = spatial
    if h is None or w is None:
        return []
    lines = [f"  input {h}×{w} (per channel); ▓ = the window of output (0, 0), {k[0]}×{k[1]}"
             + (f" dilated {d[0]}×{d[1]}" if tuple(d) != (1, 1) else "")]
    taps = {(i * d[0], j * d[1]) for i in range(k[0]) for j in range(k[1])}
    for r in range(min(h, MAX_GRID)):
        lines.append("  " + " ".join("▓" if (r, c) in taps else "·" for c in range(min(w, MAX_GRID)))
                     + (" …" if w > MAX_GRID else ""))
    s = layer.config.get("strides") or k
    lines.append(f"  the window then moves by strides {tuple(s)}; padding={layer.config.get('padding')!r}")
    return lines


def unrolled(layer: Layer, shapes: list[Shape]) -> list[str]:
    steps = shapes[0][1] or 3
    shown = min(steps, 4)
    cell = f"[{layer.class_name}]"
    top = " " * 8 + "".join(f"x{t}".center(len(cell)) + " " * 4 for t in range(shown)).rstrip()
    mid = " " * 8 + "".join("↓".center(len(cell)) + " " * 4 for _ in range(shown)).rstrip()
    chain = "  h0 ─► " + " ─► ".join(cell for _ in range(shown)) + (" ─► …" if steps > shown else "") + " ─► h"
    note = "  the same weights at every step; " + ("every h_t is returned" if layer.config.get("return_sequences")
                                                    else "only the last h is returned")
    return [top, mid, chain, note]


def picture(layer: Layer, shapes: list[Shape]) -> str:
    lines = flow(layer, shapes)
    extra: list[str] = []
    name = layer.class_name
    if name == "Dense":
        extra = dense_matrix(layer, shapes)
    elif name in ("SimpleRNN", "LSTM", "GRU", "RNN") or name.startswith("ConvLSTM"):
        extra = unrolled(layer, shapes)
    elif name.endswith("2D") and not name.startswith(("Global", "Adaptive", "ZeroPadding", "Cropping", "UpSampling",
                                                        "SpatialDropout")) and "Transpose" not in name:
        extra = window_grid(layer, shapes)
    body = lines + ([""] + extra if extra else [])
    return "```text\n" + "\n".join(body) + "\n```"
