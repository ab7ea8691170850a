"""Captions when things go wrong: the engine down and back, a speaker leaving mid-sentence,
the room closing while the agent works, the speech worker killed."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from meetbox.client import Client
from meetbox.server import EmbeddedServer
from meetbox.speech.espeak import speech
from meetbox.tracks import SpeechAudioTrack
from tests.helpers import eventually
from tests.speech.fakes import OpenAiLike

pytestmark = pytest.mark.timeout(120)

SENTENCE = "the quarterly report is due on friday and maria will send it to the team"


def states(client: Client) -> list[dict[str, Any]]:
    return list(client.received("captions"))


def finals(client: Client, identity: str) -> list[dict[str, Any]]:
    return [e for e in client.received("transcript") if e.get("final") and e.get("id") == identity]


async def speaking(server: EmbeddedServer, room: str, alice: Client) -> SpeechAudioTrack:
    """Alice's microphone published and the room's captions started."""
    voice = SpeechAudioTrack()
    await alice.publish(voice)
    await start_captions(server, room, alice)
    return voice


async def start_captions(server: EmbeddedServer, room: str, alice: Client) -> None:
    running = server.server
    assert running is not None
    result = await running.captions.start(room, "alice")
    assert result["created"] is True
    await alice.wait_for(lambda: states(alice) or None, timeout=10)


async def test_an_engine_that_is_down_is_reported_and_its_return_announced() -> None:
    fake = OpenAiLike()  # its port is chosen now; nothing listens on it yet
    speech_settings = {"engine": "http", "http_url": fake.url, "http_model": "whisper-1"}
    async with EmbeddedServer(speech=speech_settings) as server:
        alice = server.client("down", "alice", name="Alice")
        bob = server.client("down", "bob", name="Bob")
        async with alice, bob:
            voice = await speaking(server, "down", alice)
            voice.say(speech(SENTENCE, 48000))
            error = await bob.wait_for(
                lambda: next((s for s in states(bob) if s["state"] == "error"), None), 30
            )
            assert "unreachable" in error["message"] and error["retryIn"] > 0
            # the meeting goes on
            sent = await alice.send("chat-box", {"msg": "can you hear me?"})
            assert sent["message"]["msg"] == "can you hear me?"
            await fake.start()
            try:
                back = await bob.wait_for(
                    lambda: next((s for s in states(bob) if s.get("recovered")), None), 40
                )
                assert back["state"] == "active"
                # the utterance said while it was down was kept and is transcribed now
                said = await bob.wait_for(lambda: finals(bob, "alice") or None, 20)
                assert said[0]["msg"].startswith("heard ") and said[0]["username"] == "Alice"
                # all of it (on a busy machine the detector may cut it in two)
                assert sum(h.seconds for h in fake.transcriptions) > 3
            finally:
                await fake.stop()


async def test_a_speaker_who_leaves_mid_sentence_still_gets_her_final() -> None:
    async with EmbeddedServer() as server:
        alice = server.client("leave", "alice", name="Alice")
        bob = server.client("leave", "bob", name="Bob")
        async with bob:
            await alice.connect()
            voice = await speaking(server, "leave", alice)
            running = server.server
            assert running is not None
            await running.captions.pool.wait_ready(60)
            voice.say(speech(SENTENCE, 48000))
            # she goes while still speaking (the sentence lasts about 4.5 s), once three
            # words were heard (about a second in)
            try:
                await bob.wait_for(
                    lambda: (
                        [
                            e
                            for e in bob.received("transcript")
                            if e["id"] == "alice" and len(e["msg"].split()) >= 3
                        ]
                        or None
                    ),
                    30,
                )
            except TimeoutError:
                raise AssertionError(
                    f"heard {bob.received('transcript')}; captions {states(bob)}"
                ) from None
            await alice.close()
            said = await bob.wait_for(lambda: finals(bob, "alice") or None, 20)
            assert said[0]["username"] == "Alice" and "quarter" in said[0]["msg"].lower()
            assert not said[0]["msg"].lower().endswith("to the team.")  # cut short
            room = server.room("leave")
            assert room is not None
            agent = room.agents["transcriber"]
            await eventually(lambda: not getattr(agent, "taps", None), timeout=10)
            await eventually(lambda: not running.captions.pool.listeners, timeout=10)


async def test_a_room_that_closes_while_the_agent_works_leaves_nothing_behind() -> None:
    async with EmbeddedServer(room={"empty_timeout": 0.1}) as server:
        running = server.server
        assert running is not None
        alice = server.client("closing", "alice", name="Alice")
        async with alice:
            voice = await speaking(server, "closing", alice)
            room = server.room("closing")
            assert room is not None
            voice.say(speech(SENTENCE, 48000))
            await alice.wait_for(lambda: alice.received("transcript") or None, 20)
        # alice left mid-sentence: the room closes after its empty timeout, agent first
        await eventually(lambda: room.closed, timeout=10)
        assert not room.agents and not running.captions.agents
        await eventually(lambda: not running.captions.pool.listeners, timeout=15)
        dispatches = await running.store.dispatches.find({"roomId": "closing"})
        assert [d["state"] for d in dispatches] == ["ended"]
        assert dispatches[0]["reason"] == "room closed"


async def test_a_killed_speech_worker_is_started_again() -> None:
    async with EmbeddedServer() as server:
        running = server.server
        assert running is not None
        alice = server.client("kill", "alice", name="Alice")
        async with alice:
            voice = await speaking(server, "kill", alice)
            pool = running.captions.pool
            await pool.wait_ready(60)
            (pid,) = pool.pids()
            os.kill(pid, signal.SIGKILL)
            error = await alice.wait_for(
                lambda: next((s for s in states(alice) if s["state"] == "error"), None), 20
            )
            assert "restarting" in error["message"]
            await alice.wait_for(
                lambda: next((s for s in states(alice) if s.get("recovered")), None), 30
            )
            assert pool.pids() and pool.pids()[0] != pid
            await pool.wait_ready(60)
            voice.say(speech(SENTENCE, 48000))
            said = await alice.wait_for(lambda: finals(alice, "alice") or None, 30)
            assert "quarterly" in said[0]["msg"].lower()


async def test_a_later_speaker_is_picked_up_and_a_muted_one_costs_nothing() -> None:
    async with EmbeddedServer() as server:
        running = server.server
        assert running is not None
        bob = server.client("later", "bob", name="Bob")
        async with bob:
            await start_captions(server, "later", bob)  # nobody speaks yet
            alice = server.client("later", "alice", name="Alice")
            async with alice:
                voice = SpeechAudioTrack()
                track_sid = await alice.publish(voice)
                room = server.room("later")
                assert room is not None
                await eventually(lambda: any(up.taps for up in room.router.uptracks.values()))
                await running.captions.pool.wait_ready(60)
                await alice.set_muted(track_sid, True)
                (up,) = [u for u in room.router.uptracks.values() if u.kind == "audio"]
                (tap,) = up.taps
                handle = tap.handle  # type: ignore[attr-defined]
                voice.say(speech(SENTENCE, 48000))
                await voice.finished()
                assert not handle._batch and not bob.received("transcript")
                await alice.set_muted(track_sid, False)
                voice.say(speech(SENTENCE, 48000))
                said = await bob.wait_for(lambda: finals(bob, "alice") or None, 30)
                assert said[0]["username"] == "Alice" and "report" in said[0]["msg"].lower()
