"""Every layer's numerics, once: plain NumPy functions with no engine imports.

The engine's layers call these functions for forward and backward; the standalone NumPy export copies
the source of exactly the functions a graph needs into the generated module.  So each module here may
import only ``numpy``, ``math`` and functions of sibling modules in this package, defines only
top-level functions (and upper-case constants of plain values), and no two modules define the same
name (``tests/engine/test_numerics_rules.py`` checks all of it).

Conventions (``engine.layers.base.Numerics`` declares how a layer calls them):
- ``<op>_forward(*inputs, *weights, **args)`` returns ``(output, cache)``; ``training=False`` and
  ``rng=None`` keywords are added for layers that behave differently in training.
- ``<op>_backward(grad_output, cache, *weights, **args)`` returns ``(input_grads, weight_grads)``,
  two tuples, the second aligned with the weights (``None`` for a weight that has no gradient).
- An activation argument is a function ``f(x)`` in a forward call and its derivative
  ``f_grad(x, y, g)`` in a backward call.
"""
from engine.numerics import (  # noqa: F401
    activation_layers, activations, augmentation, conv, conv_lstm, core, gru, lstm, merging, normalization, pooling,
    preprocessing, recurrent, regularization, resampling, reshaping, sequence)

#: The modules whose functions may be copied into exported code, in the order they are copied.
MODULES = (activations, core, activation_layers, conv, pooling, resampling, preprocessing, augmentation, recurrent,
           lstm, gru, conv_lstm, normalization, regularization, merging, reshaping, sequence)
