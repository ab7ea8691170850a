"""Active speakers follow the loudest synthetic tone, from RFC 6464 levels alone."""

from __future__ import annotations

from meetbox.server import EmbeddedServer
from meetbox.tracks import ToneAudioTrack


async def test_active_speaker_follows_the_loudest_tone(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("talk", "alice") as alice,
        meetbox_server.client("talk", "bob") as bob,
        meetbox_server.client("talk", "carol") as carol,
    ):
        alice_tone = ToneAudioTrack(amplitude=0.6)
        bob_tone = ToneAudioTrack(frequency=660, amplitude=0.05)
        await alice.publish(alice_tone)
        await bob.publish(bob_tone)
        assert alice.me is not None and bob.me is not None
        alice_sid, bob_sid = alice.me["sid"], bob.me["sid"]

        await carol.wait_for(lambda: carol.active_speakers[:1] == [alice_sid])

        alice_tone.amplitude = 0.05
        bob_tone.amplitude = 0.6
        await carol.wait_for(lambda: carol.active_speakers[:1] == [bob_sid])

        alice_tone.amplitude = 0.0
        bob_tone.amplitude = 0.0
        await carol.wait_for(lambda: carol.active_speakers == [])
