"""Streaming sessions for API clients (seed 002) and live subtitles (seed 000)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from meetbox.rtc.observer import CaptionControl
from meetbox.services.translation import MAX_TARGETS
from meetbox.store import Store, is_id, now_iso
from meetbox.web import translation_socket
from meetbox.web.replies import BOOLEAN, ID, STRING, array, obj, replies
from meetbox.web.routing import Ctx, Reply, RouteTable
from meetbox.web.schema import LANGUAGE_CODE, SAFE_ID, Field, Obj, validate

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
        "source_language": Field(
            "string",
            pattern=rf"^(auto|{LANGUAGE_CODE[1:-1]})$",
            description="what the publishers speak; 'auto': detected per utterance",
        ),
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
            # and the session's interpreters, one a target language
            "maxParticipants": counts["publisher_count"] + counts["subscriber_count"] + MAX_TARGETS,
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
    # the session's pipeline: its agent starts when the room does
    ctx.api.translations.create(name, STREAM_TOKEN_TTL, counts.get("source_language", ""))
    base = ctx.api.base_url(ctx.request)

    def tokens(role: str, grant: VideoGrant, count: int) -> list[str]:
        extra = translation_socket.permissions_of(role)
        return [
            mint_token(key, api_secret, f"{role}-{i}", grant, ttl=STREAM_TOKEN_TTL, extra=extra)
            for i in range(count)
        ]

    data = {
        "publisher": tokens("publisher", publisher, counts["publisher_count"]),
        "subscriber": tokens("subscriber", subscriber, counts["subscriber_count"]),
        "room_name": name,
        "stream_url": base,
        "control_url": base.replace("http", "ws", 1) + translation_socket.PATH,
    }
    return web.json_response({"ok": True, "data": data})


SUBTITLE_BODY = Obj(
    {
        "token": Field(
            "string", max_length=8192, description="the room access token; or send it as Bearer"
        ),
        "language": Field(
            "string",
            pattern=LANGUAGE_CODE,
            description="the spoken language (BCP 47: en, fr, pt-BR); the server's default "
            "when absent",
        ),
    }
)


async def subtitle_caller(ctx: Ctx, action: str) -> tuple[str, str]:
    """Seed 000's rule: a room token for this room, with roomJoin, whose holder is connected
    now; 404 for a room that does not exist. Returns the room and the holder's identity."""
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
        raise PermissionDenied(f"this token does not grant roomJoin: it cannot {action} subtitles")
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
            f"only a participant connected to the room can {action} subtitles"
        ) from None
    return room_id, claims.identity


def captions_of(ctx: Ctx) -> CaptionControl:
    captions = ctx.api.signalling.captions
    if captions is None:
        raise FailedPrecondition("this server runs no transcriber")
    return captions


@routes.add(
    "POST",
    "/api/v1.0/rooms/{id}/start-subtitle/",
    summary="Start live subtitles: the room's transcriber agent, started once",
    description="Authorised only by a room token for this room whose holder is connected now. "
    "The agent joins the room once however often it is asked; captions reach the room as "
    "`transcript` events and its state as `captions` events.",
    auth="none",
    params=Obj({"id": Field("string", required=True, pattern=SAFE_ID)}),
    body=SUBTITLE_BODY,
    responses=replies(
        {
            200: Reply(
                "Started (or already running)",
                obj({"status": STRING, "dispatchId": ID, "created": BOOLEAN, "language": STRING}),
            )
        },
        403,
        404,
    ),
)
async def start_subtitle(ctx: Ctx) -> web.Response:
    room_id, identity = await subtitle_caller(ctx, "start")
    result = await captions_of(ctx).start(room_id, identity, ctx.body.get("language"))
    return web.json_response(result)


@routes.add(
    "POST",
    "/api/v1.0/rooms/{id}/stop-subtitle/",
    summary="Stop live subtitles: the room's transcriber agent leaves",
    description="The same rules as start-subtitle.",
    auth="none",
    params=Obj({"id": Field("string", required=True, pattern=SAFE_ID)}),
    body=SUBTITLE_BODY,
    responses=replies({200: Reply("Stopped", obj({"status": STRING, "dispatchId": ID}))}, 403, 404),
)
async def stop_subtitle(ctx: Ctx) -> web.Response:
    room_id, identity = await subtitle_caller(ctx, "stop")
    return web.json_response(await captions_of(ctx).stop(room_id, f"stopped by {identity}"))
