"""Live captions end to end: a participant speaks (espeak-ng through a real aiortc
connection), another receives her words as ``transcript`` events with her name, and the
meeting's stored transcript holds them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from meetbox.speech.espeak import speech
from meetbox.speech.words import word_error_rate
from meetbox.tracks import SpeechAudioTrack
from tests.api.conftest import Rest
from tests.helpers import eventually, wait_async

pytestmark = pytest.mark.timeout(120)

FIRST = "the quarterly report is due on friday and maria will send it to the team"
SECOND = "we decided to move the launch to next month"


async def meeting_in_room(rest: Rest, title: str, transcript: bool = False) -> tuple[str, str, str]:
    """A room and a meeting in it, made through the API: (room id, meeting id, host token)."""
    host = await rest.user("Host")
    room = await rest.call(
        "POST", "/room/create", json={"name": title, "type": "meeting"}, token=host.token
    )
    assert room.status == 201, room.body
    room_id = room.body["data"]["id"]
    made = await rest.call(
        "POST",
        "/meetings/create",
        json={"title": title, "hostId": host.id, "transcriptEnabled": transcript},
        token=host.token,
    )
    assert made.status == 201, made.body
    meeting = made.body["data"]["_id"]
    updated = await rest.call(
        "POST",
        f"/meetings/update/{meeting}",
        json={"roomId": room_id, "userId": host.id},
        token=host.token,
    )
    assert updated.status in (200, 204), updated.body
    return room_id, meeting, host.token


def finals(events: list[Any], identity: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("final") and e.get("id") == identity and e.get("msg")]


async def test_captions_carry_the_speakers_name_and_fill_the_transcript(rest: Rest) -> None:
    server = rest.server
    room_id, meeting, host_token = await meeting_in_room(rest, "Quarterly planning")
    alice = server.client(room_id, "alice", name="Alice")
    bob = server.client(room_id, "bob", name="Bob")
    async with alice, bob:
        voice = SpeechAudioTrack()
        await alice.publish(voice)
        token = server.token(room_id, "alice", name="Alice")
        path = f"/api/v1.0/rooms/{room_id}/start-subtitle/"
        # asked twice at once: one agent
        first, second = await asyncio.gather(
            rest.call("POST", path, json={"token": token}),
            rest.call("POST", path, json={"token": token}),
        )
        assert first.status == second.status == 200, (first.body, second.body)
        assert sorted([first.body["created"], second.body["created"]]) == [False, True]
        assert first.body["dispatchId"] == second.body["dispatchId"]
        running = server.server
        assert running is not None
        await eventually(lambda: bool(running.captions.pool.pids()), timeout=10)
        await running.captions.pool.wait_ready(timeout=60)
        await bob.wait_for(lambda: bob.received("captions") or None, timeout=10)
        assert bob.received("captions")[0]["state"] == "active"

        voice.say(speech(FIRST, 48000))
        said = await bob.wait_for(lambda: finals(bob.received("transcript"), "alice") or None, 30)
        voice.say(speech(SECOND, 48000))
        await bob.wait_for(
            lambda: len(finals(bob.received("transcript"), "alice")) >= 2 or None, 30
        )
        heard = finals(bob.received("transcript"), "alice")
        assert heard[0]["username"] == "Alice" and said[0]["language"] == "en"
        assert word_error_rate(FIRST, heard[0]["msg"]) <= 0.5, heard[0]["msg"]
        assert word_error_rate(SECOND, heard[1]["msg"]) <= 0.5, heard[1]["msg"]
        assert heard[0]["end"] > heard[0]["start"] and heard[1]["start"] >= heard[0]["end"]
        interims = [e for e in bob.received("transcript") if e.get("final") is False]
        assert interims and all(e["id"] == "alice" for e in interims)
        assert interims[0]["segmentId"] == heard[0]["segmentId"]
        # the speaker hears her own captions too
        await alice.wait_for(lambda: finals(alice.received("transcript"), "alice") or None, 10)

        async def stored() -> list[dict[str, Any]]:
            reply = await rest.call("GET", f"/view-transcript/{meeting}", token=host_token)
            assert reply.status == 200, reply.body
            return list(reply.body["data"])

        async def both_stored() -> bool:
            return len(await stored()) >= 2

        await wait_async(both_stored, timeout=10)
        lines = await stored()
        assert [line["userName"] for line in lines] == ["Alice", "Alice"]
        assert word_error_rate(FIRST + " " + SECOND, " ".join(x["message"] for x in lines)) <= 0.5
        docs = await rest.store.transcripts.find({"meetingId": meeting})
        assert all(d["isEncrypted"] and "quarterly" not in d["message"].lower() for d in docs)

        # the summary, as a job whose progress reaches the room
        job = await rest.call(
            "POST", f"/transcription/generate-summary/{meeting}", token=host_token
        )
        assert job.status == 202, job.body

        async def summarised() -> bool:
            reply = await rest.call("GET", f"/meeting/{meeting}/summary", token=host_token)
            return reply.status == 200 and reply.body["state"] == "done"

        await wait_async(summarised, timeout=20)
        summary = (await rest.call("GET", f"/meeting/{meeting}/summary", token=host_token)).body
        data = summary["data"]
        assert {"report", "launch"} & set(data["subjects"]), data
        assert data["participants"] == ["Alice"]
        assert any("decided" in d.lower() for d in data["decisions"]), data
        steps = data["next_steps"]
        assert any(s["owner"] == "Maria" and "friday" in s["deadline"].lower() for s in steps), (
            steps
        )
        assert (
            summary["markdown"].startswith("# Quarterly planning")
            and "## Decisions" in (summary["markdown"])
        )
        progress = [e["progress"] for e in bob.received("summary")]
        assert progress and progress[-1] == 1.0 and progress == sorted(progress)
        meeting_doc = await rest.store.meetings.get(meeting)
        assert meeting_doc is not None and meeting_doc["summaryGenerated"] is True

        stop = await rest.call(
            "POST", f"/api/v1.0/rooms/{room_id}/stop-subtitle/", json={"token": token}
        )
        assert stop.status == 200, stop.body
        await bob.wait_for(
            lambda: any(c["state"] == "stopped" for c in bob.received("captions")) or None, 10
        )
        room = server.room(room_id)
        assert room is not None and "transcriber" not in room.agents
        assert not any(up.taps for up in room.router.uptracks.values())


async def test_a_meeting_with_transcript_enabled_starts_its_captions_with_its_room(
    rest: Rest,
) -> None:
    server = rest.server
    room_id, meeting, _ = await meeting_in_room(rest, "Standup", transcript=True)
    async with server.client(room_id, "carl", name="Carl") as carl:
        state = await carl.wait_for(lambda: carl.received("captions") or None, timeout=15)
        assert state[0]["state"] == "active" and state[0]["by"] == "meeting"
        assert state[0]["meetingId"] == meeting
        room = server.room(room_id)
        assert room is not None and "transcriber" in room.agents
        # a second participant does not start a second agent
        async with server.client(room_id, "dora"):
            assert len(await rest.store.dispatches.find({"roomId": room_id})) == 1
