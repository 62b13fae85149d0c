"""Random augmentation while training (``keras/src/layers/preprocessing/image_preprocessing``): RandomFlip,
RandomRotation, RandomZoom, RandomTranslation, RandomContrast, RandomBrightness, RandomCrop.

Images are ``(batch, height, width, channels)`` (``channels_first`` is moved there and back).  At inference
every layer returns its input as floats, except RandomCrop, which takes the largest central window with the
target aspect ratio and resizes it (Keras's documented inference behaviour).  For a fixed random draw each
transform is linear in the image (plus a constant fill), so the backward is exact for the draw the forward
made and kept in its cache.
"""
import numpy as np

from engine.numerics.preprocessing import as_float, resize_weights


def augmentation_rng(rng):
    """The executor passes the training stream; a direct call without one gets a fresh stream."""
    return rng if rng is not None else np.random.default_rng()


def images_to_channels_last(x, data_format):
    return np.moveaxis(x, 1, -1) if data_format == "channels_first" else x


def images_from_channels_last(x, data_format):
    return np.moveaxis(x, -1, 1) if data_format == "channels_first" else x


# ----- RandomFlip -------------------------------------------------------------------------------------------
def random_flip_forward(x, mode="horizontal_and_vertical", data_format="channels_last", training=False, rng=None):
    """Each image is flipped with probability 1/2; 'horizontal_and_vertical' flips both axes together (Keras)."""
    x = as_float(x)
    if not training:
        return x, None
    x = images_to_channels_last(x, data_format)
    flips = augmentation_rng(rng).random(x.shape[0]) <= 0.5
    return images_from_channels_last(flip_images(x, flips, mode), data_format), flips


def flip_images(x, flips, mode):
    y = x.copy()
    if mode in ("horizontal", "horizontal_and_vertical"):
        y[flips] = y[flips][:, :, ::-1]
    if mode in ("vertical", "horizontal_and_vertical"):
        y[flips] = y[flips][:, ::-1]
    return y


def random_flip_backward(g, flips, mode="horizontal_and_vertical", data_format="channels_last"):
    if flips is None:
        return (g,), ()
    g = images_to_channels_last(g, data_format)
    return (images_from_channels_last(flip_images(g, flips, mode), data_format),), ()


# ----- affine resampling (RandomRotation, RandomZoom, RandomTranslation) -------------------------------------
def factor_range(factor, lowest=-1.0):
    """Keras's ``(lower, upper)``: one number ``f`` gives ``(max(-|f|, lowest), |f|)``, two are sorted."""
    if np.ndim(factor) == 0 or len(factor) == 1:
        f = abs(np.ravel(factor)[0])
        return max(-f, lowest), f
    return min(factor), max(factor)


def rotation_transforms(angles, height, width):
    """Keras's ``(batch, 8)`` affine rows ``[a0 a1 a2 b0 b1 b2 0 0]`` rotating about the image centre."""
    theta = np.deg2rad(angles)
    cos, sin = np.cos(theta), np.sin(theta)
    cx, cy = 0.5 * (width - 1), 0.5 * (height - 1)
    zero = np.zeros_like(cos)
    return np.stack([cos, -sin, cx - cx * cos + cy * sin, sin, cos, cy - cx * sin - cy * cos, zero, zero], 1)


def zoom_transforms(height_zoom, width_zoom, height, width):
    """Output pixel ``x`` samples ``zx * x + (width - 1) / 2 * (1 - zx)`` (a zoom about the centre)."""
    zero = np.zeros_like(height_zoom)
    return np.stack([width_zoom, zero, (width - 1) / 2 * (1 - width_zoom), zero, height_zoom,
                     (height - 1) / 2 * (1 - height_zoom), zero, zero], 1)


def translation_transforms(dy, dx):
    """Output pixel ``(y, x)`` samples ``(y - dy, x - dx)``."""
    one, zero = np.ones_like(dy), np.zeros_like(dy)
    return np.stack([one, zero, -dx, zero, one, -dy, zero, zero], 1)


def fill_index(index, size, fill_mode):
    """Where an index outside ``[0, size)`` reads from (``jax.scipy.ndimage.map_coordinates`` modes)."""
    if fill_mode == "nearest":
        return np.clip(index, 0, size - 1)
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "reflect":  # (d c b a | a b c d | d c b a)
        j, s = 2 * index + 1, 2 * size
        return (np.abs((j + s) % (2 * s) - s) - 1) // 2
    return index


def axis_taps(coordinate, size, interpolation, fill_mode):
    """``[(index, weight, valid)]`` along one axis: one tap (nearest, rounded half away from zero) or two."""
    if interpolation == "nearest":
        index = (np.sign(coordinate) * np.floor(np.abs(coordinate) + 0.5)).astype(np.int64)
        nodes = [(index, np.ones_like(coordinate))]
    else:
        lower = np.floor(coordinate)
        upper_weight = coordinate - lower
        nodes = [(lower.astype(np.int64), 1.0 - upper_weight), (lower.astype(np.int64) + 1, upper_weight)]
    return [(fill_index(i, size, fill_mode), w, (i >= 0) & (i < size) if fill_mode == "constant" else None)
            for i, w in nodes]


def affine_taps(transforms, height, width, interpolation, fill_mode):
    """Input pixels and weights each output pixel reads: ``(index (taps, n), weight (taps, n), outside (n,))``.

    ``index`` counts pixels of the whole batch (``b * height * width + row * width + col``); ``outside`` is
    the weight that falls outside the image in 'constant' mode (it is filled with ``fill_value``).
    """
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    t = np.asarray(transforms, dtype=np.float64)[:, :, None, None]
    col = t[:, 0] * cols + t[:, 1] * rows + t[:, 2]
    row = t[:, 3] * cols + t[:, 4] * rows + t[:, 5]
    base = (np.arange(len(t)) * height * width)[:, None, None]
    index, weight = [], []
    outside = np.zeros(row.shape)
    for r, wr, vr in axis_taps(row, height, interpolation, fill_mode):
        for c, wc, vc in axis_taps(col, width, interpolation, fill_mode):
            w = wr * wc
            if vr is not None:
                valid = vr & vc
                outside += np.where(valid, 0.0, w)
                w = np.where(valid, w, 0.0)
                r, c = np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)
            index.append((base + r * width + c).ravel())
            weight.append(w.ravel())
    return np.stack(index), np.stack(weight), outside.ravel()


def affine_resample(x, transforms, interpolation, fill_mode, fill_value):
    """Resample ``(batch, h, w, c)`` images through Keras's per-image affine rows (``ops.image.affine_transform``)."""
    h, w, c = x.shape[1:]
    index, weight, outside = affine_taps(transforms, h, w, interpolation, fill_mode)
    flat = x.reshape(-1, c)
    y = np.zeros((index.shape[1], c), dtype=x.dtype)
    for i, wt in zip(index, weight):
        y += wt.astype(x.dtype)[:, None] * flat[i]
    if fill_mode == "constant" and fill_value:
        y += (fill_value * outside).astype(x.dtype)[:, None]
    return y.reshape(x.shape), (index, weight, x.shape, transforms)


def affine_resample_grad(g, cache):
    index, weight, shape, _ = cache
    c = shape[-1]
    gf = g.reshape(-1, c)
    idx = index.ravel()
    dx = np.empty((np.prod(shape[:-1]), c), dtype=g.dtype)
    for k in range(c):
        dx[:, k] = np.bincount(idx, weights=(weight * gf[:, k]).ravel(), minlength=dx.shape[0])
    return dx.reshape(shape)


def random_affine_backward(g, cache, data_format="channels_last"):
    if cache is None:
        return g
    return images_from_channels_last(affine_resample_grad(images_to_channels_last(g, data_format), cache), data_format)


def random_rotation_forward(x, factor, fill_mode="reflect", interpolation="bilinear", fill_value=0.0,
                            data_format="channels_last", training=False, rng=None):
    """Rotates each image by an angle drawn from ``factor * 360`` degrees (``factor``: one number or a range)."""
    x = as_float(x)
    if not training:
        return x, None
    x = images_to_channels_last(x, data_format)
    lower, upper = factor_range(factor)
    angles = augmentation_rng(rng).uniform(lower * 360.0, upper * 360.0, size=x.shape[0])
    y, cache = affine_resample(x, rotation_transforms(angles, x.shape[1], x.shape[2]), interpolation, fill_mode,
                              fill_value)
    return images_from_channels_last(y, data_format), cache


def random_rotation_backward(g, cache, factor, fill_mode="reflect", interpolation="bilinear", fill_value=0.0,
                             data_format="channels_last"):
    return (random_affine_backward(g, cache, data_format),), ()


def random_zoom_forward(x, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                        fill_value=0.0, data_format="channels_last", training=False, rng=None):
    """Zooms each image by ``1 + u``, ``u`` drawn from each factor's range (negative zooms in, as in Keras)."""
    x = as_float(x)
    if not training:
        return x, None
    x = images_to_channels_last(x, data_format)
    rng = augmentation_rng(rng)
    lower, upper = factor_range(height_factor)
    zy = rng.uniform(1.0 + lower, 1.0 + upper, size=x.shape[0])
    zx = zy
    if width_factor is not None:
        lower, upper = factor_range(width_factor)
        zx = rng.uniform(1.0 + lower, 1.0 + upper, size=x.shape[0])
    y, cache = affine_resample(x, zoom_transforms(zy, zx, x.shape[1], x.shape[2]), interpolation, fill_mode,
                              fill_value)
    return images_from_channels_last(y, data_format), cache


def random_zoom_backward(g, cache, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear",
                         fill_value=0.0, data_format="channels_last"):
    return (random_affine_backward(g, cache, data_format),), ()


def random_translation_forward(x, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear",
                               fill_value=0.0, data_format="channels_last", training=False, rng=None):
    """Shifts each image by a fraction of its height and width drawn from the factors' ranges."""
    x = as_float(x)
    if not training:
        return x, None
    x = images_to_channels_last(x, data_format)
    rng = augmentation_rng(rng)
    b, h, w = x.shape[:3]
    dy = rng.uniform(*factor_range(height_factor), size=b) * h
    dx = rng.uniform(*factor_range(width_factor), size=b) * w
    y, cache = affine_resample(x, translation_transforms(dy, dx), interpolation, fill_mode, fill_value)
    return images_from_channels_last(y, data_format), cache


def random_translation_backward(g, cache, height_factor, width_factor, fill_mode="reflect",
                                interpolation="bilinear", fill_value=0.0, data_format="channels_last"):
    return (random_affine_backward(g, cache, data_format),), ()


# ----- RandomContrast, RandomBrightness ----------------------------------------------------------------------
def random_contrast_forward(x, factor, value_range=(0.0, 255.0), training=False, rng=None):
    """``(x - mean) * f + mean`` per image and channel, ``f`` drawn from ``[1 - lower, 1 + upper]``, clipped.

    A single ``factor`` ``f`` gives ``(lower, upper) = (0, f)``, so the contrast only grows (Keras 3).
    """
    x = as_float(x)
    if not training:
        return x, None
    lower, upper = factor_range(factor, lowest=0.0)
    f = augmentation_rng(rng).uniform(1.0 - lower, 1.0 + upper, size=(x.shape[0], 1, 1, 1)).astype(x.dtype)
    mean = x.mean(axis=(1, 2), keepdims=True)
    z = (x - mean) * f + mean
    lo, hi = value_range
    return np.clip(z, lo, hi), (f, (z >= lo) & (z <= hi))


def random_contrast_backward(g, cache, factor, value_range=(0.0, 255.0)):
    if cache is None:
        return (g,), ()
    f, inside = cache
    g = g * inside
    return (g * f + (1 - f) * g.mean(axis=(1, 2), keepdims=True),), ()


def random_brightness_forward(x, factor, value_range=(0.0, 255.0), training=False, rng=None):
    """Adds ``u * (high - low)`` per image, ``u`` drawn from the factor's range, and clips to ``value_range``."""
    x = as_float(x)
    if not training:
        return x, None
    lo, hi = min(value_range), max(value_range)
    delta = augmentation_rng(rng).uniform(*factor_range(factor), size=(x.shape[0], 1, 1, 1)) * (hi - lo)
    z = x + delta.astype(x.dtype)
    return np.clip(z, lo, hi), (delta, (z >= lo) & (z <= hi))


def random_brightness_backward(g, cache, factor, value_range=(0.0, 255.0)):
    return (g if cache is None else g * cache[1],), ()


# ----- RandomCrop ------------------------------------------------------------------------------------------
def central_window(in_h, in_w, height, width):
    """The largest central window with the target aspect ratio: ``(top, left, rows, cols)`` (Keras's rule)."""
    rows = max(min(in_h, int(float(in_w * height) / width)), 1)
    cols = max(min(in_w, int(float(in_h * width) / height)), 1)
    return int(float(in_h - rows) / 2), int(float(in_w - cols) / 2), rows, cols


def random_crop_forward(x, height, width, data_format="channels_last", training=False, rng=None):
    """A random ``height`` x ``width`` window (one place per batch) while training an image larger than it;
    otherwise the largest central window of the target aspect ratio, resized (bilinear) to the target."""
    x = images_to_channels_last(as_float(x), data_format)
    in_h, in_w = x.shape[1:3]
    if training and in_h > height and in_w > width:
        rng = augmentation_rng(rng)
        top, left = int(rng.uniform(0, in_h - height + 1)), int(rng.uniform(0, in_w - width + 1))
        rows, cols = height, width
    else:
        top, left, rows, cols = central_window(in_h, in_w, height, width)
    y = x[:, top:top + rows, left:left + cols]
    wh = ww = None
    if (rows, cols) != (height, width):
        wh = resize_weights(rows, height, "bilinear").astype(x.dtype)
        ww = resize_weights(cols, width, "bilinear").astype(x.dtype)
        y = np.einsum("pw,bowc->bopc", ww, np.einsum("oh,bhwc->bowc", wh, y))
    return images_from_channels_last(y, data_format), (x.shape, top, left, rows, cols, wh, ww)


def random_crop_backward(g, cache, height, width, data_format="channels_last"):
    shape, top, left, rows, cols, wh, ww = cache
    g = images_to_channels_last(g, data_format)
    if wh is not None:
        g = np.einsum("oh,bowc->bhwc", wh, np.einsum("pw,bopc->bowc", ww, g))
    dx = np.zeros(shape, dtype=g.dtype)
    dx[:, top:top + rows, left:left + cols] = g
    return (images_from_channels_last(dx, data_format),), ()
