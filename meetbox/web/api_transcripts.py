"""Transcripts, encrypted at rest (``cipher``), and the speech token for meetbox's speech engine."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web

from meetbox.auth.speech import issue_speech_token
from meetbox.errors import InvalidArgument, NotFound, PermissionDenied
from meetbox.services import cipher
from meetbox.store import Document, iso, now_iso
from meetbox.web.api_rooms import OBJECT_ID, owned_meeting
from meetbox.web.replies import BOOLEAN, ID, STRING, TIME, array, envelope, obj, replies
from meetbox.web.routing import Ctx, Reply, RouteTable, ok
from meetbox.web.schema import Field, Obj

routes = RouteTable("transcripts")

MAX_MESSAGE = 20_000
TRANSCRIPT = obj(
    {"_id": ID, "meetingId": ID, "userName": STRING, "message": STRING, "createdAt": TIME}
)


async def meeting_for(ctx: Ctx, meeting_id: str) -> Document:
    """The meeting, for its host, an admin, or a room-token holder of the meeting's room."""
    if ctx.caller.room is not None:
        doc = await ctx.api.store.meetings.get(meeting_id)
        if doc is None:
            raise NotFound("no meeting with this id")
        if not doc.get("roomId") or doc["roomId"] != ctx.caller.room.video.room:
            raise PermissionDenied("this room token is not for this meeting's room")
        return doc
    return await owned_meeting(ctx, meeting_id)


@routes.add(
    "GET",
    "/api/get-speech-token",
    summary="A short-lived token for meetbox's speech endpoint, scoped to one meeting",
    auth="user_or_room",
    rate="sign",
    query=Obj({"meetingId": OBJECT_ID}),
    responses=replies(
        {
            200: Reply(
                "Token",
                obj({"token": STRING, "region": STRING}, {"expiresAt": TIME, "meetingId": ID}),
            )
        },
        403,
        404,
    ),
)
async def speech_token(ctx: Ctx) -> web.Response:
    meeting = await meeting_for(ctx, ctx.query["meetingId"])
    subject = ctx.caller.user.id if ctx.caller.user else ctx.caller.key
    token, expires = issue_speech_token(
        ctx.api.auth.speech_key, meeting["_id"], subject, ctx.api.settings.api.speech_token_ttl
    )
    return web.json_response(
        {
            "token": token,
            "region": "local",  # meetbox's own speech engine: no cloud region
            "expiresAt": iso(datetime.fromtimestamp(expires, UTC)),
            "meetingId": meeting["_id"],
        }
    )


@routes.add(
    "POST",
    "/send-transcript",
    summary="Store one transcript message, encrypted (as it arrives if already encrypted)",
    auth="user_or_room",
    body=Obj(
        {
            "meetingId": OBJECT_ID,
            "userName": Field("string", required=True, min_length=1, max_length=100),
            "message": Field(
                "string", required=True, min_length=1, max_length=MAX_MESSAGE, text=True
            ),
            "isEncrypted": Field("boolean", description="true: the message is already encrypted"),
        }
    ),
    responses=replies(
        {
            201: Reply(
                "Stored",
                envelope(
                    obj(
                        {
                            "_id": ID,
                            "meetingId": ID,
                            "userName": STRING,
                            "isEncrypted": BOOLEAN,
                            "createdAt": TIME,
                        }
                    )
                ),
            )
        },
        403,
        404,
    ),
)
async def send_transcript(ctx: Ctx) -> web.Response:
    meeting = await meeting_for(ctx, ctx.body["meetingId"])
    secret = ctx.api.transcript_secret
    message = ctx.body["message"]
    arrived_encrypted = await asyncio.to_thread(cipher.is_encrypted, message, secret)
    if ctx.body.get("isEncrypted") and not arrived_encrypted:
        raise InvalidArgument(
            "body field 'message' is marked encrypted but does not decrypt with this server's "
            "transcript secret"
        )
    stored = (
        message if arrived_encrypted else await asyncio.to_thread(cipher.encrypt, message, secret)
    )
    doc = await ctx.api.store.transcripts.insert(
        {
            "meetingId": meeting["_id"],
            "userName": ctx.body["userName"],
            "message": stored,
            "isEncrypted": True,
            "arrivedEncrypted": arrived_encrypted,
            "createdAt": now_iso(),
        }
    )
    data = {k: doc[k] for k in ("_id", "meetingId", "userName", "isEncrypted", "createdAt")}
    return ok(data, "Transcript saved", status=201)


@routes.add(
    "GET",
    "/view-transcript/{meetingId}",
    summary="A meeting's transcript, decrypted, oldest first",
    auth="user_or_room",
    params=Obj({"meetingId": OBJECT_ID}),
    responses=replies({200: Reply("Transcript", envelope(array(TRANSCRIPT)))}, 403, 404),
)
async def view_transcript(ctx: Ctx) -> web.Response:
    meeting = await meeting_for(ctx, ctx.params["meetingId"])
    docs = await ctx.api.store.transcripts.find(
        {"meetingId": meeting["_id"]}, sort=[("createdAt", 1)], limit=10_000
    )
    secret = ctx.api.transcript_secret

    def decrypt_all() -> list[str]:
        return [cipher.readable(d["message"], bool(d.get("isEncrypted")), secret) for d in docs]

    messages = await asyncio.to_thread(decrypt_all)
    data = [
        {
            "_id": d["_id"],
            "meetingId": d["meetingId"],
            "userName": d["userName"],
            "message": text,
            "createdAt": d["createdAt"],
        }
        for d, text in zip(docs, messages, strict=True)
    ]
    return ok(data, "Transcript retrieved successfully")
