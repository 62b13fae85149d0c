"""Guide references for the attention layers and EinsumDense, written from their definitions with loops
(no engine code; see ``proofs.py``)."""
from __future__ import annotations

import itertools
import math

import numpy as np

REF_LINEAR_OR = {None: lambda z: z, "linear": lambda z: z, "relu": lambda z: np.maximum(z, 0.0),
                 "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)), "tanh": np.tanh}


def ref_einsum_dense(x, w, cfg):
    """y[out] = act(sum over the other letters of x[in] * kernel[k] + bias), letter by letter"""
    lhs, out = cfg["equation"].split("->")
    xin, kin = lhs.split(",")
    if "..." in lhs:  # name the passed-through axes
        extra = "ABCDEFGH"[:x.ndim - (len(xin) - 3)]
        xin, out = xin.replace("...", extra), out.replace("...", extra)
    kernel = w["kernel"]
    sizes = {**dict(zip(xin, x.shape)), **dict(zip(kin, kernel.shape))}
    letters = sorted(sizes)
    y = np.zeros([sizes[c] for c in out])
    for values in itertools.product(*(range(sizes[c]) for c in letters)):
        at = dict(zip(letters, values))
        y[tuple(at[c] for c in out)] += x[tuple(at[c] for c in xin)] * kernel[tuple(at[c] for c in kin)]
    return REF_LINEAR_OR[cfg["activation"]](y + w["bias"] if "bias" in w else y)


def _attend(scores, values, causal):
    """softmax of one query's scores over the keys it may see, then the weighted sum of their values"""
    allowed = [j for j in range(len(scores)) if not causal or j <= causal - 1]
    e = np.array([math.exp(scores[j] - max(scores[i] for i in allowed)) for j in allowed])
    return sum(p * values[j] for p, j in zip(e / e.sum(), allowed))


def ref_attention(query, value, key=None, *, w, cfg):
    """score[i, j] = q_i . k_j (times scale), or sum_d scale_d * tanh(q_id + k_jd) (additive);
    y_i = sum_j softmax_j(score[i, :]) * v_j  (with use_causal_mask, only keys j <= i)"""
    key = value if key is None else key
    y = np.zeros((*query.shape[:-1], value.shape[-1]))
    for b in range(query.shape[0]):
        for i in range(query.shape[1]):
            scores = []
            for j in range(key.shape[1]):
                if cfg["mode"] == "additive":
                    s = sum((w["scale"][d] if "scale" in w else 1.0) * math.tanh(query[b, i, d] + key[b, j, d])
                            for d in range(query.shape[2]))
                elif cfg["mode"] == "concat":
                    s = w["concat_score_weight"] * sum(math.tanh(w.get("scale", 1.0) * (query[b, i, d] + key[b, j, d]))
                                                       for d in range(query.shape[2]))
                else:
                    s = sum(query[b, i, d] * key[b, j, d] for d in range(query.shape[2])) * w.get("scale", 1.0)
                scores.append(float(s))
            y[b, i] = _attend(scores, value[b], i + 1 if cfg["use_causal_mask"] else 0)
    return y


def ref_multi_head_attention(query, value, key=None, *, w, cfg):
    """per head h: q = query . Wq[:, h] + bq[h], k and v alike (grouped-query heads share k and v);
    head_h(i) = sum_j softmax_j(q_i . k_j / sqrt(key_dim)) v_j;  y_i = sum_h head_h(i) . Wo[h] + bo"""
    key = value if key is None else key
    bias = {n: w.get(f"{n}_bias", 0.0) for n in ("query", "key", "value", "attention_output")}
    q = np.einsum("btd,dhc->bthc", query, w["query_kernel"]) + bias["query"]
    k = np.einsum("btd,dhc->bthc", key, w["key_kernel"]) + bias["key"]
    v = np.einsum("btd,dhc->bthc", value, w["value_kernel"]) + bias["value"]
    heads, shared = q.shape[2], k.shape[2]
    out_kernel = w["attention_output_kernel"]
    y = np.zeros((*query.shape[:2], *out_kernel.shape[2:]))
    for b in range(query.shape[0]):
        for i in range(query.shape[1]):
            for h in range(heads):
                g = h // (heads // shared)  # the key/value head this query head reads
                scores = [float(q[b, i, h] @ k[b, j, g]) / math.sqrt(q.shape[3]) for j in range(k.shape[1])]
                ctx = _attend(scores, v[b, :, g], i + 1 if cfg["use_causal_mask"] else 0)
                y[b, i] += np.tensordot(ctx, out_kernel[h], axes=1)
    return y + bias["attention_output"]


def attention_reference(name, cfg):
    """``(function, config)`` for an attention layer or EinsumDense, None when no reference covers this
    config, False for any other layer."""
    if name in ("Attention", "AdditiveAttention"):
        return ref_attention, dict(cfg, mode="additive" if name == "AdditiveAttention" else cfg["score_mode"])
    if name == "MultiHeadAttention":
        return (ref_multi_head_attention, cfg) if cfg["attention_axes"] is None else None
    if name == "GroupQueryAttention":
        return ref_multi_head_attention, cfg
    if name == "EinsumDense":
        return (ref_einsum_dense, cfg) if cfg["activation"] in REF_LINEAR_OR else None
    return False
