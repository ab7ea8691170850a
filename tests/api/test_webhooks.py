"""Webhooks as LiveKit sends them, received by a server the test runs and checked with
LiveKit's own receiver (livekit-api's ``WebhookReceiver``): a meeting's room, participant,
track and recording events in order, signed with the API key, retried after a failure."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import jwt
import pytest
import pytest_asyncio
from aiohttp import web

from meetbox.server import EmbeddedServer
from meetbox.services.webhooks import WebhookConfig, WebhookNotifier
from meetbox.tracks import CounterVideoTrack
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)


@dataclass
class Receiver:
    """An HTTP endpoint that keeps what it is sent; it answers 500 to the first ``fail``
    requests."""

    url: str = ""
    fail: int = 0
    attempts: int = 0
    received: list[tuple[str, str, str]] = field(default_factory=list)  # body, auth, type

    def events(self) -> list[str]:
        import json

        return [json.loads(body)["event"] for body, _, _ in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: web.Request) -> web.Response:
        state.attempts += 1
        if state.fail > 0:
            state.fail -= 1
            return web.Response(status=500)
        body = await request.text()
        state.received.append(
            (body, request.headers.get("Authorization", ""), request.content_type)
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    await runner.cleanup()


async def test_a_meeting_is_told_as_livekit_tells_it(receiver: Receiver) -> None:
    livekit_api = pytest.importorskip("livekit.api")
    async with EmbeddedServer(
        webhooks={"urls": (receiver.url,)}, room={"empty_timeout": 0.3}
    ) as server:
        room = "hooks"
        ann = server.client(room, "ann", room_admin=True)
        bob = server.client(room, "bob")
        await ann.connect()
        track_sid = await ann.publish(CounterVideoTrack())
        await bob.connect()
        await ann.send("recording", {"recording": True})
        await eventually(lambda: "egress_started" in receiver.events(), 15)
        app = server.server
        assert app is not None
        recordings = app.recordings.active
        # until the recording has a file (its first keyframe came)
        await eventually(lambda: any(a.recording.files for a in recordings.values()), 15)
        await ann.send("recording", {"recording": False})
        await ann.unpublish(track_sid)
        await bob.leave()
        await ann.leave()
        await eventually(lambda: "room_finished" in receiver.events(), 20)
    events = receiver.events()
    expected = [
        "room_started",
        "participant_joined",  # ann
        "track_published",
        "participant_joined",  # bob
        "egress_started",
        "egress_ended",
        "track_unpublished",
        "participant_left",
        "participant_left",
        "room_finished",
    ]
    # joins come through the room observer, tracks and recordings through the room's
    # broadcasts: under load a join's webhook may follow a publish that came just after it
    assert events[0] == "room_started" and events[-1] == "room_finished", events
    assert sorted(events) == sorted(expected), events
    order = [e for e in events if e.startswith(("egress", "track"))]
    assert order == ["track_published", "egress_started", "egress_ended", "track_unpublished"]
    verifier = livekit_api.TokenVerifier(server.api_key, server.api_secret)
    parsed = [
        livekit_api.WebhookReceiver(verifier).receive(body, auth)
        for body, auth, _ in receiver.received
    ]
    assert {kind for _, _, kind in receiver.received} == {"application/webhook+json"}
    assert len({event.id for event in parsed}) == len(parsed)  # each its own id
    assert {event.room.name for event in parsed} == {room}
    assert len({event.room.sid for event in parsed}) == 1 and parsed[0].room.sid
    joined = [e.participant.identity for e in parsed if e.event == "participant_joined"]
    assert joined == ["ann", "bob"]
    published = next(e for e in parsed if e.event == "track_published")
    assert published.track.sid == track_sid and published.participant.identity == "ann"
    assert published.track.type == 1 and published.track.source == 1  # VIDEO, CAMERA
    started = next(e for e in parsed if e.event == "egress_started")
    ended = next(e for e in parsed if e.event == "egress_ended")
    assert started.egress_info.egress_id
    assert started.egress_info.egress_id == ended.egress_info.egress_id
    assert started.egress_info.status == 1 and ended.egress_info.status == 3  # ACTIVE, COMPLETE
    assert ended.egress_info.file_results and ended.egress_info.file_results[0].filename


async def test_the_signature_covers_the_body_and_a_failed_post_is_retried(
    receiver: Receiver,
) -> None:
    receiver.fail = 2
    secret = "s" * 40
    notifier = WebhookNotifier(WebhookConfig((receiver.url,), "key", secret, 2.0, 4))
    try:
        notifier.send("room_started", room={"sid": "RM_x", "name": "r"})
        await eventually(lambda: receiver.received, 15)
    finally:
        await notifier.close()
    assert receiver.attempts == 3 and notifier.sent == 1 and notifier.failed == 0
    body, auth, _ = receiver.received[0]
    claims = jwt.decode(auth, secret, algorithms=["HS256"], issuer="key")
    assert base64.b64decode(claims["sha256"]) == hashlib.sha256(body.encode()).digest()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(auth, "t" * 40, algorithms=["HS256"], issuer="key")


async def test_a_dead_receiver_is_given_up_on_without_holding_anything(
    receiver: Receiver,
) -> None:
    receiver.fail = 10
    notifier = WebhookNotifier(WebhookConfig((receiver.url,), "key", "s" * 40, 1.0, 2, 2))
    try:
        for _ in range(5):  # a queue of 2: the rest are dropped, at once
            notifier.send("room_finished", room={"sid": "RM_x", "name": "r"})
        assert notifier.dropped >= 2
        await eventually(lambda: notifier.failed >= 1, 15)
    finally:
        await asyncio.wait_for(notifier.close(deadline=1.0), 10)
    assert not receiver.received


def test_bad_webhook_settings_are_refused() -> None:
    from meetbox.config import Settings

    with pytest.raises(ValueError, match=r"webhooks\.urls must be http"):
        Settings().replace(webhooks={"urls": ("ftp://x",)}).validate()
    with pytest.raises(ValueError, match=r"webhooks\.attempts"):
        Settings().replace(webhooks={"attempts": 0}).validate()
