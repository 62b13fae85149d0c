"""Attention layers and EinsumDense: Attention, AdditiveAttention, MultiHeadAttention, GroupQueryAttention.

Masks are boolean arrays: ``query_mask`` ``(batch, Tq)`` and ``value_mask`` (and for Multi-Head / Group-Query
attention ``key_mask``) ``(batch, Tv)`` (True = a real step).  As in Keras, a masked key gets the score ``-1e9``
before the softmax; Attention and AdditiveAttention also zero their output at masked query steps, while
(Multi-Head / Group-Query) attention folds the query mask into the score mask (a fully masked row attends
uniformly, as Keras's fused kernel does, and its scores get no gradient, as that kernel's ``where`` gives none).
The attention weights of the last forward are the first item of every attention cache (``attention_weights(cache)``).
"""
import math

import numpy as np

from engine.numerics.activations import softmax, softmax_grad
from engine.numerics.regularization import dropout_forward

MASKED_SCORE = 1.0e9


# ----- EinsumDense ---------------------------------------------------------------------------------------
def einsum_explicit(equation, ndim):
    """``equation`` with its ``...`` replaced by letters the equation does not use, for an input of ``ndim``."""
    if "..." not in equation:
        return equation
    lhs = equation.split(",")[0]
    used = set(equation)
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    elided = ndim - (len(lhs) - 3)
    return equation.replace("...", "".join(spare[:elided]))


def einsum_operand_grad(g, other, spec_out, spec_other, spec_target, target_shape):
    """Gradient of ``einsum(target, other)`` with respect to ``target``; letters of ``target`` found in
    neither the output nor ``other`` were summed away, so their gradient is broadcast back."""
    kept = "".join(c for c in spec_target if c in spec_out or c in spec_other)
    grad = np.einsum(f"{spec_out},{spec_other}->{kept}", g, other)
    if len(kept) < len(spec_target):
        grad = grad.reshape([target_shape[i] if c in kept else 1 for i, c in enumerate(spec_target)])
        grad = np.broadcast_to(grad, target_shape).copy()
    return grad


def einsum_grads(equation, a, b, g):
    """Gradients of ``einsum(equation, a, b)`` (explicit two-operand equation) for ``a`` and ``b``."""
    ins, out = equation.split("->")
    sa, sb = ins.split(",")
    return (einsum_operand_grad(g, b, out, sb, sa, a.shape), einsum_operand_grad(g, a, out, sa, sb, b.shape))


def reduce_to_shape(g, shape):
    """Sum ``g`` over the axes a broadcast of an array of ``shape`` added or stretched."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    axes = tuple(i for i, (n, d) in enumerate(zip(shape, g.shape)) if n == 1 and d != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


def einsum_dense_forward(x, kernel, bias=None, equation="", activation=None):
    """``activation(einsum(equation, x, kernel) + bias)``; the bias broadcasts over the trailing output axes."""
    eq = einsum_explicit(equation, x.ndim)
    z = np.einsum(eq, x, kernel)
    if bias is not None:
        z = z + bias
    y = z if activation is None else activation(z)
    return y, (x, z, y)


def einsum_dense_backward(g, cache, kernel, bias=None, equation="", activation=None):
    x, z, y = cache
    if activation is not None:
        g = activation(z, y, g)
    gx, gk = einsum_grads(einsum_explicit(equation, x.ndim), x, kernel, g)
    return (gx,), (gk, None if bias is None else reduce_to_shape(g, bias.shape))


# ----- Attention and AdditiveAttention -------------------------------------------------------------------
def causal_mask(tq, tv):
    """``(1, Tq, Tv)``: query step i may attend to key steps j <= i."""
    return (np.arange(tq)[:, None] >= np.arange(tv)[None, :])[None]


def attention_scores(query, key, scale=None, concat_score_weight=None, score_mode="dot"):
    """``(batch, Tq, Tv)`` scores and what their backward needs (Keras's ``_calculate_scores``)."""
    if score_mode == "dot":
        raw = query @ np.swapaxes(key, -2, -1)
        return (raw if scale is None else raw * scale), raw
    pre = query[..., :, None, :] + key[..., None, :, :]
    if score_mode == "additive":  # AdditiveAttention: sum(scale * tanh(q + k)), scale of shape (dim,)
        t = np.tanh(pre)
        return (t if scale is None else scale * t).sum(axis=-1), t
    t = np.tanh(pre if scale is None else scale * pre)  # concat: weight * sum(tanh(scale * (q + k)))
    return concat_score_weight * t.sum(axis=-1), (pre, t)


def attention_scores_backward(gs, saved, query, key, scale=None, concat_score_weight=None, score_mode="dot"):
    """Gradients of ``attention_scores`` for query, key, scale and concat_score_weight."""
    if score_mode == "dot":
        raw = saved
        gr = gs if scale is None else gs * scale
        gscale = None if scale is None else np.asarray((gs * raw).sum(), dtype=raw.dtype).reshape(scale.shape)
        return gr @ key, np.swapaxes(gr, -2, -1) @ query, gscale, None
    if score_mode == "additive":
        t = saved
        gt = gs[..., None] * (1.0 if scale is None else scale)
        gscale = None if scale is None else (gs[..., None] * t).reshape(-1, t.shape[-1]).sum(axis=0)
        gpre = gt * (1.0 - t * t)
        return gpre.sum(axis=-2), gpre.sum(axis=-3), gscale, None
    pre, t = saved
    gcsw = np.asarray((gs * t.sum(axis=-1)).sum(), dtype=t.dtype).reshape(concat_score_weight.shape)
    gu = (gs * concat_score_weight)[..., None] * (1.0 - t * t)
    gscale = None
    if scale is not None:
        gscale = np.asarray((gu * pre).sum(), dtype=t.dtype).reshape(scale.shape)
        gu = gu * scale
    return gu.sum(axis=-2), gu.sum(axis=-3), gscale, gcsw


def attention_forward(query, value, key=None, scale=None, concat_score_weight=None, score_mode="dot",
                      dropout=0.0, use_causal_mask=False, seed=None, training=False, rng=None,
                      query_mask=None, value_mask=None):
    """Keras's Attention / AdditiveAttention on ``(batch, Tq, dim)`` queries and ``(batch, Tv, dim)`` values
    (``key`` defaults to ``value``): ``softmax(scores) @ value`` with masked keys at ``score - 1e9``."""
    k = value if key is None else key
    scores, saved = attention_scores(query, k, scale, concat_score_weight, score_mode)
    mask = None if value_mask is None else np.asarray(value_mask, bool)[:, None, :]
    if use_causal_mask:
        causal = causal_mask(scores.shape[-2], scores.shape[-1])
        mask = causal if mask is None else mask & causal
    if mask is not None:
        scores = np.where(mask, scores, scores - MASKED_SCORE)
    weights = softmax(scores, axis=-1)
    dropped, keep = dropout_forward(weights, dropout, seed=seed, training=training, rng=rng)
    out = dropped @ value
    qkeep = None
    if query_mask is not None:
        qkeep = np.asarray(query_mask, bool)[..., None]
        out = np.where(qkeep, out, 0.0).astype(out.dtype, copy=False)
    return out, (weights, query, value, key, saved, dropped, keep, qkeep)


def attention_backward(g, cache, scale=None, concat_score_weight=None, score_mode="dot", dropout=0.0,
                       use_causal_mask=False, seed=None):
    weights, query, value, key, saved, dropped, keep, qkeep = cache
    if qkeep is not None:
        g = np.where(qkeep, g, 0.0)
    gvalue = np.swapaxes(dropped, -2, -1) @ g
    gw = g @ np.swapaxes(value, -2, -1)
    if keep is not None:
        gw = gw * keep
    gs = softmax_grad(None, weights, gw, axis=-1)
    k = value if key is None else key
    gq, gk, gscale, gcsw = attention_scores_backward(gs, saved, query, k, scale, concat_score_weight, score_mode)
    if key is None:
        return (gq, gvalue + gk, None), (gscale, gcsw)
    return (gq, gvalue, gk), (gscale, gcsw)


# ----- MultiHeadAttention and GroupQueryAttention --------------------------------------------------------
def projection_equation(free_dims, bound_dims, output_dims):
    """Keras's ``_build_proj_equation``: the EinsumDense equation of an attention projection."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    free = letters[:free_dims]
    bound = letters[free_dims:free_dims + bound_dims]
    outs = letters[free_dims + bound_dims:free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{outs}->{free}{outs}"


def attention_equations(rank, attention_axes):
    """Keras's ``_build_attention_equation`` for projected tensors of ``rank`` (batch, ..., heads, channels):
    the key-query product equation, the combination equation and the softmax axes."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    target = letters[:rank]
    batch_dims = [i for i in range(rank) if i not in attention_axes and i != rank - 1]
    offset, source = rank, ""
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += letters[offset]
            offset += 1
    product = "".join([target[i] for i in batch_dims] + [target[i] for i in attention_axes]
                      + [source[i] for i in attention_axes])
    n = len(attention_axes)
    return f"{source},{target}->{product}", f"{product},{source}->{target}", tuple(range(len(product) - n,
                                                                                        len(product)))


def score_mask(query_mask, value_mask, use_causal_mask, tq, tv, key_mask=None):
    """The ``(batch or 1, Tq, Tv)`` boolean mask of (Multi-Head / Group-Query) attention, or None."""
    mask = None
    if query_mask is not None:
        mask = np.asarray(query_mask, bool)[:, :, None]
    for keys in (value_mask, key_mask):
        if keys is not None:
            m = np.asarray(keys, bool)[:, None, :]
            mask = m if mask is None else mask & m
    if use_causal_mask:
        m = causal_mask(tq, tv)
        mask = m if mask is None else mask & m
    return mask


def heads_attend(q, k, v, dot_equation, combine_equation, norm_axes, key_dim, mask=None, dropout=0.0, seed=None,
                 training=False, rng=None):
    """Scaled dot-product attention of projected heads: ``softmax(k . q / sqrt(key_dim)) . v``."""
    qs = q * np.asarray(1.0 / math.sqrt(float(key_dim)), dtype=q.dtype)
    scores = np.einsum(dot_equation, k, qs)
    if mask is not None:
        scores = np.where(np.expand_dims(mask, -3), scores, np.asarray(-MASKED_SCORE, dtype=scores.dtype))
    weights = softmax(scores, axis=norm_axes)
    dropped, keep = dropout_forward(weights, dropout, seed=seed, training=training, rng=rng)
    return np.einsum(combine_equation, dropped, v), (weights, qs, k, v, dropped, keep, mask)


def heads_attend_backward(g, saved, dot_equation, combine_equation, norm_axes, key_dim):
    weights, qs, k, v, dropped, keep, mask = saved
    gdrop, gv = einsum_grads(combine_equation, dropped, v, g)
    if keep is not None:
        gdrop = gdrop * keep
    gs = softmax_grad(None, weights, gdrop, axis=norm_axes)
    if mask is not None:   # a masked score is a constant: a fully masked row (a masked query) sends nothing back
        gs = np.where(np.expand_dims(mask, -3), gs, np.zeros((), gs.dtype))
    gk, gqs = einsum_grads(dot_equation, k, qs, gs)
    return gqs * np.asarray(1.0 / math.sqrt(float(key_dim)), dtype=gqs.dtype), gk, gv


def mha_forward(query, value, key=None, query_kernel=None, query_bias=None, key_kernel=None, key_bias=None,
                value_kernel=None, value_bias=None, output_kernel=None, output_bias=None, key_dim=1,
                attention_axes=None, output_rank=1, dropout=0.0, use_causal_mask=False, seed=None, training=False,
                rng=None, query_mask=None, value_mask=None, key_mask=None):
    """Keras's MultiHeadAttention: project query/key/value to heads, attend over ``attention_axes`` of the
    projected tensors, project back to ``output_rank`` trailing axes."""
    k_in = value if key is None else key
    proj = projection_equation(query.ndim - 1, 1, 2)
    q, qc = einsum_dense_forward(query, query_kernel, query_bias, proj)
    k, kc = einsum_dense_forward(k_in, key_kernel, key_bias, projection_equation(k_in.ndim - 1, 1, 2))
    v, vc = einsum_dense_forward(value, value_kernel, value_bias, projection_equation(value.ndim - 1, 1, 2))
    axes = tuple(range(1, q.ndim - 2)) if attention_axes is None else tuple(
        a if a >= 0 else q.ndim - 1 + a for a in attention_axes)
    dot_eq, combine_eq, norm_axes = attention_equations(q.ndim, axes)
    mask = score_mask(query_mask, value_mask, use_causal_mask, query.shape[1], value.shape[1], key_mask)
    ctx, saved = heads_attend(q, k, v, dot_eq, combine_eq, norm_axes, key_dim, mask, dropout, seed, training, rng)
    out, oc = einsum_dense_forward(ctx, output_kernel, output_bias, projection_equation(query.ndim - 1, 2,
                                                                                         output_rank))
    return out, (saved[0], saved, qc, kc, vc, oc, key is None, axes)


def mha_backward(g, cache, query_kernel=None, query_bias=None, key_kernel=None, key_bias=None, value_kernel=None,
                 value_bias=None, output_kernel=None, output_bias=None, key_dim=1, attention_axes=None,
                 output_rank=1, dropout=0.0, use_causal_mask=False, seed=None):
    _, saved, qc, kc, vc, oc, self_key, axes = cache
    rank_in = qc[0].ndim
    (gctx,), (gok, gob) = einsum_dense_backward(g, oc, output_kernel, output_bias,
                                                projection_equation(rank_in - 1, 2, output_rank))
    dot_eq, combine_eq, norm_axes = attention_equations(gctx.ndim, axes)
    gq, gk, gv = heads_attend_backward(gctx, saved, dot_eq, combine_eq, norm_axes, key_dim)
    (gquery,), (gqk, gqb) = einsum_dense_backward(gq, qc, query_kernel, query_bias,
                                                  projection_equation(rank_in - 1, 1, 2))
    (gkey,), (gkk, gkb) = einsum_dense_backward(gk, kc, key_kernel, key_bias,
                                                projection_equation(kc[0].ndim - 1, 1, 2))
    (gvalue,), (gvk, gvb) = einsum_dense_backward(gv, vc, value_kernel, value_bias,
                                                  projection_equation(vc[0].ndim - 1, 1, 2))
    inputs = (gquery, gvalue + gkey, None) if self_key else (gquery, gvalue, gkey)
    return inputs, (gqk, gqb, gkk, gkb, gvk, gvb, gok, gob)


GQA_QUERY = "bqm,muh->bquh"
GQA_KEY_VALUE = "bkm,mvh->bkvh"
GQA_OUTPUT = "bquh,uhm->bqm"
GQA_DOT = "bkuh,bquh->buqk"  # key first, as ``heads_attend`` takes it
GQA_COMBINE = "buqk,bkuh->bquh"


def gqa_forward(query, value, key=None, query_kernel=None, query_bias=None, key_kernel=None, key_bias=None,
                value_kernel=None, value_bias=None, output_kernel=None, output_bias=None, head_dim=1, dropout=0.0,
                use_causal_mask=False, seed=None, training=False, rng=None, query_mask=None, value_mask=None,
                key_mask=None):
    """Keras's GroupQueryAttention: ``num_query_heads`` query heads share ``num_key_value_heads`` key/value
    heads (each repeated ``num_query_heads // num_key_value_heads`` times)."""
    k_in = value if key is None else key
    q, qc = einsum_dense_forward(query, query_kernel, query_bias, GQA_QUERY)
    k, kc = einsum_dense_forward(k_in, key_kernel, key_bias, GQA_KEY_VALUE)
    v, vc = einsum_dense_forward(value, value_kernel, value_bias, GQA_KEY_VALUE)
    repeats = q.shape[2] // k.shape[2]
    mask = score_mask(query_mask, value_mask, use_causal_mask, query.shape[1], value.shape[1], key_mask)
    ctx, saved = heads_attend(q, np.repeat(k, repeats, axis=2), np.repeat(v, repeats, axis=2), GQA_DOT,
                              GQA_COMBINE, (-1,), head_dim, mask, dropout, seed, training, rng)
    out, oc = einsum_dense_forward(ctx, output_kernel, output_bias, GQA_OUTPUT)
    return out, (saved[0], saved, qc, kc, vc, oc, key is None, repeats)


def gqa_backward(g, cache, query_kernel=None, query_bias=None, key_kernel=None, key_bias=None, value_kernel=None,
                 value_bias=None, output_kernel=None, output_bias=None, head_dim=1, dropout=0.0,
                 use_causal_mask=False, seed=None):
    _, saved, qc, kc, vc, oc, self_key, repeats = cache
    (gctx,), (gok, gob) = einsum_dense_backward(g, oc, output_kernel, output_bias, GQA_OUTPUT)
    gq, gk, gv = heads_attend_backward(gctx, saved, GQA_DOT, GQA_COMBINE, (-1,), head_dim)
    b, s, heads, h = gk.shape
    gk = gk.reshape(b, s, heads // repeats, repeats, h).sum(axis=3)
    gv = gv.reshape(b, s, heads // repeats, repeats, h).sum(axis=3)
    (gquery,), (gqk, gqb) = einsum_dense_backward(gq, qc, query_kernel, query_bias, GQA_QUERY)
    (gkey,), (gkk, gkb) = einsum_dense_backward(gk, kc, key_kernel, key_bias, GQA_KEY_VALUE)
    (gvalue,), (gvk, gvb) = einsum_dense_backward(gv, vc, value_kernel, value_bias, GQA_KEY_VALUE)
    inputs = (gquery, gvalue + gkey, None) if self_key else (gquery, gvalue, gkey)
    return inputs, (gqk, gqb, gkk, gkb, gvk, gvb, gok, gob)
