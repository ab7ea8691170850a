"""The compiled fan-out loop against the Python one: the same packets, byte for byte,
through a real DTLS-SRTP transport between two aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiortc import RTCPeerConnection

from meetbox.media.munger import SEQ_MOD, TS_MOD, RtpMunger
from meetbox.media.rtp import RtpHeader
from meetbox.sfu import aiortc as internals
from meetbox.sfu import fanout
from tests.helpers import eventually

needs_compiled = pytest.mark.skipif(
    fanout.COMPILED is None, reason="the compiled fan-out was not built (no C compiler)"
)


def test_the_compiled_loop_is_built_where_a_compiler_is() -> None:
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler on this machine: the Python loop is the one used")
    assert fanout.COMPILED is not None
    # and forwards unless told not to
    if os.environ.get("MEETBOX_FANOUT") != "python":
        assert fanout.current() is fanout.COMPILED


@needs_compiled
def test_compiled_munger_translates_as_the_python_one() -> None:
    assert fanout.COMPILED is not None
    rng = random.Random(7)
    for run in range(50):
        seq_offset, ts_offset = rng.randrange(SEQ_MOD), rng.randrange(TS_MOD)
        python = RtpMunger(rng.choice([8000, 48000, 90000]))
        python.seq_offset, python.ts_offset = seq_offset, ts_offset
        compiled = fanout.COMPILED.Forwarder(python.clock_rate, 1, seq_offset, ts_offset)
        seq, ts, now = rng.randrange(SEQ_MOD), rng.randrange(TS_MOD), 1000.0 * run
        for _ in range(400):
            roll = rng.random()
            if roll < 0.03:  # the source restarts somewhere else
                seq, ts = rng.randrange(SEQ_MOD), rng.randrange(TS_MOD)
                python.resync()
                compiled.resync()
            elif roll < 0.1:  # late by a few, or older than this run's start
                seq = (seq - rng.choice([1, 3, 40, 1500])) % SEQ_MOD
            else:
                seq = (seq + rng.choice([1, 1, 1, 2, 30000])) % SEQ_MOD
            ts = (ts + rng.choice([0, 3000, 960, 2**31])) % TS_MOD
            now += rng.choice([0.0, 0.02, 0.0000001, 7.5, 1e6])
            assert compiled.translate(seq, ts, now) == python.translate(seq, ts, now)
            assert compiled.incoming_seq(seq) == python.incoming_seq(seq)
            assert (compiled.last_seq, compiled.last_ts, compiled.highest_in_seq) == (
                python.last_seq,
                python.last_ts,
                python.highest_in_seq,
            )


@needs_compiled
def test_compiled_loop_refuses_bad_arguments_with_clear_errors() -> None:
    assert fanout.COMPILED is not None
    forwarder_type, fan_out = fanout.COMPILED.Forwarder, fanout.COMPILED.fan_out
    with pytest.raises(ValueError, match="out of range"):
        forwarder_type(0, 1, 0, 0)
    with pytest.raises(ValueError, match="out of range"):
        forwarder_type(90000, 1, SEQ_MOD, 0)
    forwarder = forwarder_type(90000, 1, 0, 0)
    with pytest.raises(TypeError, match="route must be a Route"):
        forwarder.route = object()
    with pytest.raises(TypeError, match="list of Forwarders"):
        fan_out([forwarder, "not one"], {}, 1, 1, False, 10, 0.0, True)
    with pytest.raises(ValueError, match="out of range"):
        fan_out([forwarder], {}, SEQ_MOD, 1, False, 10, 0.0, True)
    with pytest.raises(ValueError, match="out of range"):
        forwarder.translate(1, TS_MOD, 0.0)


@dataclass
class Link:
    """Two connected aiortc peers: meetbox writes on one side's DTLS transport and takes
    the decrypted RTP on the other's."""

    writer: internals.TransportWriter
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
async def link() -> AsyncIterator[Link]:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    try:
        sender.addTransceiver("video", direction="sendonly")
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        internals.park_receiver(receiver.getTransceivers()[0].receiver)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        result = Link(internals.writer_for(internals.transport_of(sender.getTransceivers()[0])))

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:
            result.received.append(data)

        async def on_rtcp(data: bytes) -> None:
            return None

        internals.intercept_transport(
            internals.transport_of(receiver.getTransceivers()[0]), on_rtp, on_rtcp
        )
        await eventually(lambda: result.writer.connected, timeout=10)
        yield result
    finally:
        await sender.close()
        await receiver.close()


async def test_both_loops_send_the_same_packets(
    link: Link, fanout_loop: fanout.Implementation
) -> None:
    make = fanout_loop.Forwarder
    video = make(90000, 0x1111, 100, 5000)
    video.payload_type, video.layout, video.route = 96, 0, link.writer
    other_layout = make(90000, 0x2222, 65530, 2**32 - 10)
    other_layout.payload_type, other_layout.layout, other_layout.route = 98, 1, link.writer
    waiting = make(90000, 0x3333, 0, 0)
    waiting.payload_type, waiting.layout, waiting.route = 96, 0, link.writer
    waiting.waiting_for_keyframe = True
    refused = make(90000, 0x4444, 0, 0)  # the subscriber refused the track
    refused.layout, refused.route = 0, link.writer
    closed = make(90000, 0x5555, 0, 0)
    closed.payload_type, closed.layout, closed.route, closed.closed = 96, 0, link.writer, True
    unrouted = make(90000, 0x6666, 0, 0)  # not answered yet
    unrouted.payload_type, unrouted.layout = 96, 0
    forwarders = [video, other_layout, waiting, refused, closed, unrouted]

    extension = bytes([0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0])
    tails = {0: (0x80, b"payload-0"), 1: (0x90, extension + b"payload-1")}
    # not a keyframe: the waiting forwarder is counted, not sent to
    assert fanout_loop.fan_out(forwarders, tails, 10, 1000, False, 9, 1.0, False) == 1
    assert fanout_loop.fan_out(forwarders, tails, 11, 1000, True, 9, 1.02, False) == 1
    # a keyframe: now every routed, answered, open forwarder gets it
    assert fanout_loop.fan_out(forwarders, tails, 12, 4000, False, 9, 1.04, True) == 0
    assert fanout_loop.fan_out(forwarders, tails, 13, 4000, True, 9, 1.06, False) == 0
    await eventually(lambda: len(link.received) >= 4 + 4 + 2, timeout=5)
    await asyncio.sleep(0.2)  # and nothing more comes
    got = sorted(
        (
            (h := RtpHeader.parse(p)).ssrc,
            h.sequence_number,
            h.timestamp,
            h.payload_type,
            h.marker,
            p[0] & 0x10,
            p[h.payload_start :],
        )
        for p in link.received
    )
    assert got == [
        (0x1111, 110, 6000, 96, False, 0, b"payload-0"),
        (0x1111, 111, 6000, 96, True, 0, b"payload-0"),
        (0x1111, 112, 9000, 96, False, 0, b"payload-0"),
        (0x1111, 113, 9000, 96, True, 0, b"payload-0"),
        (0x2222, 4, 990, 98, False, 0x10, b"payload-1"),
        (0x2222, 5, 990, 98, True, 0x10, b"payload-1"),
        (0x2222, 6, 3990, 98, False, 0x10, b"payload-1"),
        (0x2222, 7, 3990, 98, True, 0x10, b"payload-1"),
        (0x3333, 12, 4000, 96, False, 0, b"payload-0"),
        (0x3333, 13, 4000, 96, True, 0, b"payload-0"),
    ]
    assert (video.packets_sent, video.octets_sent) == (4, 36)
    assert (waiting.packets_sent, waiting.waiting_for_keyframe) == (2, False)
    assert refused.packets_sent == closed.packets_sent == unrouted.packets_sent == 0


@needs_compiled
async def test_compiled_loop_sends_through_the_event_loop_without_a_socket(link: Link) -> None:
    # a TURN pair has no socket of the route's own: the datagram goes to the route's sendto
    assert fanout.COMPILED is not None
    forwarder = fanout.COMPILED.Forwarder(90000, 0x7777, 0, 0)
    forwarder.payload_type, forwarder.layout, forwarder.route = 96, 0, link.writer
    tails = {0: (0x80, b"payload")}
    assert fanout.COMPILED.fan_out([forwarder], tails, 1, 0, False, 7, 0.0, True) == 0
    await eventually(lambda: len(link.received) == 1, timeout=5)
    pair = internals.nominated_pair(link.writer.transport)
    through: list[bytes] = []

    def sendto(data: bytes, addr: tuple[str, int]) -> None:
        through.append(data)
        pair.protocol.transport.sendto(data, addr)

    link.writer._set_target(pair, sendto, pair.remote_addr, -1)
    for seq in (2, 3):
        assert fanout.COMPILED.fan_out([forwarder], tails, seq, 0, False, 7, 0.0, True) == 0
    await eventually(lambda: len(link.received) == 3, timeout=5)
    assert len(through) == 2 and forwarder.packets_sent == 3
    assert [RtpHeader.parse(p).sequence_number for p in link.received] == [1, 2, 3]
