"""RTCP through the SFU, observed from real aiortc peers on both sides."""

from __future__ import annotations

import random

import pytest
from aiortc import RTCPeerConnection

from meetbox.client import Client
from meetbox.media import rtcp
from meetbox.media.rtp import RtpHeader, wrap_rtx
from meetbox.server import EmbeddedServer
from meetbox.sfu import aiortc as internals
from meetbox.sfu.uptrack import UpTrack
from meetbox.tracks import CounterVideoTrack, ToneAudioTrack
from tests.helpers import read_counters, streaming, wait_async

# every test here runs with the compiled and the Python fan-out loop
pytestmark = pytest.mark.usefixtures("fanout_loop")


def room_track(server: EmbeddedServer, room: str) -> UpTrack:
    found = server.room(room)
    assert found is not None
    return next(up for up in found.router.uptracks.values() if up.kind == "video")


async def stats_of(pc: RTCPeerConnection | None, kind: str) -> list[object]:
    assert pc is not None
    report = await pc.getStats()
    return [s for s in report.values() if getattr(s, "type", None) == kind]


async def test_lost_packets_are_repaired_with_rtx_from_the_cache(
    meetbox_server: EmbeddedServer,
) -> None:
    async with streaming(meetbox_server, "loss") as (_, sub, remote, _):
        assert sub.subscriber is not None

        # drop one in ten RTP packets on the way into the subscriber (never RTX)
        transport = sub.subscriber.getTransceivers()[0].receiver.transport
        rng = random.Random(7)

        def lost(data: bytes) -> bool:
            return data[1] & 0x7F == down.payload_type and rng.random() < 0.1

        up = room_track(meetbox_server, "loss")
        down = up.downtracks[0]
        assert down.rtx_payload_type is not None
        internals.drop_incoming_rtp(transport, lost)
        counters = await read_counters(remote.track, 60, timeout=20)
        assert down.retransmits > 0
        # every frame still arrives, in order, because the losses were repaired
        assert counters == sorted(counters)
        assert counters[-1] - counters[0] <= len(counters) + 5


async def test_a_packet_that_comes_twice_is_forwarded_once(
    meetbox_server: EmbeddedServer,
) -> None:
    async with streaming(meetbox_server, "twice") as (pub, sub, remote, _):
        assert pub.publisher is not None and sub.subscriber is not None
        up = room_track(meetbox_server, "twice")
        down = up.downtracks[0]
        received = up.packets_received
        sent = down.packets_sent

        # each video packet comes twice: as itself and as an RTX repair of itself (what a
        # late original beside its repair looks like to the SFU)
        assert up.rtx_ssrc is not None and up.codec.rtx_payload_type is not None
        rtx_ssrc, rtx_type = up.rtx_ssrc, up.codec.rtx_payload_type
        transport = pub.publisher.getTransceivers()[0].sender.transport
        rtx_seq = 1000

        def doubled(send: internals.SendRtp) -> internals.SendRtp:
            async def twice(data: bytes) -> None:
                nonlocal rtx_seq
                await send(data)
                if not 192 <= data[1] <= 223 and data[1] & 0x7F != rtx_type:
                    header = RtpHeader.parse(data)
                    rtx_seq += 1
                    repair = wrap_rtx(
                        data, header, ssrc=rtx_ssrc, payload_type=rtx_type, sequence=rtx_seq
                    )
                    await send(repair)

            return twice

        undo = internals.wrap_sent_rtp(transport, doubled)
        counters = await read_counters(remote.track, 30, timeout=20)
        undo()
        copies = up.packets_received - received
        assert up.duplicates * 2 >= copies - 4  # about half of what came were copies
        assert down.packets_sent - sent <= copies - up.duplicates  # only the first of each
        assert counters == sorted(counters)


async def test_sender_reports_are_translated_and_receiver_reports_go_upstream(
    meetbox_server: EmbeddedServer,
) -> None:
    async with meetbox_server.client("sr", "pub") as pub, meetbox_server.client("sr", "sub") as sub:
        await pub.publish(CounterVideoTrack())
        await pub.publish(ToneAudioTrack())
        await sub.wait_for_track(identity="pub", kind="video")
        await sub.wait_for_track(identity="pub", kind="audio")
        up = room_track(meetbox_server, "sr")
        down = up.downtracks[0]
        assert pub.publisher is not None and sub.subscriber is not None
        sent: dict[int, rtcp.SenderReport] = {}  # the publisher's video SRs, by NTP time
        got: dict[int, rtcp.SenderReport] = {}  # what the subscriber receives for it

        def reports(data: bytes, ssrc: int, into: dict[int, rtcp.SenderReport]) -> None:
            if not 200 <= data[1] <= 204:
                return
            for report in rtcp.parse_compound(data):
                if isinstance(report, rtcp.SenderReport) and report.ssrc == ssrc:
                    into[report.ntp_timestamp] = report

        video = next(t for t in pub.publisher.getTransceivers() if t.kind == "video")
        internals.observe_sent_rtp(
            internals.transport_of(video), lambda d: reports(d, up.ssrc or 0, sent)
        )
        for transceiver in sub.subscriber.getTransceivers():
            internals.observe_received_rtcp(
                internals.transport_of(transceiver), lambda d: reports(d, down.ssrc, got)
            )

        async def translated_sr_arrived() -> bool:
            return bool(set(sent) & set(got))

        async def subscriber_got_sr() -> bool:
            # the subscriber's receiver saw an SR for the SSRC the SFU sends it
            return any(
                getattr(s, "ssrc", None) == down.ssrc
                for s in await stats_of(sub.subscriber, "remote-outbound-rtp")
            )

        await wait_async(translated_sr_arrived, timeout=15)
        for ntp in set(sent) & set(got):
            # the same instant, in the subscriber's stream's terms: its SSRC, the RTP
            # timestamp moved by the down-track's offset, its own packet count
            original, translated = sent[ntp], got[ntp]
            offset = down.forwarder.ts_offset
            assert translated.rtp_timestamp == (original.rtp_timestamp + offset) % (1 << 32)
            assert translated.ssrc == down.ssrc != original.ssrc
            assert 0 < translated.packet_count <= down.packets_sent

        async def publisher_got_rr() -> bool:
            # the publisher's sender saw a report block from the SFU about its SSRC
            return any(
                getattr(s, "packetsReceived", 0) > 0
                for s in await stats_of(pub.publisher, "remote-inbound-rtp")
            )

        await wait_async(subscriber_got_sr)
        await wait_async(publisher_got_rr)


async def test_subscriber_bandwidth_estimates_reach_the_publisher(
    meetbox_server: EmbeddedServer,
) -> None:
    async with meetbox_server.client("remb", "pub") as pub:
        subs = [Client(meetbox_server.url, meetbox_server.token("remb", f"s{i}")) for i in range(2)]
        try:
            await pub.publish(CounterVideoTrack())
            for sub in subs:
                await sub.connect()
                await sub.wait_for_track(identity="pub", kind="video")
            up = room_track(meetbox_server, "remb")

            async def forwarded() -> bool:
                estimates = [d.remb for d in up.downtracks]
                return (
                    len(estimates) == 2
                    and None not in estimates
                    and up.last_remb is not None
                    and up.last_remb <= min(e for e in estimates if e is not None) * 1.01
                )

            await wait_async(forwarded, timeout=15)
        finally:
            for sub in subs:
                await sub.close()
