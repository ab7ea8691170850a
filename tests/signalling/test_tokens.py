"""Room access tokens: each rule the server enforces, through a real connection."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from meetbox.auth.tokens import TokenVerifier, VideoGrant, mint_token
from meetbox.client import Client, ClientError
from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack
from tests.helpers import eventually

KEY = "APIkey"
SECRET = "s" * 40


async def refused(server: EmbeddedServer, token: str, room: str | None = None) -> ClientError:
    client = Client(server.url, token, room=room)
    with pytest.raises(ClientError) as info:
        await client.connect()
    await client.close()
    return info.value


def test_minted_token_has_livekit_claim_layout() -> None:
    token = mint_token(
        KEY, SECRET, "alice", VideoGrant(room="r1", room_join=True), name="Alice", ttl=60
    )
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["iss"] == KEY and claims["sub"] == "alice" and claims["name"] == "Alice"
    assert claims["exp"] - claims["nbf"] == 60
    assert claims["video"] == {
        "room": "r1",
        "roomJoin": True,
        "roomAdmin": False,
        "canPublish": True,
        "canSubscribe": True,
        "canPublishData": True,
        "hidden": False,
        "recorder": False,
    }


def test_livekit_defaults_apply_to_unset_grant_fields() -> None:
    # the shape LiveKit's server SDKs emit: unset permissions are simply absent
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": KEY,
            "sub": "bob",
            "nbf": now,
            "exp": now + 60,
            "video": {"room": "r", "roomJoin": True},
        },
        SECRET,
        algorithm="HS256",
    )
    claims = TokenVerifier({KEY: SECRET}).verify_for_room(token, "r")
    assert claims.video.can_publish and claims.video.can_subscribe and claims.video.can_publish_data
    assert not claims.video.hidden and not claims.video.room_admin


async def test_token_for_another_room_is_refused(meetbox_server: EmbeddedServer) -> None:
    error = await refused(meetbox_server, meetbox_server.token("room-a", "alice"), room="room-b")
    assert error.server_code == "unauthenticated"
    assert "for room 'room-a', not 'room-b'" in error.message


async def test_expired_token_is_refused(meetbox_server: EmbeddedServer) -> None:
    video = VideoGrant(room="r", room_join=True)
    token = mint_token(
        meetbox_server.api_key,
        meetbox_server.api_secret,
        "old",
        video,
        ttl=60,
        now=time.time() - 120,
    )
    error = await refused(meetbox_server, token)
    assert error.message == "access token has expired"


async def test_not_yet_valid_token_is_refused(meetbox_server: EmbeddedServer) -> None:
    video = VideoGrant(room="r", room_join=True)
    token = mint_token(
        meetbox_server.api_key, meetbox_server.api_secret, "early", video, now=time.time() + 600
    )
    error = await refused(meetbox_server, token)
    assert "not valid yet" in error.message


async def test_alg_none_token_is_refused(meetbox_server: EmbeddedServer) -> None:
    def b64(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": meetbox_server.api_key,
        "sub": "mallory",
        "exp": now + 60,
        "video": {"room": "r", "roomJoin": True, "roomAdmin": True},
    }
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    error = await refused(meetbox_server, token)
    assert "algorithm 'none' is not accepted" in error.message


async def test_token_signed_with_another_secret_is_refused(meetbox_server: EmbeddedServer) -> None:
    token = mint_token(
        meetbox_server.api_key, "x" * 40, "eve", VideoGrant(room="r", room_join=True)
    )
    error = await refused(meetbox_server, token)
    assert error.message == "access token signature is invalid"


async def test_token_without_room_join_is_refused(meetbox_server: EmbeddedServer) -> None:
    error = await refused(meetbox_server, meetbox_server.token("r", "alice", room_join=False))
    assert error.message == "access token does not grant roomJoin"


async def test_missing_and_garbage_tokens_are_refused(meetbox_server: EmbeddedServer) -> None:
    assert (await refused(meetbox_server, "")).message == "an access token is required"
    assert (await refused(meetbox_server, "not.a.jwt")).message == "access token is malformed"


async def test_no_publish_grant_refuses_publish_offer(meetbox_server: EmbeddedServer) -> None:
    async with meetbox_server.client("np", "viewer", can_publish=False) as viewer:
        with pytest.raises(ClientError) as info:
            await viewer.publish(CounterVideoTrack())
        assert info.value.server_code == "permission_denied"
        assert "canPublish is false" in info.value.message
        room = meetbox_server.room("np")
        assert room is not None and not room.router.uptracks


async def test_publish_sources_grant_is_enforced(meetbox_server: EmbeddedServer) -> None:
    token = meetbox_server.token("src", "mic-only", can_publish_sources=("microphone",))
    async with Client(meetbox_server.url, token) as client:
        with pytest.raises(ClientError) as info:
            await client.publish(CounterVideoTrack())
        assert info.value.message == "this token does not allow publishing camera"


async def test_no_subscribe_grant_receives_nothing(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("ns", "pub") as pub,
        meetbox_server.client("ns", "deaf", can_subscribe=False) as deaf,
    ):
        track_sid = await pub.publish(CounterVideoTrack())
        await eventually(lambda: track_sid in deaf.published)
        room = meetbox_server.room("ns")
        assert room is not None
        up = await eventually(lambda: room.router.uptracks.get(track_sid))  # type: ignore[call-overload]
        await eventually(lambda: up.packets_received > 30)
        assert not up.downtracks and not deaf.remote and deaf.subscriber is None
        with pytest.raises(ClientError) as info:
            await deaf.subscribe(track_sid)
        assert info.value.server_code == "permission_denied"


async def test_hidden_participant_is_not_announced(meetbox_server: EmbeddedServer) -> None:
    async with meetbox_server.client("hid", "visible") as visible:
        await visible.publish(CounterVideoTrack())
        async with meetbox_server.client("hid", "ghost", hidden=True) as ghost:
            # the hidden participant sees and receives the room
            await ghost.wait_for_track(identity="visible", kind="video")
            async with meetbox_server.client("hid", "third") as third:
                await eventually(
                    lambda: "visible" in {p["identity"] for p in third.participants.values()}
                )
                assert "ghost" not in {p["identity"] for p in third.participants.values()}
            joined = [
                d["participant"]["identity"] for e, d in visible.events if e == "participant_joined"
            ]
            assert joined == ["third"]
