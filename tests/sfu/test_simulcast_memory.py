"""Simulcast layer switching in memory: a seeded three-layer stream, down-tracks whose tile
sizes change (and that are hidden and shown) while it plays, the Python fan-out's sender.

What must hold for every seed: each down-track's output has no sequence gap and no
timestamp jump (a switch moves the timestamp on by the time that passed, nothing more);
it changes layer only where the new layer's keyframe begins; it ends on the layer its view
asks for; hidden, it receives nothing; a layer someone needs is resumed at once.
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiortc import RTCPeerConnection

from meetbox.ids import ParticipantSid, TrackSid
from meetbox.media.keyframe import KeyframePacing
from meetbox.media.rtp import RtpHeader
from meetbox.sfu import fanout
from meetbox.sfu.downtrack import DownTrack
from meetbox.sfu.negotiation import Codec, MediaSection
from meetbox.sfu.simulcast import SimulcastTrack, choose_layer
from tests.sfu.test_forwarding_memory import MemoryLink

VP8 = Codec(96, "video/VP8", 90000, None, rtx_payload_type=97, feedback=("nack", "nack pli"))
SIZES = ((320, 180), (640, 360), (1280, 720))
RIDS = ("q", "h", "f")
CASES = 60
FRAME = 1 / 30


def keyframe_payload(layer: int, frame: int) -> bytes:
    width, height = SIZES[layer]
    # descriptor (S=1), VP8 frame tag (P=0: key), start code, width and height; its layer
    return (
        b"\x10\x00\x00\x00\x9d\x01\x2a"
        + struct.pack("<HH", width, height)
        + bytes([frame & 0xFF, layer])
    )


def delta_payload(layer: int, frame: int, index: int) -> bytes:
    first = b"\x10\x01\x00\x00" if index == 0 else b"\x00"
    return first + bytes([frame & 0xFF, index]) * 4 + bytes([layer])


def is_key(tail: bytes) -> bool:
    return b"\x9d\x01\x2a" in tail


@pytest.fixture(autouse=True)
def python_loop() -> Iterator[None]:
    before = fanout.current().name
    fanout.use("python")
    yield
    fanout.use(before)


@pytest_asyncio.fixture
async def peer() -> AsyncIterator[RTCPeerConnection]:
    pc = RTCPeerConnection()
    yield pc
    await pc.close()


def simulcast_track(told: list[list[str]]) -> SimulcastTrack:
    return SimulcastTrack(
        rids=RIDS,
        on_layers=lambda track, active: told.append(active),
        sid=TrackSid("TR_simulcast"),
        participant_sid=ParticipantSid("PA_pub"),
        kind="video",
        source="camera",
        name="",
        mid="0",
        codec=VP8,
        ssrc=None,
        rtx_ssrc=None,
        extensions={},
        send_rtcp=lambda data: None,
        rtcp_ssrc=1,
        keyframe_pacing=KeyframePacing(
            retry=0.3, min_interval=0.0, max_interval=3.0, budget_pps=1e9
        ),
    )


def test_the_layer_chosen_is_the_smallest_that_covers_the_tile() -> None:
    assert choose_layer(list(SIZES), None, None) == 2
    assert choose_layer(list(SIZES), (300, 170), None) == 0
    assert choose_layer(list(SIZES), (340, 191), None) == 0  # within the slack
    assert choose_layer(list(SIZES), (400, 225), None) == 1
    assert choose_layer(list(SIZES), (1090, 613), None) == 2
    assert choose_layer(list(SIZES), (4000, 2000), None) == 2
    assert choose_layer(list(SIZES), (1090, 613), 1) == 1  # the link allows no more
    assert choose_layer(list(SIZES), (100, 50), 2) == 0


async def test_switches_happen_at_keyframes_with_output_continuous(
    peer: RTCPeerConnection,
) -> None:
    for seed in range(CASES):
        rng = random.Random(seed)
        told: list[list[str]] = []
        track = simulcast_track(told)
        gops = [rng.choice([10, 15, 30]) for _ in RIDS]
        phase = [rng.randrange(g) for g in gops]
        per_frame = [1, rng.randint(1, 3), rng.randint(2, 5)]
        seqs = [rng.randrange(1 << 16) for _ in RIDS]
        ts0 = [rng.randrange(1 << 32) for _ in RIDS]
        ssrcs = [0x1000 + i for i in range(3)]
        downs: list[tuple[DownTrack, MemoryLink]] = []
        for who in range(3):
            down = DownTrack(
                track, peer.addTransceiver("video", direction="sendonly"), ParticipantSid(f"s{who}")
            )
            section = MediaSection(
                0, f"s{who}", "video", "sendonly", 9, (VP8,), {}, None, None, None
            )
            link = MemoryLink()
            down.configure(section, link)  # type: ignore[arg-type]
            track.attach(down)
            downs.append((down, link))
        views: list[tuple[int, int] | None] = [None, (300, 170), (400, 225), (1090, 613)]
        # changes of view while it plays: (frame, down, view or "hide"/"show")
        changes = sorted(
            ((rng.randrange(5, 115), rng.randrange(3), rng.choice([*views, "hide", "show"]))
             for _ in range(8)),
            key=lambda change: change[0],
        )  # fmt: skip
        hidden_at: dict[int, int | None] = {i: None for i in range(3)}  # packets when hidden
        times: list[list[float]] = [[] for _ in range(3)]  # when each packet went out
        now = time.monotonic()
        for frame in range(120):
            while changes and changes[0][0] == frame:
                _, who, view = changes.pop(0)
                down, link = downs[who]
                if view == "hide":
                    track.place(down, visible=False)
                    if hidden_at[who] is None:
                        hidden_at[who] = len(link.rtp)
                elif view == "show":
                    track.place(down, visible=True)
                    hidden_at[who] = None
                else:
                    down.view = view  # type: ignore[assignment]
                    if hidden_at[who] is None:
                        track.place(down)
            now += FRAME
            for layer in range(3):
                key = (frame + phase[layer]) % gops[layer] == 0
                for index in range(per_frame[layer]):
                    payload = (
                        keyframe_payload(layer, frame)
                        if key and index == 0
                        else delta_payload(layer, frame, index)
                    )
                    seq = seqs[layer]
                    seqs[layer] = (seq + 1) & 0xFFFF
                    marker = index == per_frame[layer] - 1
                    second = 96 | (0x80 if marker else 0)
                    stamp = (ts0[layer] + frame * 3000) & 0xFFFFFFFF
                    data = struct.pack("!BBHII", 0x80, second, seq, stamp, ssrcs[layer]) + payload
                    assert track.layers[layer].on_rtp(data, RtpHeader.parse(data), now) is None
                    for who, (_, link) in enumerate(downs):
                        times[who] += [now] * (len(link.rtp) - len(times[who]))
        for who, (down, link) in enumerate(downs):
            check_output(link, times[who], seed, who)
            if hidden_at[who] is not None:
                assert len(link.rtp) == hidden_at[who], (seed, who, "a hidden tile received")
                assert down.paused
                continue
            expected = choose_layer(list(SIZES), down.view, None)
            # it reached the layer its view asks for, or waits for that layer's keyframe
            reached = link.rtp and link.rtp[-1][4][-1] == expected
            assert reached or down.target is track.layers[expected], (seed, who, down.view)
            # the layers it receives or waits for are the ones the publisher sends
            for stream in (down.source, down.target):
                assert stream is None or stream.rid in track.active, (seed, who, track.active)
        track.close()


def check_output(link: MemoryLink, times: list[float], seed: int, who: int) -> None:
    """No sequence gap; within a run timestamps move as the input's; across a switch or a
    pause they move on by the time that passed, no more; a new layer (or a run after a
    pause) starts at a keyframe of its layer."""
    previous = None
    for (seq, ts, _ssrc, _marker, tail), at in zip(link.rtp, times, strict=True):
        source = tail[-1]
        if previous is None:
            assert is_key(tail), (seed, who, "started off a keyframe")
        else:
            p_seq, p_ts, p_source, p_at = previous
            assert (seq - p_seq) & 0xFFFF == 1, (seed, who, "sequence gap")
            step = (ts - p_ts) & 0xFFFFFFFF
            assert step <= (at - p_at) * 90000 + 3001, (seed, who, "timestamp jump", step)
            if source != p_source:
                assert is_key(tail), (seed, who, "switched off a keyframe")
                assert step >= 1, (seed, who, "a switch went back in time")
            elif not is_key(tail):
                assert step % 3000 == 0 and step <= 3000, (seed, who, "timestamp moved", step)
        previous = (seq, ts, source, at)
