"""The framing of the worker channel: frames survive any split of the byte stream, and any damage is refused.
Fast tier; tests/test_channel.py corrupts a real worker's channel."""

from __future__ import annotations

import pytest

from verify_compile.channel import MAGIC, ChannelError, FrameReader, json_frame


def test_frames_survive_any_split_and_refuse_any_damage():
    whole = json_frame({"kind": "phase", "index": 1, "phase": "eager"}) * 3
    reader = FrameReader()
    got = [p for i in range(len(whole)) for p in reader.feed(whole[i:i + 1])]
    assert len(got) == 3
    for damaged in (b"XXXX" + whole[4:], whole[:12] + b"!" + whole[13:], MAGIC + b"\xff\xff\xff\xff" + whole[8:]):
        with pytest.raises(ChannelError):
            FrameReader().feed(damaged)

