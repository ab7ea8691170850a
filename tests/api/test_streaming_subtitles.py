"""Streaming sessions for API clients (seed 002) and live subtitles (seed 000)."""

from __future__ import annotations

import pytest

from meetbox.auth.tokens import TokenVerifier
from meetbox.client import ClientError
from meetbox.server import EmbeddedServer
from meetbox.tracks import ToneAudioTrack
from meetbox.web.api_streaming import create_client
from tests.api.conftest import Rest


async def test_a_streaming_session_gives_tokens_with_the_right_grants(
    rest: Rest, server: EmbeddedServer
) -> None:
    client_id, secret = await create_client(rest.store, "translator")
    stored = await rest.store.api_clients.find_one({"clientId": client_id})
    assert stored is not None and secret not in str(stored)
    headers = {"ClientID": client_id, "ClientSecret": secret}
    body = {"data": {"publisher_count": 1, "subscriber_count": 3}}
    reply = await rest.call("POST", "/session-storage/sessions", json=body, headers=headers)
    assert reply.status == 200, reply.body
    assert reply.body["ok"] is True
    data = reply.body["data"]
    assert len(data["publisher"]) == 1 and len(data["subscriber"]) == 3
    assert data["stream_url"] == server.url
    assert data["control_url"] == server.url.replace("http", "ws") + "/speech-to-speech/stream"
    verifier = TokenVerifier({server.api_key: server.api_secret})
    pub = verifier.verify_for_room(data["publisher"][0], data["room_name"])
    assert (pub.video.can_publish, pub.video.can_subscribe, pub.video.can_publish_data) == (
        True,
        True,
        True,
    )
    sub = verifier.verify_for_room(data["subscriber"][0], data["room_name"])
    assert (sub.video.can_publish, sub.video.can_subscribe, sub.video.can_publish_data) == (
        False,
        True,
        True,
    )
    room = await rest.store.rooms.get(data["room_name"])
    assert room is not None and room["type"] == "live"

    from meetbox.client import Client

    async with Client(server.url, data["subscriber"][0]) as listener:
        with pytest.raises(ClientError) as refused:
            await listener.publish(ToneAudioTrack(), source="microphone")
        assert refused.value.server_code == "permission_denied"

    for wrong in (
        {"ClientID": client_id, "ClientSecret": secret + "x"},
        {"ClientID": "CLnope", "ClientSecret": secret},
        {},
    ):
        denied = await rest.call("POST", "/session-storage/sessions", json=body, headers=wrong)
        assert denied.status == 401
    for bad in (
        {"data": {"publisher_count": -1, "subscriber_count": 1}},
        {"data": {"publisher_count": 0, "subscriber_count": 0}},
        {"data": {"publisher_count": 1}},
        {"data": "x"},
        {},
    ):
        rejected = await rest.call("POST", "/session-storage/sessions", json=bad, headers=headers)
        assert rejected.status == 400, bad
    assert await rest.store.rooms.count({}) == 1


async def test_subtitles_start_once_for_a_connected_participant_of_that_room(
    rest: Rest, server: EmbeddedServer
) -> None:
    owner = await rest.user("owner")
    made = await rest.call(
        "POST", "/room/create", json={"name": "r", "type": "meeting"}, token=owner.token
    )
    room = made.body["data"]["id"]
    path = f"/api/v1.0/rooms/{room}/start-subtitle/"
    token = server.token(room, "alice")
    not_connected = await rest.call("POST", path, json={"token": token})
    assert not_connected.status == 403 and "connected" in not_connected.body["msg"]
    async with server.client(room, "alice"):
        other_room = await rest.call("POST", path, json={"token": server.token("x", "alice")})
        assert other_room.status == 403
        missing = await rest.call(
            "POST",
            f"/api/v1.0/rooms/{'0' * 24}/start-subtitle/",
            json={"token": server.token("0" * 24, "alice")},
        )
        assert missing.status == 404
        assert (await rest.call("POST", path, json={"token": "garbage"})).status == 401
        assert (await rest.call("POST", path)).status == 401
        first = await rest.call("POST", path, token=token)  # as a Bearer header
        assert first.status == 200 and first.body["created"] is True
        second = await rest.call("POST", path, json={"token": token})
        assert second.status == 200 and second.body["created"] is False
        assert second.body["dispatchId"] == first.body["dispatchId"]
        assert await rest.store.dispatches.count({"roomId": room, "state": "active"}) == 1

    async def ended() -> bool:
        return await rest.store.dispatches.count({"roomId": room, "state": "ended"}) == 1

    from tests.helpers import wait_async

    await wait_async(ended, timeout=10)  # the room closed: the dispatch ended with it
