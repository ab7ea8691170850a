"""AV1 over RTP: real SVT-AV1 temporal units packetized (OBUs split across packets),
reassembled by the frame assembler, decoded by dav1d; the sequence header's picture size;
malformed payloads refused with a reason."""

from __future__ import annotations

import fractions
import os

import av
import numpy as np
import pytest

from meetbox.media.av1 import (
    av1_dimensions,
    av1_frame,
    av1_obus,
    av1_sequence_header,
    leb128,
    leb128_bytes,
)
from meetbox.media.framer import FrameAssembler
from meetbox.media.keyframe import av1_is_keyframe
from meetbox.media.packetize import av1_payloads
from meetbox.recorder.segment import drop_realtime

pytestmark = pytest.mark.timeout(60)
os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1's banner on stderr: errors only


def encode_av1(width: int = 192, height: int = 108, frames: int = 12) -> list[bytes]:
    """Temporal units from SVT-AV1 (as FFmpeg gives them: the low-overhead format, each
    starting with a temporal delimiter)."""
    codec = av.CodecContext.create("libsvtav1", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.framerate = fractions.Fraction(30, 1)
    # low delay, as a browser sends it: one picture per unit, none held back
    codec.options = {"preset": "12", "svtav1-params": "keyint=300:pred-struct=1"}
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 255, (height // 12 + 2, width // 12 + 2, 3), dtype=np.uint8)
    texture = np.kron(blocks, np.ones((12, 12, 1), np.uint8))
    units: list[bytes] = []
    for i in range(frames):
        image = np.ascontiguousarray(texture[i % 12 : i % 12 + height, i : i + width])
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        units.extend(bytes(p) for p in codec.encode(frame))
    units.extend(bytes(p) for p in codec.encode(None))
    drop_realtime()  # SVT-AV1 put this process' threads on SCHED_FIFO
    return units


def without_temporal_delimiter(unit: bytes) -> bytes:
    assert unit[0] >> 3 & 0x0F == 2  # a temporal delimiter first, of size 0
    return unit[2:]


def test_temporal_units_survive_packetizing_and_reassembly() -> None:
    units = encode_av1()
    assert len(units) >= 10
    header = av1_sequence_header(units[0])
    assert header is not None and av1_dimensions(header) == (192, 108)
    assembler = FrameAssembler("video/AV1")
    seq, out = 40000, []
    for i, unit in enumerate(units):
        payloads = av1_payloads(unit, size=400)  # small: OBUs split over several packets
        if i == 0:
            assert len(payloads) > 3 and av1_is_keyframe(payloads[0])
            assert any(p[0] & 0x80 for p in payloads)  # a continued fragment (Z)
        else:
            assert not av1_is_keyframe(payloads[0])
        for j, payload in enumerate(payloads):
            out += assembler.add(seq & 0xFFFF, 3000 * i, j == len(payloads) - 1, payload)
            seq += 1
    assert [f.data for f in out] == [without_temporal_delimiter(u) for u in units]
    assert out[0].keyframe and not any(f.keyframe for f in out[1:])
    decoder = av.CodecContext.create("libdav1d", "r")
    assert isinstance(decoder, av.VideoCodecContext)
    decoded = [frame for f in out for frame in decoder.decode(av.Packet(f.data))]
    decoded += decoder.decode(None)
    assert len(decoded) == len(units) and decoded[0].width == 192


def test_leb128_round_trips_and_refuses_what_is_too_long() -> None:
    for value in (0, 1, 127, 128, 300, 1 << 20, (1 << 56) - 1):
        assert leb128(leb128_bytes(value) + b"\xff", 0) == (value, len(leb128_bytes(value)))
    with pytest.raises(ValueError, match="truncated"):
        leb128(b"\x80\x80", 0)
    with pytest.raises(ValueError, match="longer than 8"):
        leb128(b"\x80" * 9, 0)


@pytest.mark.parametrize(
    ("payloads", "message"),
    [
        ([b""], "empty AV1 payload"),
        ([b"\x00\x05ab"], "overruns the packet"),
        ([b"\x80\x02ab"], "fragment without its start"),
        ([b"\x40\x02ab"], "ends inside an OBU"),
        ([b"\x30\x02ab\x01c"], "says 3 OBU elements, not 2"),
        ([b"\x00\x80"], "truncated"),
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payloads: list[bytes], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        av1_frame(payloads)


def test_an_obu_with_its_own_size_field_is_taken_as_sent() -> None:
    # an OBU element whose header says it has a size field (allowed, though not advised)
    obu = bytes([6 << 3 | 0x02]) + leb128_bytes(3) + b"xyz"
    payload = b"\x10" + obu  # W = 1: the one element takes the rest
    assert av1_obus([payload]) == [obu]
    assert av1_frame([payload]) == obu
    assert av1_dimensions(obu) is None  # not a sequence header
