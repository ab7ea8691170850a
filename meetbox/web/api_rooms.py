"""``/room/create`` and ``/meetings/...``: rooms the SFU serves, and meetings people hold."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.errors import NotFound, PermissionDenied
from meetbox.store import Document, now_iso
from meetbox.web.replies import (
    BOOLEAN,
    EMPTY,
    ID,
    INTEGER,
    STRING,
    TIME,
    array,
    envelope,
    obj,
    replies,
)
from meetbox.web.routing import Ctx, Reply, RouteTable, ok
from meetbox.web.schema import Field, Obj

routes = RouteTable("rooms and meetings")

ROOM_TYPES = ("meeting", "conference", "webinar", "live")
RECORDING_ID = r"^[A-Za-z0-9_-]{1,64}$"
OBJECT_ID = Field("string", required=True, format="objectid")

ROOM = obj(
    {"id": ID, "name": STRING, "type": STRING, "p2p": BOOLEAN},
    {"maxParticipants": INTEGER, "isPrivate": BOOLEAN, "ownerId": ID, "createdAt": TIME},
)
MEETING = obj(
    {
        "_id": ID,
        "title": STRING,
        "hostId": ID,
        "transcriptEnabled": BOOLEAN,
        "summaryGenerated": BOOLEAN,
        "recordingIds": array(STRING),
        "createdAt": TIME,
    },
    {"roomId": {"type": "string", "nullable": True}, "updatedAt": TIME},
)


def room_view(doc: Document) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "type": doc["type"],
        "p2p": False,  # meetbox routes every room through its SFU
        "maxParticipants": doc.get("maxParticipants") or 0,
        "isPrivate": bool(doc.get("isPrivate")),
        "ownerId": doc["ownerId"],
        "createdAt": doc["createdAt"],
    }


@routes.add(
    "POST",
    "/room/create",
    summary="Create a room; its id is the room name tokens and the SFU use",
    auth="user",
    body=Obj(
        {
            "name": Field("string", required=True, min_length=1, max_length=128),
            "type": Field("string", required=True, enum=ROOM_TYPES),
            "maxParticipants": Field("integer", minimum=1, maximum=10000),
            "isPrivate": Field("boolean"),
        },
        examples={"name": "Haseeb Asif", "type": "conference", "maxParticipants": 50},
    ),
    responses=replies({201: Reply("Room created", envelope(ROOM))}),
)
async def create_room(ctx: Ctx) -> web.Response:
    user = ctx.caller.require_user()
    doc = await ctx.api.store.rooms.insert(
        {
            "name": ctx.body["name"],
            "type": ctx.body["type"],
            "maxParticipants": ctx.body.get("maxParticipants", 0),
            "isPrivate": ctx.body.get("isPrivate", False),
            "ownerId": user.id,
            "createdAt": now_iso(),
        }
    )
    return ok(room_view(doc), "Room created Successfully!", status=201)


def meeting_view(doc: Document) -> dict[str, Any]:
    keys = ("_id", "title", "hostId", "transcriptEnabled", "summaryGenerated", "recordingIds")
    view = {k: doc.get(k) for k in keys}
    view.update(
        roomId=doc.get("roomId"), createdAt=doc["createdAt"], updatedAt=doc.get("updatedAt")
    )
    if view["updatedAt"] is None:
        del view["updatedAt"]
    return view


@routes.add(
    "POST",
    "/meetings/create",
    summary="Create a meeting",
    auth="user",
    body=Obj(
        {
            "title": Field("string", required=True, min_length=1, max_length=200),
            "hostId": OBJECT_ID,
            "transcriptEnabled": Field("boolean", required=True),
        }
    ),
    responses=replies({201: Reply("Meeting created", envelope(MEETING))}, 403, 404),
)
async def create_meeting(ctx: Ctx) -> web.Response:
    ctx.caller.require_self_or_admin(ctx.body["hostId"])
    if await ctx.api.store.users.get(ctx.body["hostId"]) is None:
        raise NotFound("no user with this hostId")
    doc = await ctx.api.store.meetings.insert(
        {
            "title": ctx.body["title"],
            "hostId": ctx.body["hostId"],
            "transcriptEnabled": ctx.body["transcriptEnabled"],
            "summaryGenerated": False,
            "recordingIds": [],
            "roomId": None,
            "createdAt": now_iso(),
        }
    )
    return ok(meeting_view(doc), "Meeting created successfully", status=201)


async def owned_meeting(ctx: Ctx, meeting_id: str) -> Document:
    """The meeting, if the caller hosts it or is an admin (404 / 403 otherwise)."""
    user = ctx.caller.require_user()
    doc = await ctx.api.store.meetings.get(meeting_id)
    if doc is None:
        raise NotFound("no meeting with this id")
    if doc["hostId"] != user.id and not user.is_admin:
        raise PermissionDenied("this meeting belongs to another user")
    return doc


@routes.add(
    "POST",
    "/meetings/update/{meetingId}",
    summary="Update a meeting's title, transcript and summary flags, room and recordings",
    auth="user",
    params=Obj({"meetingId": OBJECT_ID}),
    body=Obj(
        {
            "userId": OBJECT_ID,
            "roomId": Field("string", format="objectid"),
            "recordingId": Field("string", pattern=RECORDING_ID),
            "title": Field("string", min_length=1, max_length=200),
            "summaryGenerated": Field("boolean"),
            "transcriptEnabled": Field("boolean"),
        }
    ),
    responses=replies({204: EMPTY}, 403, 404),
)
async def update_meeting(ctx: Ctx) -> web.Response:
    ctx.caller.require_self_or_admin(ctx.body["userId"])
    doc = await owned_meeting(ctx, ctx.params["meetingId"])
    change: dict[str, Any] = {
        k: ctx.body[k]
        for k in ("roomId", "title", "summaryGenerated", "transcriptEnabled")
        if k in ctx.body
    }
    change["updatedAt"] = now_iso()
    push = None
    recording = ctx.body.get("recordingId")
    if recording and recording not in doc.get("recordingIds", []):
        push = {"recordingIds": recording}
    await ctx.api.store.meetings.update({"_id": doc["_id"]}, set=change, push=push)
    return web.Response(status=204)


@routes.add(
    "GET",
    "/meetings/list/{userId}",
    summary="The meetings a user hosts",
    auth="user",
    params=Obj({"userId": OBJECT_ID}),
    responses=replies({200: Reply("Meetings, newest first", envelope(array(MEETING)))}, 403),
)
async def list_meetings(ctx: Ctx) -> web.Response:
    ctx.caller.require_self_or_admin(ctx.params["userId"])
    docs = await ctx.api.store.meetings.find(
        {"hostId": ctx.params["userId"]}, sort=[("createdAt", -1)], limit=1000
    )
    return ok([meeting_view(d) for d in docs], "Meetings retrieved successfully")


@routes.add(
    "POST",
    "/room/{roomId}/token",
    summary="A room access token for the web page: anyone for a public room, allowed users else",
    description=(
        "Public rooms: anyone with the link gets a token once a name is given. Private rooms: "
        "a signed-in user who owns the room, is an admin, or is in its allowedUserIds. The "
        "room's owner (and admins) join as host (roomAdmin)."
    ),
    auth="none",
    rate="auth",
    params=Obj({"roomId": OBJECT_ID}),
    body=Obj({"name": Field("string", required=True, min_length=1, max_length=64)}),
    responses=replies(
        {200: Reply("Token", envelope(obj({"token": STRING, "identity": STRING, "room": ROOM})))},
        403,
        404,
    ),
)
async def room_token(ctx: Ctx) -> web.Response:
    room = await ctx.api.store.rooms.get(ctx.params["roomId"])
    if room is None:
        raise NotFound("no room with this id")
    user = ctx.caller.user
    allowed = user is not None and (
        user.is_admin or room.get("ownerId") == user.id or user.id in room.get("allowedUserIds", [])
    )
    if room.get("isPrivate") and not allowed:
        if user is None:
            raise PermissionDenied("this room is private: sign in first")
        raise PermissionDenied("this room is private and you are not on its list")
    is_host = user is not None and (user.is_admin or room.get("ownerId") == user.id)
    identity = f"user-{user.id}" if user else f"guest-{secrets.token_hex(4)}"
    webinar = room["type"] in ("webinar", "live")
    grant = VideoGrant(
        room=room["_id"],
        room_join=True,
        room_admin=is_host,
        # in webinars and live rooms viewers watch until the host gives them the microphone
        can_publish=is_host or not webinar,
    )
    token = mint_token(
        ctx.api.api_key, ctx.api.api_secret, identity, grant, name=ctx.body["name"], ttl=6 * 3600
    )
    return ok({"token": token, "identity": identity, "room": room_view(room)}, "Token issued")
