"""Inference kernels copied into exported NumPy modules (only the ones a graph uses).

This module is a template: it imports nothing but numpy, and ``numpy_code`` copies the source of the
functions a graph needs into the generated file.  Keep every function self-contained apart from
calls to other top-level functions here (the exporter follows those calls).  Arrays are
channels-last, ``(batch, ..., channels)``; numerics follow Keras 3.
"""
import numpy as np

# ----- activations ---------------------------------------------------------------------------------------


def linear(x):
    return x


def relu(x):
    return np.maximum(x, 0)


def relu6(x):
    return np.clip(x, 0, 6)


def sigmoid(x):
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype)


def tanh(x):
    return np.tanh(x)


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def selu(x):
    return 1.0507009873554805 * elu(x, 1.6732632423543772)


def leaky_relu(x, negative_slope=0.2):
    return np.where(x > 0, x, negative_slope * x)


def gelu(x):
    import math  # standard library: numpy has no erf

    erf = np.vectorize(math.erf, otypes=[np.float64])
    return (x * 0.5 * (1 + erf(x / math.sqrt(2)))).astype(x.dtype)


def swish(x):
    return x * sigmoid(x)


def silu(x):
    return x * sigmoid(x)


def softplus(x):
    return np.logaddexp(x, 0).astype(x.dtype)


def softsign(x):
    return x / (1 + np.abs(x))


def hard_sigmoid(x):
    return np.clip(x / 6 + 0.5, 0, 1)


def exponential(x):
    return np.exp(x)


# ----- core ----------------------------------------------------------------------------------------------


def dense(x, kernel, bias=None, activation=linear):
    y = x @ kernel
    if bias is not None:
        y = y + bias
    return activation(y)


def embedding(ids, embeddings):
    return embeddings[np.asarray(ids).astype(np.int64)]


# ----- convolution ---------------------------------------------------------------------------------------


def same_pads(n, k, s, d=1):
    """(before, after) padding of 'same' mode: the extra pixel goes after, like jax.lax."""
    out = (n - 1) // s + 1
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def windows2d(x, size, strides, dilation=(1, 1)):
    """Sliding windows of (batch, h, w, c) as a view (batch, oh, ow, c, kh, kw)."""
    (kh, kw), (sh, sw), (dh, dw) = size, strides, dilation
    v = np.lib.stride_tricks.sliding_window_view(x, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(1, 2))
    return v[:, ::sh, ::sw, :, ::dh, ::dw]


def pad2d(x, size, strides, dilation=(1, 1), value=0.0):
    ph = same_pads(x.shape[1], size[0], strides[0], dilation[0])
    pw = same_pads(x.shape[2], size[1], strides[1], dilation[1])
    return np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)


def conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1), groups=1,
           activation=linear):
    kh, kw, cin, cout = kernel.shape
    if padding == "same":
        x = pad2d(x, (kh, kw), strides, dilation_rate)
    patches = windows2d(x, (kh, kw), strides, dilation_rate)  # (b, oh, ow, c, kh, kw)
    k = kernel.transpose(2, 0, 1, 3)  # (cin/groups, kh, kw, cout)
    if groups == 1:
        y = np.tensordot(patches, k, axes=([3, 4, 5], [0, 1, 2]))
    else:
        go = cout // groups
        y = np.concatenate([np.tensordot(patches[:, :, :, g * cin:(g + 1) * cin], k[..., g * go:(g + 1) * go],
                                         axes=([3, 4, 5], [0, 1, 2])) for g in range(groups)], axis=-1)
    if bias is not None:
        y = y + bias
    return activation(y.astype(x.dtype))


def conv1d(x, kernel, bias=None, strides=(1,), padding="valid", dilation_rate=(1,), groups=1, activation=linear):
    if padding == "causal":
        x = np.pad(x, ((0, 0), (dilation_rate[0] * (kernel.shape[0] - 1), 0), (0, 0)))
        padding = "valid"
    y = conv2d(x[:, None], kernel[None], bias, (1, strides[0]), padding, (1, dilation_rate[0]), groups, activation)
    return y[:, 0]


def transpose_pads(k, s, d, padding, output_padding):
    """Keras's (left, right) padding of the stride-dilated input for a transposed convolution."""
    k = (k - 1) * d + 1
    if padding == "valid":
        extra = max(k, s) - k if output_padding is None else output_padding
        return k - 1, k - 1 + extra
    total = s + k - 2 if output_padding is None else k + k % 2 - 2 + output_padding
    left = min(total // 2 + total % 2, k - 1)
    return left, total - left


def conv2d_transpose(x, kernel, bias=None, strides=(1, 1), padding="valid", output_padding=None,
                     dilation_rate=(1, 1), activation=linear):
    b, h, w, c = x.shape
    (sh, sw), ops = strides, output_padding or (None, None)
    up = np.zeros((b, (h - 1) * sh + 1, (w - 1) * sw + 1, c), x.dtype)
    up[:, ::sh, ::sw] = x
    pads = [transpose_pads(kernel.shape[i], strides[i], dilation_rate[i], padding, ops[i]) for i in (0, 1)]
    up = np.pad(up, ((0, 0), pads[0], pads[1], (0, 0)))
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)
    return conv2d(up, flipped, bias, dilation_rate=dilation_rate, activation=activation)


def depthwise_conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                     activation=linear):
    kh, kw, c, m = kernel.shape
    if padding == "same":
        x = pad2d(x, (kh, kw), strides, dilation_rate)
    y = np.einsum("bhwcij,ijcm->bhwcm", windows2d(x, (kh, kw), strides, dilation_rate), kernel)
    y = y.reshape(*y.shape[:3], c * m)
    if bias is not None:
        y = y + bias
    return activation(y.astype(x.dtype))


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, bias=None, strides=(1, 1), padding="valid",
                     dilation_rate=(1, 1), activation=linear):
    y = depthwise_conv2d(x, depthwise_kernel, None, strides, padding, dilation_rate)
    return conv2d(y, pointwise_kernel, bias, activation=activation)


# ----- pooling -------------------------------------------------------------------------------------------


def max_pooling2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    strides = strides or pool_size
    if padding == "same":
        x = pad2d(x, pool_size, strides, value=-np.inf)
    return windows2d(x, pool_size, strides).max(axis=(4, 5))


def average_pooling2d(x, pool_size=(2, 2), strides=None, padding="valid"):
    strides = strides or pool_size
    if padding == "valid":
        return windows2d(x, pool_size, strides).mean(axis=(4, 5))
    total = windows2d(pad2d(x, pool_size, strides), pool_size, strides).sum(axis=(4, 5))
    ones = np.ones((1, *x.shape[1:3], 1), x.dtype)
    count = windows2d(pad2d(ones, pool_size, strides), pool_size, strides).sum(axis=(4, 5))
    return (total / count).astype(x.dtype)


def max_pooling1d(x, pool_size=(2,), strides=None, padding="valid"):
    return max_pooling2d(x[:, None], (1, pool_size[0]), (1, (strides or pool_size)[0]), padding)[:, 0]


def average_pooling1d(x, pool_size=(2,), strides=None, padding="valid"):
    return average_pooling2d(x[:, None], (1, pool_size[0]), (1, (strides or pool_size)[0]), padding)[:, 0]


def global_average_pooling(x, keepdims=False):
    return x.mean(axis=tuple(range(1, x.ndim - 1)), keepdims=keepdims)


def global_max_pooling(x, keepdims=False):
    return x.max(axis=tuple(range(1, x.ndim - 1)), keepdims=keepdims)


# ----- recurrent -----------------------------------------------------------------------------------------


def run_cell(x, step, state, return_sequences=False, go_backwards=False):
    """Loop ``step(x_t, state) -> (h_t, state)`` over the time axis of (batch, time, features)."""
    xs = x[:, ::-1] if go_backwards else x
    outputs = []
    for t in range(xs.shape[1]):
        h, state = step(xs[:, t], state)
        outputs.append(h)
    return np.stack(outputs, axis=1) if return_sequences else outputs[-1]


def simple_rnn(x, kernel, recurrent_kernel, bias=None, activation=tanh, return_sequences=False,
               go_backwards=False):
    proj = x @ kernel + (0 if bias is None else bias)

    def step(p, h):
        h = activation(p + h @ recurrent_kernel)
        return h, h

    h0 = np.zeros((x.shape[0], kernel.shape[1]), x.dtype)
    return run_cell(proj, step, h0, return_sequences, go_backwards)


def lstm(x, kernel, recurrent_kernel, bias=None, activation=tanh, recurrent_activation=sigmoid,
         return_sequences=False, go_backwards=False):
    """Gates in Keras order i, f, c, o along the last axis."""
    u = recurrent_kernel.shape[0]
    proj = x @ kernel + (0 if bias is None else bias)

    def step(p, state):
        h, c = state
        z = p + h @ recurrent_kernel
        i, f, o = (recurrent_activation(z[:, k * u:(k + 1) * u]) for k in (0, 1, 3))
        c = f * c + i * activation(z[:, 2 * u:3 * u])
        h = o * activation(c)
        return h, (h, c)

    zeros = np.zeros((x.shape[0], u), x.dtype)
    return run_cell(proj, step, (zeros, zeros), return_sequences, go_backwards)


def gru(x, kernel, recurrent_kernel, bias=None, activation=tanh, recurrent_activation=sigmoid,
        return_sequences=False, go_backwards=False, reset_after=True):
    """Gates in Keras order z, r, h; ``reset_after`` applies the reset gate after the recurrent matmul."""
    u = recurrent_kernel.shape[0]
    if bias is None:
        b_in, b_rec = 0, np.zeros(3 * u, x.dtype)
    elif reset_after:
        b_in, b_rec = bias[0], bias[1]
    else:
        b_in, b_rec = bias, np.zeros(3 * u, x.dtype)
    proj = x @ kernel + b_in

    def step(p, h):
        if reset_after:
            rec = h @ recurrent_kernel + b_rec
            z = recurrent_activation(p[:, :u] + rec[:, :u])
            r = recurrent_activation(p[:, u:2 * u] + rec[:, u:2 * u])
            hh = activation(p[:, 2 * u:] + r * rec[:, 2 * u:])
        else:
            rec = h @ recurrent_kernel[:, :2 * u]
            z = recurrent_activation(p[:, :u] + rec[:, :u])
            r = recurrent_activation(p[:, u:2 * u] + rec[:, u:])
            hh = activation(p[:, 2 * u:] + (r * h) @ recurrent_kernel[:, 2 * u:])
        h = z * h + (1 - z) * hh
        return h, h

    h0 = np.zeros((x.shape[0], u), x.dtype)
    return run_cell(proj, step, h0, return_sequences, go_backwards)


def bidirectional(forward, backward, merge_mode="concat", return_sequences=False):
    """Merge the two directions; the backward sequence is flipped back to forward time order."""
    if return_sequences:
        backward = backward[:, ::-1]
    if merge_mode == "concat":
        return np.concatenate([forward, backward], axis=-1)
    if merge_mode == "sum":
        return forward + backward
    if merge_mode == "mul":
        return forward * backward
    return (forward + backward) / 2


# ----- normalization -------------------------------------------------------------------------------------


def _axis_shape(x, axis):
    axes = [a % x.ndim for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    return [x.shape[i] if i in axes else 1 for i in range(x.ndim)], axes


def batch_normalization(x, moving_mean, moving_variance, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    shape, _ = _axis_shape(x, axis)
    y = (x - moving_mean.reshape(shape)) / np.sqrt(moving_variance.reshape(shape) + epsilon)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y.astype(x.dtype)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=1e-3):
    shape, axes = _axis_shape(x, axis)
    mean = x.mean(axis=tuple(axes), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=tuple(axes), keepdims=True)
    y = (x - mean) / np.sqrt(var + epsilon)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y.astype(x.dtype)


# ----- reshaping -----------------------------------------------------------------------------------------


def flatten(x):
    return x.reshape(x.shape[0], -1)


def reshape(x, target_shape):
    return x.reshape(x.shape[0], *target_shape)


def permute(x, dims):
    return x.transpose(0, *dims)


def repeat_vector(x, n):
    return np.repeat(x[:, None, :], n, axis=1)


def resize_matrix(n, factor, dtype):
    """(n * factor, n) linear interpolation, half-pixel centres, clamped edges (like jax.image.resize)."""
    pos = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    m = np.zeros((n * factor, n))
    m[np.arange(n * factor), lo] += 1 - (pos - lo)
    m[np.arange(n * factor), hi] += pos - lo
    return m.astype(dtype)


def up_sampling2d(x, size=(2, 2), interpolation="nearest"):
    if interpolation == "nearest":
        return x.repeat(size[0], axis=1).repeat(size[1], axis=2)
    mh, mw = resize_matrix(x.shape[1], size[0], x.dtype), resize_matrix(x.shape[2], size[1], x.dtype)
    return np.einsum("ih,bhwc,jw->bijc", mh, x, mw)


def zero_padding2d(x, padding=((1, 1), (1, 1))):
    return np.pad(x, ((0, 0), tuple(padding[0]), tuple(padding[1]), (0, 0)))


def cropping2d(x, cropping=((0, 0), (0, 0))):
    (t, b), (left, r) = cropping
    return x[:, t:x.shape[1] - b, left:x.shape[2] - r]


# ----- merging -------------------------------------------------------------------------------------------


def add(*xs):
    return sum(xs[1:], xs[0])


def subtract(a, b):
    return a - b


def multiply(*xs):
    y = xs[0]
    for x in xs[1:]:
        y = y * x
    return y


def average(*xs):
    return add(*xs) / len(xs)


def maximum(*xs):
    return np.maximum.reduce(np.broadcast_arrays(*xs))


def minimum(*xs):
    return np.minimum.reduce(np.broadcast_arrays(*xs))


def concatenate(*xs, axis=-1):
    return np.concatenate(xs, axis=axis)


# ----- activation layers ---------------------------------------------------------------------------------


def relu_layer(x, max_value=None, negative_slope=0.0, threshold=0.0):
    y = x * (x > threshold) if threshold != 0 else np.maximum(x, 0)
    if max_value is not None:
        y = np.clip(y, 0, max_value)
    if negative_slope != 0:
        y = y - negative_slope * np.maximum(threshold - x, 0)
    return y


def prelu(x, alpha):
    return np.maximum(x, 0) + alpha * np.minimum(x, 0)
