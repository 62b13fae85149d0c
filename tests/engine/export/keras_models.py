"""Keras 3 models for the import/export round trips: one combined model per layer family.

Weights are randomised (BatchNormalization's moving variance kept positive) so that every weight
matters in the comparison; inputs are seeded random arrays.
"""
from __future__ import annotations

import numpy as np

from tests.oracle import keras


# Zero initializers keep model construction fast (JAX compiles each random initializer per shape);
# ``randomize`` then sets random weights.  They also exercise the importer's initializer mapping.
K = {"kernel_initializer": "zeros"}
R = {"kernel_initializer": "zeros", "recurrent_initializer": "zeros"}
DW = {"depthwise_initializer": "zeros"}
SEP = {"depthwise_initializer": "zeros", "pointwise_initializer": "zeros"}


def randomize(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = []
        for var, w in zip(layer.weights, layer.get_weights()):
            if "variance" in var.path:
                ws.append(rng.uniform(0.5, 1.5, w.shape).astype(w.dtype))
            else:
                ws.append((rng.normal(0, 0.4, w.shape)).astype(w.dtype))
        if ws:
            layer.set_weights(ws)
            if hasattr(layer, "finalize_state"):
                layer.finalize_state()  # Normalization computes with the statistics it reads here


def mlp():
    k = keras()
    L = k.layers
    return k.Sequential([
        k.Input((8,), name="features"),
        L.Dense(16, activation="relu", kernel_regularizer="l2", name="hidden"),
        L.Dropout(0.3),
        L.BatchNormalization(),
        L.Dense(12, activation="tanh", use_bias=False, **K),
        L.GaussianNoise(0.1),
        L.Dense(4, activation="softmax", name="probs", **K),
    ], name="mlp")


def conv():
    k = keras()
    L = k.layers
    x0 = k.Input((12, 12, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", activation="relu", **K)(x0)
    x = L.Conv2D(4, 3, groups=2, dilation_rate=2, **K)(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", **DW)(x)
    x = L.SeparableConv2D(5, 3, strides=2, padding="same", activation="elu", **SEP)(x)
    x = L.Conv2DTranspose(3, 3, strides=2, padding="same", **K)(x)
    x = L.Conv2DTranspose(2, 2, strides=3, **K)(x)
    x = L.ZeroPadding2D(((1, 0), (2, 1)))(x)
    x = L.Cropping2D(((1, 1), (0, 2)))(x)
    x = L.SpatialDropout2D(0.2)(x)
    x = L.MaxPooling2D(2, padding="same")(x)
    x = L.UpSampling2D(2)(x)
    x = L.UpSampling2D((1, 2), interpolation="bilinear")(x)
    x = L.AveragePooling2D(3, strides=2, padding="same")(x)
    x = L.LayerNormalization()(x)
    a = L.GlobalAveragePooling2D()(x)
    b = L.GlobalMaxPooling2D(keepdims=True)(x)
    b = L.Flatten()(b)
    out = L.Dense(3, **K)(L.Concatenate()([a, b]))
    return k.Model(x0, out, name="conv")


def sequence():
    k = keras()
    L = k.layers
    x0 = k.Input((10, 6), name="series")
    x = L.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu", **K)(x0)
    x = L.MaxPooling1D(2)(x)
    x = L.AveragePooling1D(2, strides=1, padding="same")(x)
    x = L.SimpleRNN(5, return_sequences=True, **R)(x)
    x = L.LSTM(6, return_sequences=True, **R)(x)
    x = L.GRU(4, return_sequences=True, reset_after=False, **R)(x)
    x = L.Bidirectional(L.LSTM(3, return_sequences=True, **R))(x)
    x = L.SpatialDropout1D(0.1)(x)
    x = L.Bidirectional(L.GRU(3, **R), merge_mode="sum")(x)
    x = L.RepeatVector(4)(x)
    x = L.Permute((2, 1))(x)
    x = L.Reshape((6, 2))(x)
    a = L.GlobalAveragePooling1D()(x)
    b = L.GlobalMaxPooling1D()(L.Conv1D(3, 2, strides=2, **K)(x))
    out = L.Concatenate()([a, b])
    return k.Model(x0, out, name="sequence")


def volume():
    """The 3-D spatial layers, one of them channels_first."""
    k = keras()
    L = k.layers
    x0 = k.Input((6, 6, 4, 2), name="volume")
    x = L.Conv3D(4, 3, padding="same", activation="relu", **K)(x0)
    x = L.Conv3D(4, (2, 2, 1), groups=2, **K)(x)
    x = L.ZeroPadding3D(((1, 0), (0, 1), (1, 1)))(x)
    x = L.Cropping3D(((0, 1), (1, 0), (0, 1)))(x)
    x = L.MaxPooling3D(2, padding="same")(x)
    x = L.Conv3DTranspose(3, 2, strides=2, **K)(x)
    x = L.AveragePooling3D((2, 2, 1), strides=1)(x)
    x = L.UpSampling3D((1, 1, 2))(x)
    x = L.Permute((4, 1, 2, 3))(x)
    x = L.Conv3D(2, 2, data_format="channels_first", **K)(x)
    a = L.GlobalAveragePooling3D(data_format="channels_first")(x)
    b = L.Flatten()(L.GlobalMaxPooling3D(keepdims=True)(x))
    c = L.Flatten()(L.AdaptiveMaxPooling3D(2, data_format="channels_first")(x))
    d = L.Flatten()(L.AdaptiveAveragePooling3D((1, 2, 3))(x0))
    return k.Model(x0, L.Concatenate()([a, b, c, d]), name="volume")


def signal():
    """The 1-D spatial layers that a sequence model does not use."""
    k = keras()
    L = k.layers
    x0 = k.Input((9, 3), name="signal")
    x = L.SeparableConv1D(4, 3, padding="same", depth_multiplier=2, activation="relu", **SEP)(x0)
    x = L.DepthwiseConv1D(2, strides=2, **DW)(x)
    x = L.ZeroPadding1D((2, 1))(x)
    x = L.Cropping1D((1, 0))(x)
    x = L.Conv1DTranspose(3, 3, strides=2, padding="same", **K)(x)
    x = L.UpSampling1D(2)(x)
    x = L.MaxPooling1D(2, data_format="channels_first")(x)
    a = L.Flatten()(L.AdaptiveAveragePooling1D(5)(x))
    b = L.Flatten()(L.AdaptiveMaxPooling1D(4)(x0))
    return k.Model(x0, L.Concatenate()([a, b]), name="signal")


def adaptive():
    """Adaptive pooling of images to fixed sizes, whatever the input size."""
    k = keras()
    L = k.layers
    x0 = k.Input((7, 5, 3), name="picture")
    a = L.Flatten()(L.AdaptiveAveragePooling2D((3, 2))(x0))
    b = L.Flatten()(L.AdaptiveMaxPooling2D(2, data_format="channels_first")(x0))
    return k.Model(x0, L.Dense(2, **K)(L.Concatenate()([a, b])), name="adaptive")


def merging():
    """Two inputs, two outputs, a skip connection (Add of a tensor and its transform), every merge, and
    InceptionResNetV2's Keras-internal CustomScaleLayer."""
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    k = keras()
    L = k.layers
    a = k.Input((6,), name="left")
    b = k.Input((6,), name="right")
    ha = L.Dense(6, activation="sigmoid", **K)(a)
    hb = L.Dense(6, **K)(b)
    skip = L.Add(name="skip")([a, L.Dense(6, **K)(a)])
    merged = [L.Add()([ha, hb, skip]), L.Subtract()([ha, hb]), L.Multiply()([ha, hb]), L.Average()([ha, hb]),
              L.Maximum()([ha, hb]), L.Minimum()([ha, hb]), CustomScaleLayer(0.17)([ha, hb])]
    cat = L.Concatenate()(merged)
    out1 = L.Dense(2, name="out_one", **K)(cat)
    out2 = L.Dense(3, activation="softmax", name="out_two", **K)(L.GaussianDropout(0.2)(cat))
    return k.Model([a, b], [out1, out2], name="merging")


def embedding():
    k = keras()
    L = k.layers
    ids = k.Input((5,), dtype="int32", name="tokens")
    x = L.Embedding(20, 4, embeddings_initializer="zeros")(ids)
    x = L.Masking(mask_value=0.25)(x)   # its mask ends at Flatten (tests/engine/test_masks.py covers masks)
    x = L.Flatten()(x)
    return k.Model(ids, L.Dense(2, **K)(x), name="embedding")


def activations():
    k = keras()
    L = k.layers
    x0 = k.Input((7,), name="values")
    x = L.Dense(7, **K)(x0)
    parts = [L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2)(x), L.ReLU()(x), L.LeakyReLU()(x),
             L.ELU(alpha=0.7)(x), L.PReLU()(x), L.Softmax()(x), L.Activation("gelu")(x),
             L.Activation("selu")(x), L.Activation("softplus")(x), L.Activation("hard_sigmoid")(x)]
    return k.Model(x0, L.Concatenate()(parts), name="activations")


def normalized():
    """The newer normalization and regularization layers, an Identity and a normalized Dot."""
    k = keras()
    L = k.layers
    x0 = k.Input((4, 6), name="rows")
    x = L.GroupNormalization(groups=3)(x0)
    x = L.RMSNormalization()(L.UnitNormalization()(x))
    x = L.Identity()(L.ActivityRegularization(l1=0.01, l2=0.1)(L.AlphaDropout(0.2)(x)))
    d = L.Dot(axes=2, normalize=True)([x, L.Dense(6, **K)(x)])
    return k.Model(x0, L.Dense(2, **K)(L.Flatten()(d)), name="normalized")


def augment(L, x, size):
    """Random augmentation: the identity at inference (RandomCrop of the image's own size too)."""
    for layer in (L.RandomFlip("horizontal"), L.RandomRotation(0.1, fill_mode="constant", fill_value=0.5),
                  L.RandomZoom(0.2, (-0.1, 0.3), interpolation="nearest"), L.RandomTranslation((-0.1, 0.2), 0.1),
                  L.RandomContrast(0.3, value_range=(-3, 3)), L.RandomBrightness(0.1, value_range=(-3, 3)),
                  L.RandomCrop(*size, seed=7)):
        x = layer(x)
    return x


def preprocessing():
    """Raw pixels and raw values in: the preprocessing layers are part of the model."""
    k = keras()
    L = k.layers
    img = k.Input((7, 6, 3), name="pixels")
    x = L.Rescaling([1 / 255, 1 / 127.5, 1 / 64], offset=-0.5)(img)
    x = L.Normalization()(x)
    x = augment(L, x, (7, 6))
    x = L.CenterCrop(5, 4)(x)
    x = L.Resizing(6, 3, interpolation="bilinear")(x)
    x = L.Resizing(4, 4, interpolation="nearest")(x)
    x = L.Flatten()(L.Conv2D(2, 3, **K)(x))
    raw = k.Input((4,), name="raw")
    bins = L.CategoryEncoding(4, output_mode="count")(L.Discretization(bin_boundaries=[-0.5, 0.0, 0.5])(raw))
    fixed = L.Normalization(mean=[0.5], variance=[2.0])(raw)
    return k.Model([img, raw], L.Dense(3, **K)(L.Concatenate()([x, bins, fixed])), name="preprocessing")


def nested():
    """Models used as layers: a Sequential stem, a residual block built twice, a model inside a model, and
    ConvNeXt's Keras-internal LayerScale inside the blocks."""
    from keras.src.applications.convnext import LayerScale

    k = keras()
    L = k.layers
    stem = k.Sequential([k.Input((6,)), L.Dense(8, activation="relu", **K), L.BatchNormalization()], name="stem")

    def block(name):
        x0 = k.Input((8,))
        h = L.Dense(8, activation="tanh", **K)(x0)
        return k.Model(x0, L.Add()([x0, LayerScale(0.5, 8)(L.Dense(8, **K)(h))]), name=name)

    inner = block("inner_block")
    x1 = k.Input((8,))
    wrapper = k.Model(x1, L.Dense(8, **K)(inner(x1)), name="wrapper")
    x0 = k.Input((6,), name="values")
    x = block("block_two")(block("block_one")(stem(x0)))
    return k.Model(x0, L.Dense(3, **K)(wrapper(x)), name="nested")


def sequence_wrappers():
    """TimeDistributed around a convolution, pooling, Flatten and Dense; RNN with one cell and with stacked cells;
    initial states of RNN, LSTM, GRU and SimpleRNN."""
    k = keras()
    L = k.layers
    x0 = k.Input((3, 5, 5, 2))
    x = L.TimeDistributed(L.Conv2D(2, 3, padding="same", activation="relu", **K))(x0)
    x = L.TimeDistributed(L.MaxPooling2D(2))(x)
    x = L.TimeDistributed(L.Flatten())(x)
    x = L.TimeDistributed(L.Dense(4, activation="tanh", **K))(x)
    pooled = L.GlobalAveragePooling1D()(x)
    h, c = L.Dense(3, **K)(pooled), L.Dense(3, **K)(pooled)       # initial states, as in a seq2seq decoder
    x = L.RNN(L.LSTMCell(3, **R), return_sequences=True)(x, initial_state=[h, c])
    x = L.LSTM(3, return_sequences=True, **R)(x, initial_state=[c, h])
    x = L.GRU(3, return_sequences=True, **R)(x, initial_state=h)
    x = L.SimpleRNN(3, return_sequences=True, **R)(x, initial_state=[c])
    x = L.RNN([L.GRUCell(3, reset_after=False, **R), L.SimpleRNNCell(2, **R), L.GRUCell(2, **R)],
              go_backwards=True)(x)
    return k.Model(x0, x, name="sequence_wrappers")


def conv_recurrent():
    """ConvLSTM in 2, 1 and 3 dimensions, each reading the previous one's output reshaped."""
    k = keras()
    L = k.layers
    x0 = k.Input((3, 4, 4, 2))
    x = L.ConvLSTM2D(2, 2, padding="same", return_sequences=True, **R)(x0)
    x = L.Reshape((3, 16, 2))(x)
    x = L.ConvLSTM1D(2, 3, strides=2, return_sequences=True, go_backwards=True, **R)(x)
    x = L.Reshape((3, 7, 2, 1, 1))(x)
    x = L.ConvLSTM3D(2, (2, 1, 1), activation="relu", **R)(x)
    return k.Model(x0, L.Flatten()(x), name="conv_recurrent")
def attention():
    """Self- and cross-attention: a causal MultiHeadAttention with a residual, one with a key of its own width,
    GroupQueryAttention, Attention with concat scores, AdditiveAttention with a key, and EinsumDense."""
    k = keras()
    L = k.layers
    tokens = k.Input((5, 6), name="tokens")
    memory = k.Input((4, 6), name="memory")
    x = L.MultiHeadAttention(2, 3, **K)(tokens, tokens, use_causal_mask=True)
    x = L.LayerNormalization()(L.Add()([tokens, x]))
    x = L.MultiHeadAttention(2, 2, **K)(x, memory, L.Dense(5, **K)(memory))
    x = L.GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2, **K)(x, memory)
    x = L.Attention(use_scale=True, score_mode="concat")([x, memory])
    x = L.AdditiveAttention()([x, memory, memory])
    x = L.EinsumDense("abc,cd->abd", output_shape=(None, 3), bias_axes="d", activation="relu", **K)(x)
    return k.Model([tokens, memory], x, name="attention")


MODELS = {"mlp": mlp, "conv": conv, "sequence": sequence, "merging": merging, "embedding": embedding,
          "activations": activations, "preprocessing": preprocessing, "volume": volume, "signal": signal,
          "adaptive": adaptive, "normalized": normalized, "nested": nested,
          "sequence_wrappers": sequence_wrappers, "conv_recurrent": conv_recurrent, "attention": attention}


def sample_inputs(model, n: int = 5, seed: int = 1):
    """Random inputs: a dict keyed by input name when the model has several."""
    rng = np.random.default_rng(seed)
    xs = {}
    for t in model.inputs:
        shape = (n, *t.shape[1:])
        if "int" in str(t.dtype):
            xs[t.name] = rng.integers(0, 20, shape).astype("int32")
        else:
            xs[t.name] = rng.normal(size=shape).astype("float32")
    return xs
