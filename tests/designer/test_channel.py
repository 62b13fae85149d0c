"""The designer <-> training process channel: length-prefixed messages over real pipes."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from designer.run.channel import Channel


def _pipe_pair():
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    a = Channel(os.fdopen(r1, "rb"), os.fdopen(w2, "wb"))
    b = Channel(os.fdopen(r2, "rb"), os.fdopen(w1, "wb"))
    return a, b


def test_messages_arrive_whole_and_in_order_even_when_larger_than_the_pipe_buffer():
    a, b = _pipe_pair()
    big = np.arange(3_000_000, dtype=np.float32).reshape(1000, 3000)  # 12 MB: many pipe buffers
    sent = [("snapshot", {"x": big, "n": 1}, [("batch", 1)], 7), ("paused", None, {"steps": 3}), ("stop",)]
    writer = threading.Thread(target=lambda: [a.send(m) for m in sent])
    writer.start()
    got = [b.recv() for _ in sent]
    writer.join()
    np.testing.assert_array_equal(got[0][1]["x"], big)
    assert got[0][2:] == ([("batch", 1)], 7) and got[1:] == sent[1:]


def test_closing_one_end_is_end_of_file_on_the_other_and_a_broken_pipe_for_the_closer():
    a, b = _pipe_pair()
    a.send(("hello",))
    a.close()
    assert b.recv() == ("hello",)
    with pytest.raises(EOFError):
        b.recv()
    with pytest.raises(OSError):
        a.send(("after close",))
