"""The designer <-> training process channel: length-prefixed messages over real pipes."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from designer.run.channel import Channel, encode
from designer.run.messages import BatchRecord, EpochRecord, Paused, Select, Snapshot, Step, Stop


def _pipe_pair():
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    a = Channel(os.fdopen(r1, "rb"), os.fdopen(w2, "wb"))
    b = Channel(os.fdopen(r2, "rb"), os.fdopen(w1, "wb"))
    return a, b


def test_messages_arrive_whole_and_in_order_even_when_larger_than_the_pipe_buffer():
    a, b = _pipe_pair()
    big = np.arange(3_000_000, dtype=np.float32).reshape(1000, 3000)  # 12 MB: many pipe buffers
    batch = BatchRecord(1, 0, 0, 0.5, None, 2.0)
    sent = [Snapshot({"x": big, "n": 1}, [batch], 7), Paused({}, 3, None), Stop()]
    writer = threading.Thread(target=lambda: [a.send(m) for m in sent])
    writer.start()
    got = [b.recv() for _ in sent]
    writer.join()
    np.testing.assert_array_equal(got[0].latest["x"], big)
    assert got[0].events == [batch] and got[0].steps == 7 and got[1:] == sent[1:]


def test_closing_one_end_is_end_of_file_on_the_other_and_a_broken_pipe_for_the_closer():
    a, b = _pipe_pair()
    a.send(("hello",))
    a.close()
    assert b.recv() == ("hello",)
    with pytest.raises(EOFError):
        b.recv()
    with pytest.raises(OSError):
        a.send(("after close",))


def test_plain_data_round_trips_exactly():
    a, b = _pipe_pair()
    message = ("latest", {"grid": ("boundary", np.eye(3, dtype=np.float32), (0.0, -1.5, 2.0, 3.0)),
                            "flags": np.array([True, False]), "ids": np.arange(4, dtype=np.int64).reshape(2, 2),
                            "scalar": np.float32(0.5), "empty": np.zeros((0, 3)), "nan": float("nan"),
                            "nested": [{"k": None, "t": (1, "x")}]}, [("batch", 1, 0, 0, 0.25, None, 1.5)], 3)
    a.send(message)
    got = b.recv()
    assert isinstance(got, tuple) and got[0] == "latest" and got[2:] == message[2:]
    d = got[1]
    assert d["grid"][0] == "boundary" and d["grid"][2] == (0.0, -1.5, 2.0, 3.0)
    for key in ("flags", "ids", "empty"):
        assert d[key].dtype == message[1][key].dtype and np.array_equal(d[key], message[1][key])
    np.testing.assert_array_equal(d["grid"][1], np.eye(3, dtype=np.float32))
    d["ids"][0, 0] = 9  # arrays arrive writable
    assert d["scalar"] == 0.5 and np.isnan(d["nan"]) and d["nested"] == [{"k": None, "t": (1, "x")}]


@pytest.mark.parametrize("bad", [np.array([object()]), {1: "int key"}, {"__nd__": 1}, object(), {"s": {1, 2}}])
def test_anything_but_plain_data_is_refused_before_sending(bad):
    with pytest.raises(TypeError):
        encode(("latest", bad))


def test_records_arrive_as_the_same_type_with_their_fields():
    a, b = _pipe_pair()
    sent = [Select("dense_1"), Step(3), Snapshot({"w": np.ones(2, np.float32)}, [EpochRecord(4, {"loss": 0.5})], 4)]
    for m in sent:
        a.send(m)
    got = [b.recv() for _ in sent]
    assert [type(m) for m in got] == [Select, Step, Snapshot]
    assert got[0].node_id == "dense_1" and got[1].batches == 3
    assert got[2].events == [EpochRecord(4, {"loss": 0.5})] and np.array_equal(got[2].latest["w"], [1.0, 1.0])


@pytest.mark.parametrize("header", [
    b'{"__record__":["Popen",{"args":"ls"}]}',  # not a registered record: nothing is looked up elsewhere
    b'{"__record__":["Step",{"batches":1,"shell":true}]}',  # a field the record does not have
    b'{"__record__":["Select",{}]}',  # a required field missing
    b'{"__record__":"Stop"}',
])
def test_a_record_that_is_not_one_of_ours_is_refused_on_arrival(header):
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "rb"), os.fdopen(w, "wb")
    writer.write(len(header).to_bytes(8, "little") + header)
    writer.close()
    with pytest.raises(ValueError):
        Channel(reader, None).recv()


def test_bytes_that_are_not_a_message_raise_instead_of_running_anything():
    r, w = os.pipe()
    reader, writer = os.fdopen(r, "rb"), os.fdopen(w, "wb")
    pickled = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94."
    writer.write(len(pickled).to_bytes(8, "little") + pickled)
    writer.close()
    with pytest.raises(ValueError):
        Channel(reader, None).recv()
