"""Streaming sessions for API clients (seed 002) and live subtitles (seed 000)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.errors import InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from meetbox.store import Store, is_id, now_iso
from meetbox.web.replies import BOOLEAN, ID, STRING, array, obj, replies
from meetbox.web.routing import Ctx, Reply, RouteTable
from meetbox.web.schema import SAFE_ID, Field, Obj, validate

routes = RouteTable("streaming and subtitles")

STREAM_TOKEN_TTL = 6 * 3600


def hash_secret(secret: str) -> str:
    """Client secrets are 256-bit random strings: SHA-256 is enough to store them safely."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_client(store: Store, name: str) -> tuple[str, str]:
    """A new API client; returns its id and its secret (shown once, stored hashed)."""
    client_id = "CL" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    await store.api_clients.insert(
        {
            "clientId": client_id,
            "name": name,
            "secretHash": hash_secret(secret),
            "createdAt": now_iso(),
        }
    )
    return client_id, secret


COUNTS = Obj(
    {
        "publisher_count": Field("integer", required=True, minimum=0, maximum=50),
        "subscriber_count": Field("integer", required=True, minimum=0, maximum=500),
    }
)


@routes.add(
    "POST",
    "/session-storage/sessions",
    summary="Create a streaming room with publisher and subscriber tokens",
    description="Authenticated by the ClientID and ClientSecret headers of an API client.",
    auth="none",
    rate="auth",
    body=Obj(
        {"data": Field("object", required=True)},
        examples={"data": {"publisher_count": 1, "subscriber_count": 3}},
    ),
    responses=replies(
        {
            200: Reply(
                "The room and its tokens",
                obj(
                    {
                        "ok": {"type": "boolean", "enum": [True]},
                        "data": obj(
                            {
                                "publisher": array(STRING),
                                "subscriber": array(STRING),
                                "room_name": STRING,
                                "stream_url": STRING,
                                "control_url": STRING,
                            }
                        ),
                    }
                ),
            )
        }
    ),
)
async def streaming_session(ctx: Ctx) -> web.Response:
    client_id = ctx.request.headers.get("ClientID", "")
    secret = ctx.request.headers.get("ClientSecret", "")
    if not client_id or not secret:
        raise Unauthenticated("send the ClientID and ClientSecret headers")
    client = await ctx.api.store.api_clients.find_one({"clientId": client_id[:64]})
    expected = client["secretHash"] if client else hash_secret(secrets.token_hex(8))
    if client is None or not hmac.compare_digest(expected, hash_secret(secret)):
        raise Unauthenticated("invalid client credentials")
    counts = validate(COUNTS, ctx.body["data"], "body field 'data'")
    if counts["publisher_count"] + counts["subscriber_count"] == 0:
        raise InvalidArgument("body field 'data': ask for at least one publisher or subscriber")
    room = await ctx.api.store.rooms.insert(
        {
            "name": f"stream {client_id}",
            "type": "live",
            "maxParticipants": counts["publisher_count"] + counts["subscriber_count"],
            "isPrivate": True,
            "ownerId": None,
            "clientId": client_id,
            "createdAt": now_iso(),
        }
    )
    name = room["_id"]
    key, api_secret = ctx.api.api_key, ctx.api.api_secret
    publisher = VideoGrant(
        room=name, room_join=True, can_publish=True, can_subscribe=True, can_publish_data=True
    )
    subscriber = VideoGrant(
        room=name, room_join=True, can_publish=False, can_subscribe=True, can_publish_data=True
    )
    base = ctx.api.base_url(ctx.request)
    data = {
        "publisher": [
            mint_token(key, api_secret, f"publisher-{i}", publisher, ttl=STREAM_TOKEN_TTL)
            for i in range(counts["publisher_count"])
        ],
        "subscriber": [
            mint_token(key, api_secret, f"subscriber-{i}", subscriber, ttl=STREAM_TOKEN_TTL)
            for i in range(counts["subscriber_count"])
        ],
        "room_name": name,
        "stream_url": base,
        "control_url": base.replace("http", "ws", 1) + "/socket.io/",
    }
    return web.json_response({"ok": True, "data": data})


@routes.add(
    "POST",
    "/api/v1.0/rooms/{id}/start-subtitle/",
    summary="Start live subtitles: dispatch the transcriber agent once",
    description="Authorised only by a room token for this room whose holder is connected now.",
    auth="none",
    params=Obj({"id": Field("string", required=True, pattern=SAFE_ID)}),
    body=Obj(
        {
            "token": Field(
                "string", max_length=8192, description="the room access token; or send it as Bearer"
            )
        }
    ),
    responses=replies(
        {
            200: Reply(
                "Dispatched (or already active)",
                obj({"status": STRING, "dispatchId": ID, "created": BOOLEAN}),
            )
        },
        403,
        404,
    ),
)
async def start_subtitle(ctx: Ctx) -> web.Response:
    room_id = ctx.params["id"]
    token = ctx.body.get("token")
    if token is None:
        header = ctx.request.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
    if not token:
        raise Unauthenticated("send the room access token (body 'token' or Authorization: Bearer)")
    claims = ctx.api.signalling.verifier.verify(token)
    if claims.video.room != room_id:
        raise PermissionDenied("this token was issued for another room")
    if not claims.video.room_join:
        raise PermissionDenied("this token does not grant roomJoin: it cannot start subtitles")
    live = ctx.api.signalling.rooms.get(room_id)
    known = live is not None or (is_id(room_id) and await ctx.api.store.rooms.get(room_id))
    if not known:
        raise NotFound("no room with this id")
    try:
        if live is None:
            raise NotFound("the room is not live")
        live.by_identity(claims.identity)
    except NotFound:
        raise PermissionDenied(
            "only a participant connected to the room can start subtitles"
        ) from None
    async with ctx.api.dispatch_lock:  # one active dispatch per room, even when calls race
        active = await ctx.api.store.dispatches.find_one(
            {"roomId": room_id, "agent": "transcriber", "state": "active"}
        )
        if active is not None:
            return web.json_response(
                {"status": "already_active", "dispatchId": active["_id"], "created": False}
            )
        doc = await ctx.api.store.dispatches.insert(
            {
                "roomId": room_id,
                "roomSid": live.sid,
                "agent": "transcriber",
                "state": "active",
                "requestedBy": claims.identity,
                "createdAt": now_iso(),
            }
        )
    return web.json_response({"status": "success", "dispatchId": doc["_id"], "created": True})
