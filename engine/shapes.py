"""Shape arithmetic shared by layers, the validator and the exporters (Keras ``operation_utils``)."""
from __future__ import annotations

from typing import Optional

Shape = tuple[Optional[int], ...]


def fmt_shape(shape: Shape) -> str:
    """``(None, 13, 13, 64)`` the way Keras prints it."""
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def conv_output_length(n: int | None, kernel: int, padding: str, stride: int, dilation: int = 1) -> int | None:
    """Output length of a convolution/pooling window along one axis (Keras ``compute_conv_output_shape``)."""
    if n is None:
        return None
    eff = dilation * (kernel - 1) + 1
    if padding == "valid":
        return (n - eff) // stride + 1
    if padding in ("same", "causal"):
        return (n - 1) // stride + 1
    raise ValueError(f"unknown padding {padding!r}")


def same_padding(n: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of 'same' mode; the extra pixel goes after, like ``jax.lax`` 'SAME'."""
    out = (n - 1) // stride + 1
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def deconv_output_length(n: int | None, kernel: int, padding: str, stride: int, dilation: int = 1,
                         output_padding: int | None = None) -> int | None:
    """Output length of a transposed convolution (Keras ``compute_conv_transpose_output_shape``)."""
    if n is None:
        return None
    k = dilation * (kernel - 1) + 1
    if output_padding is None:
        if padding == "valid":
            return n * stride + max(k - stride, 0)
        return n * stride
    pad = 0 if padding == "valid" else k // 2
    return (n - 1) * stride + k - 2 * pad + output_padding


def broadcast_shapes(a: Shape, b: Shape) -> Shape | None:
    """Trailing-dim broadcast of two non-batch shapes as Keras merge layers do; None when incompatible."""
    if len(a) < len(b):
        a, b = b, a
    out = list(a)
    off = len(a) - len(b)
    for i, db in enumerate(b):
        da = a[off + i]
        if da is None or db is None:
            if da is None and db is None:
                out[off + i] = None
            elif db in (None, 1):
                out[off + i] = da
            else:
                out[off + i] = db if da in (None, 1) else None
        elif da == db or db == 1:
            out[off + i] = da
        elif da == 1:
            out[off + i] = db
        else:
            return None
    return tuple(out)


def num_elements(shape: Shape) -> int:
    """Product of the known dims (batch excluded by the caller)."""
    n = 1
    for d in shape:
        n *= 1 if d is None else d
    return n
