"""Forwarding in memory: an up-track, its down-tracks and the Python fan-out's sender,
with no network. A seeded loss pattern upstream, down-tracks joining mid-stream and NACKs
from subscribers: hundreds of cases in seconds.

What must hold for every seed: each down-track's output is the input shifted by one
offset (a gap out exactly where one came in, no jump, timestamps moved alike); a
down-track starts on a keyframe and asks for one until it has it; a NACK is answered with
the packet it names, from the cache, as RTX carrying the original sequence number.
"""

from __future__ import annotations

import random
import struct
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from aiortc import RTCPeerConnection

from meetbox.ids import ParticipantSid, TrackSid
from meetbox.media import rtcp
from meetbox.media.keyframe import KeyframePacing
from meetbox.media.rtp import RtpHeader
from meetbox.sfu import fanout
from meetbox.sfu.downtrack import DownTrack
from meetbox.sfu.negotiation import Codec, MediaSection
from meetbox.sfu.uptrack import UpTrack

VP8 = Codec(96, "video/VP8", 90000, None, rtx_payload_type=97, feedback=("nack", "nack pli"))
KEY_HEADER = b"\x10\x02\x00\x9d\x01\x2a"  # a descriptor, then a VP8 key frame's first bytes
DELTA_HEADER = b"\x10\x03\x00"
CASES = 200


@dataclass
class MemoryLink:
    """The fan-out's sender (``fanout.Sender``) over a list: what the writer would send."""

    connected: bool = True
    rtp: list[tuple[int, int, int, bool, bytes]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    def send_rtp(
        self, first: int, second: int, sequence_number: int, timestamp: int, ssrc: int, tail: bytes
    ) -> bool:
        self.rtp.append((sequence_number, timestamp, ssrc, bool(second & 0x80), tail))
        return True

    def send(self, data: bytes) -> bool:
        self.raw.append(data)
        return True


def packet(seq: int, ts: int, marker: bool, payload: bytes, ssrc: int = 0x1234) -> bytes:
    second = 96 | (0x80 if marker else 0)
    return struct.pack("!BBHII", 0x80, second, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def stream(frames: int, seq0: int, ts0: int, gop: int, per_frame: int) -> list[bytes]:
    """Packets of ``frames`` VP8 frames, a keyframe every ``gop``, ``per_frame`` each."""
    out = []
    seq = seq0
    for frame in range(frames):
        first = KEY_HEADER if frame % gop == 0 else DELTA_HEADER
        for i in range(per_frame):
            payload = (first if i == 0 else b"\x00") + bytes([frame & 0xFF, i]) * 8
            out.append(packet(seq, ts0 + frame * 3000, i == per_frame - 1, payload))
            seq += 1
    return out


@pytest_asyncio.fixture
async def peer() -> AsyncIterator[RTCPeerConnection]:
    """Transceivers for the down-tracks' SSRCs: no connection is ever made."""
    pc = RTCPeerConnection()
    yield pc
    await pc.close()


def up_track(rtcp_out: list[bytes]) -> UpTrack:
    return UpTrack(
        sid=TrackSid("TR_memory"),
        participant_sid=ParticipantSid("PA_pub"),
        kind="video",
        source="camera",
        name="",
        mid="0",
        codec=VP8,
        ssrc=0x1234,
        rtx_ssrc=0x5678,
        extensions={},
        send_rtcp=rtcp_out.append,
        rtcp_ssrc=1,
        keyframe_pacing=KeyframePacing(
            retry=0.3, min_interval=0.0, max_interval=3.0, budget_pps=1e9
        ),
    )


def down_track(up: UpTrack, pc: RTCPeerConnection, who: str) -> tuple[DownTrack, MemoryLink]:
    down = DownTrack(up, pc.addTransceiver("video", direction="sendonly"), ParticipantSid(who))
    section = MediaSection(0, who, "video", "sendonly", 9, (VP8,), {}, None, None, None)
    link = MemoryLink()
    down.configure(section, link)  # type: ignore[arg-type]
    up.attach(down)
    return down, link


def check_continuity(sent_in: list[bytes], link: MemoryLink, ssrc: int) -> None:
    """Output = input + one (seq, ts) offset, from the first packet out on."""
    assert link.rtp, "nothing was forwarded"
    first_out = link.rtp[0]
    by_seq = {RtpHeader.parse(p).sequence_number: (RtpHeader.parse(p), p) for p in sent_in}
    # the first packet out is the start of a keyframe
    first_in = next(p for p in sent_in if link.rtp[0][4].endswith(p[12:]))
    header = RtpHeader.parse(first_in)
    assert first_in[12:].startswith(KEY_HEADER)
    seq_offset = (first_out[0] - header.sequence_number) & 0xFFFF
    ts_offset = (first_out[1] - header.timestamp) & 0xFFFFFFFF
    previous = None
    for seq_out, ts_out, out_ssrc, marker, tail in link.rtp:
        assert out_ssrc == ssrc
        original, data = by_seq[(seq_out - seq_offset) & 0xFFFF]
        assert (ts_out - ts_offset) & 0xFFFFFFFF == original.timestamp
        assert marker == original.marker
        assert tail.endswith(data[original.payload_start : original.payload_end])
        if previous is not None:
            assert (seq_out - previous) & 0xFFFF >= 1  # never back, never twice
        previous = seq_out


@pytest.fixture(autouse=True)
def python_loop() -> Iterator[None]:
    """The Python fan-out: its sender is the protocol a memory link can stand in for."""
    before = fanout.current().name
    fanout.use("python")
    yield
    fanout.use(before)


async def test_seeded_loss_keeps_every_down_track_continuous_and_nacks_answered(
    peer: RTCPeerConnection,
) -> None:
    for seed in range(CASES):
        rng = random.Random(seed)
        rtcp_out: list[bytes] = []
        up = up_track(rtcp_out)
        gop, per_frame = rng.choice([5, 10, 30]), rng.randint(1, 6)
        seq0 = rng.randrange(1 << 16)  # wraps within the stream now and then
        packets = stream(rng.randint(20, 60), seq0, rng.randrange(1 << 32), gop, per_frame)
        loss = rng.choice([0.0, 0.02, 0.1, 0.3])
        joins = sorted(rng.sample(range(len(packets)), k=min(3, len(packets))))
        downs: list[tuple[DownTrack, MemoryLink, int]] = []
        received: list[bytes] = []
        now = 1000.0
        for index, data in enumerate(packets):
            while joins and joins[0] == index:
                joins.pop(0)
                downs.append((*down_track(up, peer, f"sub{len(downs)}"), index))
            now += 0.005
            if rng.random() < loss:
                continue  # lost on the way in
            received.append(data)
            pending = up.on_rtp(data, RtpHeader.parse(data), now)
            assert pending is None  # a small room's fan-out is done at once
        key_in = [p for p in received if p[12:].startswith(KEY_HEADER)]
        for down, link, joined in downs:
            later_keys = [p for p in key_in if packets.index(p) >= joined]
            if not later_keys:
                assert not link.rtp, seed  # no picture can start: nothing is sent
                continue
            check_continuity(received, link, down.ssrc)
        if any(not link.rtp for _, link, _ in downs):
            plis = [p for p in rtcp_out if isinstance(rtcp.parse_compound(p)[0], rtcp.PictureLoss)]
            assert plis, f"seed {seed}: a down-track waited for a keyframe nobody asked for"

        # a subscriber NACKs what it misses: each is answered from the cache, as RTX
        for down, link, _ in downs:
            if not link.rtp:
                continue
            sent = [s for s, *_ in link.rtp]
            missing = [(sent[0] + i) & 0xFFFF for i in range(1, 40)]
            missing = [s for s in missing if s not in sent][:5] + sent[-3:]
            link.raw.clear()
            down.retransmit(missing)
            answered = {}
            for raw in link.raw:
                header = RtpHeader.parse(raw)
                assert header.ssrc == down.rtx_ssrc and header.payload_type == 97
                original_seq = struct.unpack("!H", raw[12:14])[0]
                answered[original_seq] = raw
            # the packets it sent are in the cache and come back; the lost ones do not
            assert set(sent[-3:]) <= set(answered), seed
            for original_seq in answered:
                assert original_seq in missing
        up.close()


async def test_a_late_subscriber_waits_for_a_keyframe_and_asks_for_one(
    peer: RTCPeerConnection,
) -> None:
    rtcp_out: list[bytes] = []
    up = up_track(rtcp_out)
    packets = stream(40, 65500, 0, gop=30, per_frame=3)  # keyframes at frames 0 and 30
    for data in packets[:6]:
        up.on_rtp(data, RtpHeader.parse(data), 1.0)
    down, link = down_track(up, peer, "late")
    for data in packets[6:60]:
        up.on_rtp(data, RtpHeader.parse(data), 1.1)
    assert not link.rtp  # deltas only so far: nothing a decoder could start on
    assert any(isinstance(rtcp.parse_compound(p)[0], rtcp.PictureLoss) for p in rtcp_out)
    for data in packets[60:]:
        up.on_rtp(data, RtpHeader.parse(data), 1.2)
    check_continuity(packets, link, down.ssrc)
    assert len(link.rtp) == len(packets) - 90  # everything from frame 30's keyframe on
    up.close()
