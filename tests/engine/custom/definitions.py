"""The custom layers the issue names (gated linear unit, attention score, RBF, learned-scale residual, a layer
with two inputs), as document data, with the input shapes they are tested on."""
from __future__ import annotations

from engine.custom import trust
from engine.custom.definition import CustomDefinition

GLU = {
    "name": "GatedLinearUnit",
    "arguments": [{"name": "units", "kind": "int", "default": 4}],
    "weights": [{"name": "kernel", "shape": "input_shape[-1], units * 2", "initializer": "glorot_uniform"},
                {"name": "bias", "shape": "units * 2", "initializer": "zeros"}],
    "call": "h = ops.matmul(inputs, self.kernel) + self.bias\n"
            "value, gate = ops.split(h, 2, axis=-1)\n"
            "return value * ops.sigmoid(gate)\n",
}
ATTENTION_SCORE = {
    "name": "AttentionScore",
    "arguments": [{"name": "hidden", "kind": "int", "default": 3}],
    "weights": [{"name": "w", "shape": "input_shape[-1], hidden", "initializer": "glorot_uniform"},
                {"name": "query", "shape": "hidden", "initializer": "random_normal"}],
    "call": "keys = ops.tanh(ops.einsum('btd,dh->bth', inputs, self.w))\n"
            "scores = ops.sum(keys * self.query, axis=-1)\n"
            "attention = ops.softmax(scores, axis=-1)\n"
            "return ops.sum(inputs * ops.expand_dims(attention, -1), axis=1)\n",
}
RBF = {
    "name": "RBFLayer",
    "arguments": [{"name": "units", "kind": "int", "default": 5}, {"name": "gamma", "kind": "float", "default": 0.5}],
    "weights": [{"name": "centers", "shape": "units, input_shape[-1]", "initializer": "random_normal"}],
    "call": "diff = ops.expand_dims(inputs, 1) - self.centers\n"
            "return ops.exp(-self.gamma * ops.sum(ops.square(diff), axis=-1))\n",
    "compute_output_shape": "return (input_shape[0], self.units)\n",
}
SCALED_RESIDUAL = {
    "name": "ScaledResidual",
    "arguments": [{"name": "activation", "kind": "activation", "default": "tanh"}],
    "weights": [{"name": "kernel", "shape": "input_shape[-1], input_shape[-1]", "initializer": "glorot_uniform"},
                {"name": "scale", "shape": "input_shape[-1]", "initializer": "ones"}],
    "call": "return inputs + self.scale * self.activation(ops.matmul(inputs, self.kernel))\n",
}
TWO_INPUT = {
    "name": "GatedMix",
    "inputs": 2,
    "weights": [{"name": "w", "shape": "input_shape[1][-1], input_shape[0][-1]", "initializer": "glorot_uniform"}],
    "call": "a, b = inputs\n"
            "gate = ops.sigmoid(ops.matmul(b, self.w))\n"
            "mixed = ops.where(ops.greater(a, 0.0), a * gate, 0.1 * a)\n"
            "return ops.concatenate([mixed, ops.mean(b, axis=-1, keepdims=True)], axis=-1)\n",
}

#: (definition, arguments, input shapes)
PARITY_CASES = [
    (GLU, {"units": 3}, [(None, 5)]),
    (ATTENTION_SCORE, {}, [(None, 4, 3)]),
    (RBF, {"units": 4, "gamma": 0.7}, [(None, 3)]),
    (SCALED_RESIDUAL, {}, [(None, 4)]),
    (TWO_INPUT, {}, [(None, 3), (None, 2)]),
]


def signed(data: dict) -> dict:
    """``data``, its code accepted in this test session's trust store (tests/conftest.py's directory)."""
    trust.sign(CustomDefinition.from_dict(data))
    return data
