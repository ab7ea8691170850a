"""Publishing choices: codecs, mute, unpublish."""

from __future__ import annotations

import asyncio

import pytest

from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack, ToneAudioTrack
from tests.helpers import eventually, read_counters, streaming

# every test here runs with the compiled and the Python fan-out loop
pytestmark = pytest.mark.usefixtures("fanout_loop")


async def test_h264_is_forwarded_as_h264(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("h264", "pub") as pub,
        meetbox_server.client("h264", "sub") as sub,
    ):
        sid = await pub.publish(CounterVideoTrack(), codec="video/H264")
        await sub.wait_for(lambda: sid in sub.published)
        assert sub.published[sid]["mime_type"].lower() == "video/h264"
        remote = await sub.wait_for_track(identity="pub", kind="video")
        counters = await read_counters(remote.track, 5)
        assert counters == sorted(counters)
        assert sub.subscriber is not None
        answer = sub.subscriber.localDescription.sdp
        video = answer[answer.index("m=video") :]
        assert "H264/90000" in video and "VP8/90000" not in video


async def test_mute_stops_forwarding_and_unmute_resumes(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("mute", "pub") as pub,
        meetbox_server.client("mute", "sub") as sub,
    ):
        video_sid = await pub.publish(CounterVideoTrack())
        audio_sid = await pub.publish(ToneAudioTrack())
        remote = await sub.wait_for_track(identity="pub", kind="video")
        await sub.wait_for_track(identity="pub", kind="audio")
        await read_counters(remote.track, 3)
        room = meetbox_server.room("mute")
        assert room is not None
        audio_up = room.router.uptracks[audio_sid]  # type: ignore[index]
        audio_down = audio_up.downtracks[0]

        await pub.set_muted(audio_sid, True)
        await sub.wait_for(lambda: sub.published[audio_sid]["muted"] is True)
        sent = audio_down.packets_sent
        received = audio_up.packets_received
        await eventually(lambda: audio_up.packets_received > received + 25)
        assert audio_down.packets_sent == sent

        await pub.set_muted(audio_sid, False)
        await eventually(lambda: audio_down.packets_sent > sent + 10)
        assert sub.published[video_sid]["muted"] is False


async def test_unpublished_track_ends_at_the_subscriber(meetbox_server: EmbeddedServer) -> None:
    async with streaming(meetbox_server, "unpub", frames=2) as (pub, sub, remote, sid):
        await pub.unpublish(sid)
        await asyncio.wait_for(remote.ended.wait(), 10)
        assert sid not in sub.published
        room = meetbox_server.room("unpub")
        assert room is not None and not room.router.uptracks
        # a new track can be published on the same connection afterwards
        await pub.publish(CounterVideoTrack())
        again = await sub.wait_for_track(identity="pub", kind="video")
        await read_counters(again.track, 2)
        assert len(room.router.uptracks) == 1  # the retired m-section stays retired
