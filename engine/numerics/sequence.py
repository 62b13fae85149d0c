"""Sequence wrappers: TimeDistributed and a stack of recurrent cells (Keras ``StackedRNNCells``).

Both run other layers' numerics functions, passed in as arguments; nothing here computes a layer twice.
``TimeDistributed`` reads ``x (batch, time, ...)`` as ``(batch * time, ...)``, which is what applying the
inner layer to every time step means for a layer that treats the samples of a batch independently.
A stack of cells advances each cell by one step and feeds its output to the next cell in the same
step; since a cell's state depends only on its own past and on its input, that equals running each
cell's layer over the whole sequence (``return_sequences``) and feeding the result to the next one.
"""


def time_distributed_forward(x, *weights, layer, layer_args=None, layer_training=False, training=False, rng=None):
    """``layer`` applied to every time step of ``x (batch, time, ...)`` with the same weights."""
    batch, steps = x.shape[:2]
    extra = {"training": training, "rng": rng} if layer_training else {}
    y, cache = layer(x.reshape(batch * steps, *x.shape[2:]), *weights, **(layer_args or {}), **extra)
    return y.reshape(batch, steps, *y.shape[1:]), (cache, x.shape)


def time_distributed_backward(g, cache, *weights, layer, layer_args=None, layer_training=False):
    inner, shape = cache
    batch, steps = shape[:2]
    (dx,), dw = layer(g.reshape(batch * steps, *g.shape[2:]), inner, *weights, **(layer_args or {}))
    return (None if dx is None else dx.reshape(shape),), dw


def stacked_cells_forward(x, *weights, cells, cell_args, cell_weights, training=False, rng=None, buffers=None):
    """Runs each cell's recurrent forward over the sequence and feeds its outputs to the next cell.

    ``cell_weights`` is how many of ``weights`` each cell takes, in order; every cell but the last
    returns its whole sequence (``cell_args`` say so), the last one what the RNN returns.
    """
    caches, start = [], 0
    for fn, args, n in zip(cells, cell_args, cell_weights):
        x, cache = fn(x, *weights[start:start + n], **args, training=training, rng=rng, buffers=None)
        caches.append(cache)
        start += n
    return x, caches


def stacked_cells_backward(g, cache, *weights, cells, cell_args, cell_weights):
    ends = [sum(cell_weights[:k + 1]) for k in range(len(cell_weights))]
    grads = []
    for k in range(len(cell_weights) - 1, -1, -1):
        start = ends[k] - cell_weights[k]
        (g,), dw = cells[k](g, cache[k], *weights[start:ends[k]], **cell_args[k])
        grads = list(dw) + grads
    return (g,), tuple(grads)
