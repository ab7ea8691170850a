"""Frame reassembly from RTP: order, holes, keyframes, wrap-around, codecs."""

from __future__ import annotations

from meetbox.media.depacketize import depacketize, vp8_dimensions
from meetbox.media.framer import MAX_HOLE_PACKETS, FrameAssembler, Unwrapper

KEY_HEADER = b"\x10\x02\x00\x9d\x01\x2a\x40\x01\xf0\x00"  # key frame, 320x240


def vp8_packets(ts: int, body: bytes, key: bool, size: int = 4) -> list[tuple[int, bool, bytes]]:
    """A frame cut into packets: (timestamp, marker, payload) with a 1-byte descriptor."""
    frame = (KEY_HEADER if key else b"\x11\x02\x00") + body
    chunks = [frame[i : i + size] for i in range(0, len(frame), size)]
    return [
        (ts, i == len(chunks) - 1, bytes([0x10 if i == 0 else 0x00]) + chunk)
        for i, chunk in enumerate(chunks)
    ]


def feed(
    assembler: FrameAssembler,
    start_seq: int,
    packets: list[tuple[int, bool, bytes]],
    order: list[int] | None = None,
) -> list[bytes]:
    out = []
    for i in order if order is not None else range(len(packets)):
        ts, marker, payload = packets[i]
        out += [f.data for f in assembler.add((start_seq + i) % 65536, ts, marker, payload)]
    return out


def test_frames_come_out_whole_and_in_order_despite_reordering() -> None:
    packets = vp8_packets(1000, b"key-frame-body", True) + vp8_packets(4000, b"delta-one", False)
    order = list(range(len(packets)))
    order[1], order[3] = order[3], order[1]
    order[-1], order[-2] = order[-2], order[-1]
    frames = feed(FrameAssembler("video/VP8"), 100, packets, order)
    assert frames == [KEY_HEADER + b"key-frame-body", b"\x11\x02\x00delta-one"]
    assert vp8_dimensions(frames[0]) == (320, 240)


def test_delta_frames_before_the_first_keyframe_are_dropped() -> None:
    assembler = FrameAssembler("video/VP8")
    packets = vp8_packets(1, b"delta", False) + vp8_packets(2, b"key", True)
    assert feed(assembler, 0, packets) == [KEY_HEADER + b"key"]
    assert assembler.frames_dropped == 1 and not assembler.needs_keyframe


def test_a_hole_never_filled_is_skipped_and_a_keyframe_awaited() -> None:
    assembler = FrameAssembler("video/VP8")
    packets = vp8_packets(0, b"key", True)
    ts = 3000
    for _ in range(60):
        packets += vp8_packets(ts, b"delta-frame", False)
        ts += 3000
    lost = len(vp8_packets(0, b"key", True)) + 1  # inside the first delta frame
    order = [i for i in range(len(packets)) if i != lost]
    frames = feed(assembler, 65500, packets, order)  # the sequence numbers wrap too
    assert frames[0] == KEY_HEADER + b"key"
    assert len(frames) == 1  # nothing but deltas after the hole: dropped until a keyframe
    assert assembler.needs_keyframe
    assert len(packets) - lost > MAX_HOLE_PACKETS
    more = feed(assembler, (65500 + len(packets)) % 65536, vp8_packets(ts, b"key2", True))
    assert more == [KEY_HEADER + b"key2"] and not assembler.needs_keyframe


def test_audio_packets_are_frames_and_late_ones_are_dropped() -> None:
    assembler = FrameAssembler("audio/opus")
    assert [f.timestamp for f in assembler.add(1, 960, True, b"a")] == [960]
    assert assembler.add(3, 2880, False, b"c")[0].data == b"c"
    assert assembler.add(2, 1920, False, b"b") == []  # too late to be written in order


def test_unwrapper_keeps_growing_across_the_wrap() -> None:
    unwrap = Unwrapper(1 << 32)
    assert unwrap(2**32 - 10) == 2**32 - 10
    assert unwrap(5) == 2**32 + 5
    assert unwrap(2**32 - 20) == 2**32 - 20  # a late one stays before


def test_h264_units_become_annex_b() -> None:
    single = bytes([0x65]) + b"idr"
    assert depacketize("video/H264", single) == b"\x00\x00\x00\x01" + single
    stap = bytes([0x18, 0, 2, 0x67, 1, 0, 2, 0x68, 2])
    assert depacketize("video/H264", stap) == b"\x00\x00\x00\x01\x67\x01\x00\x00\x00\x01\x68\x02"
    fu_start = bytes([0x7C, 0x85]) + b"ab"
    fu_end = bytes([0x7C, 0x45]) + b"cd"
    joined = depacketize("video/H264", fu_start) + depacketize("video/H264", fu_end)
    assert joined == b"\x00\x00\x00\x01\x65abcd"
