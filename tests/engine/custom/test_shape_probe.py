"""``engine.custom.probe`` without Qt: a child that outlives the wall-clock limit is killed, reported in one line
and asked again next time (the machine may have been slow); a child that dies without answering is one line."""
import copy
import uuid

import pytest

from engine.custom import probe, trust
from engine.custom.definition import CustomDefinition
from engine.custom.trusted_exec import CodeRunError
from engine.layers.custom import CustomLayer
from tests.engine.custom.definitions import GLU


def test_a_wall_clock_timeout_is_one_line_and_not_cached(monkeypatch):
    monkeypatch.setattr(probe, "_cache", {})
    monkeypatch.setattr(probe, "WALL_SECONDS", 0.05)  # the child cannot even import in that time
    definition = copy.deepcopy(GLU)
    definition["name"] = f"Slow{uuid.uuid4().hex[:8]}"
    trust.sign(CustomDefinition.from_dict(definition))
    for _ in range(2):
        layer = CustomLayer({"name": "slow", "definition": definition})
        with probe.isolated_shapes(), pytest.raises(CodeRunError) as caught:
            layer.output_shape([(None, 5)])
        assert str(caught.value) == ("CustomLayer 'slow': the layer's code did not finish within 0.05 s while its "
                                     "shape was inferred (look for an endless loop)")
    assert probe._cache == {}


@pytest.mark.parametrize("output", [b"", b"not json", b'{"kind": "other"}'])
def test_a_child_that_dies_without_an_answer_is_one_line(output):
    kind, message, line = probe._entry_from(-11, output, "CustomLayer 'c': the layer's code")
    assert kind == "code" and line is None and "\n" not in message
    assert message.startswith("CustomLayer 'c': the layer's code stopped the shape-inference process (exit status -11)")
