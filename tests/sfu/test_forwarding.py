"""Two real aiortc participants exchange media through meetbox over loopback."""

from __future__ import annotations

import threading
import time

import av
import pytest

from meetbox.server import EmbeddedServer
from meetbox.sfu import uptrack
from meetbox.sfu.uptrack import UpTrack
from meetbox.tracks import CounterVideoTrack, ToneAudioTrack
from tests.helpers import eventually, read_counters, streaming

# every test here runs with the compiled and the Python fan-out loop
pytestmark = pytest.mark.usefixtures("fanout_loop")


async def test_two_participants_decode_each_others_frames(meetbox_server: EmbeddedServer) -> None:
    threads_before = {t.ident for t in threading.enumerate()}
    async with (
        meetbox_server.client("duo", "alice") as alice,
        meetbox_server.client("duo", "bob") as bob,
    ):
        await alice.publish(CounterVideoTrack())
        await alice.publish(ToneAudioTrack())
        await bob.publish(CounterVideoTrack())
        await bob.publish(ToneAudioTrack())

        bob_video = await alice.wait_for_track(identity="bob", kind="video")
        alice_video = await bob.wait_for_track(identity="alice", kind="video")
        alice_audio = await bob.wait_for_track(identity="alice", kind="audio")

        for remote in (bob_video, alice_video):
            counters = await read_counters(remote.track, 10)
            # frames arrive in order and are the publisher's own numbered frames
            assert counters == sorted(counters)
            assert counters[-1] - counters[0] >= 9

        # only the two clients decode (2 remote tracks each); the SFU starts no decoder
        decoders = [
            t
            for t in threading.enumerate()
            if t.name.endswith("-decoder") and t.ident not in threads_before
        ]
        assert len(decoders) == 4

        frame = await alice_audio.track.recv()
        assert isinstance(frame, av.AudioFrame) and frame.sample_rate == 48000


async def test_five_participants_each_receive_the_four_others(
    meetbox_server: EmbeddedServer,
) -> None:
    names = ["p1", "p2", "p3", "p4", "p5"]
    clients = [meetbox_server.client("five", n) for n in names]
    try:
        for client in clients:
            await client.connect()
            await client.publish(CounterVideoTrack(width=192, height=144, fps=15))
            await client.publish(ToneAudioTrack())
        for me, client in zip(names, clients, strict=True):
            for other in names:
                if other == me:
                    continue
                video = await client.wait_for_track(identity=other, kind="video", timeout=15)
                await client.wait_for_track(identity=other, kind="audio", timeout=15)
                counters = await read_counters(video.track, 3, timeout=15)
                assert counters == sorted(counters)
    finally:
        for client in clients:
            await client.close()


async def test_a_fan_out_in_slices_reaches_everyone_in_order(
    meetbox_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one down-track per slice: each packet goes out over four event-loop turns
    monkeypatch.setattr(uptrack, "FANOUT_SLICE", 1)
    viewers = [meetbox_server.client("sliced", f"viewer-{i}") for i in range(4)]
    async with meetbox_server.client("sliced", "speaker") as speaker:
        try:
            for viewer in viewers:
                await viewer.connect()
            await speaker.publish(CounterVideoTrack(width=192, height=144, fps=15))
            for viewer in viewers:
                video = await viewer.wait_for_track(identity="speaker", kind="video")
                counters = await read_counters(video.track, 10, timeout=15)
                assert counters == sorted(counters)
                assert counters[-1] - counters[0] >= 9
        finally:
            for viewer in viewers:
                await viewer.close()


async def test_late_joiner_decodes_video_within_one_second(meetbox_server: EmbeddedServer) -> None:
    async with meetbox_server.client("late", "early") as early:
        await early.publish(CounterVideoTrack())
        # let the publisher's single keyframe pass: aiortc's encoder sends the next
        # one only when asked, so the late joiner depends on the SFU's request
        room = meetbox_server.room("late")
        assert room is not None

        def first_track() -> UpTrack | None:
            return next(iter(room.router.uptracks.values()), None)

        up = await eventually(first_track)
        await eventually(lambda: up.packets_received > 60)
        requests_before = up.keyframe_requests_sent

        start = time.monotonic()
        async with meetbox_server.client("late", "latecomer") as late:
            video = await late.wait_for_track(identity="early", kind="video")
            counters = await read_counters(video.track, 1, timeout=5)
            elapsed = time.monotonic() - start
        assert counters[0] > 30  # a frame from the live stream, not its start
        assert elapsed < 1.0, f"first decoded frame after {elapsed:.3f}s"
        assert up.keyframe_requests_sent > requests_before


async def test_unsubscribe_stops_packets_and_resubscribe_resumes(
    meetbox_server: EmbeddedServer,
) -> None:
    async with streaming(meetbox_server, "sub", frames=3) as (_, viewer, remote, track_sid):
        room = meetbox_server.room("sub")
        assert room is not None
        up = room.router.uptracks[track_sid]  # type: ignore[index]
        down = up.downtracks[0]

        await viewer.unsubscribe(track_sid)
        assert down.closed and not up.downtracks
        sent = down.packets_sent
        received = up.packets_received
        await eventually(lambda: up.packets_received > received + 30)
        assert down.packets_sent == sent  # nothing more went to the viewer

        await viewer.subscribe(track_sid)
        again = await viewer.wait_for_track(identity="pub", kind="video")
        assert again.track is not remote.track
        counters = await read_counters(again.track, 3)
        assert counters == sorted(counters)
        assert up.downtracks[0].packets_sent > 0
