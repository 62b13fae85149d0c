"""CustomLayer's line in the registry contract (tests/engine/layers/test_layer_contract.py): its shape, both
exports and Keras.  The custom layers' own tests are in tests/engine/custom/."""
from tests.engine.custom.definitions import GLU, signed

CUSTOM_CASES = [
    ("CustomLayer", {"definition": signed(GLU), "arguments": {"units": 3}}, [(None, 5)]),
]
