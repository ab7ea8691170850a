"""Two real aiortc participants exchange media through meetbox over loopback."""

from __future__ import annotations

from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack, ToneAudioTrack
from tests.helpers import read_counters


async def test_two_participants_decode_each_others_frames(meetbox_server: EmbeddedServer) -> None:
    async with meetbox_server.client("duo", "alice") as alice, meetbox_server.client("duo", "bob") as bob:
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

        frame = await alice_audio.track.recv()
        assert frame.sample_rate == 48000
