"""Recording metadata (start, stop, list) and the recording storage of each user.

The recording engine plugs into these records; files reach a user's storage through
``upload-to-blob`` (or the engine), are counted against the user's limit, downloaded
through signed expiring URLs, and deleted to free the space.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from meetbox.errors import AlreadyExists, MeetboxError, NotFound, TooLarge
from meetbox.services import quota
from meetbox.store import Document, iso, now_iso
from meetbox.store.filenames import sanitize
from meetbox.web import storage
from meetbox.web.api_rooms import RECORDING_ID
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
from meetbox.web.schema import SAFE_ID, Field, Obj
from meetbox.web.uploads import MULTIPART_SCHEMA, attachment, receive

routes = RouteTable("recordings and storage")

ROOM_ID = Field("string", required=True, pattern=SAFE_ID)
REC_ID = Field("string", required=True, pattern=RECORDING_ID)
USER_ID = Field("string", required=True, format="objectid")
FILE_NAME = Field("string", required=True, min_length=1, max_length=200, format="filename")
RECORDING_PATH = Obj({"userId": USER_ID, "roomId": ROOM_ID, "recordingId": REC_ID})
FILE_PATH = Obj({**RECORDING_PATH.fields, "fileName": FILE_NAME})

RECORDING = obj(
    {
        "_id": ID,
        "roomId": STRING,
        "recordingId": STRING,
        "hostName": STRING,
        "status": BOOLEAN,
        "state": STRING,
        "createdAt": TIME,
        "updatedAt": TIME,
    },
    {
        "streamId": STRING,
        "videoType": STRING,
        "startTime": TIME,
        "endTime": {"type": "string", "format": "date-time", "nullable": True},
        "fileName": {"type": "string", "nullable": True},
        "fileSize": INTEGER,
    },
)
USAGE = obj({"totalUsage": INTEGER, "availableStorage": INTEGER, "recordingsCount": INTEGER})


def recording_view(doc: Document) -> dict[str, Any]:
    return {
        "_id": doc["_id"],
        "roomId": doc["roomId"],
        "recordingId": doc["recordingId"],
        "hostName": doc["hostName"],
        # the seed's list shows a boolean status: true once the recording has ended
        "status": doc["state"] == "stopped",
        "state": doc["state"],
        "streamId": doc["streamId"],
        "videoType": doc["videoType"],
        "startTime": doc["startTime"],
        "endTime": doc.get("endTime"),
        "fileName": doc.get("fileName"),
        "fileSize": doc.get("fileSize", 0),
        "createdAt": doc["createdAt"],
        "updatedAt": doc["updatedAt"],
    }


@routes.add(
    "POST",
    "/recording/start",
    summary="Start a recording: the server records a live room (one file per participant); "
    "for a room that is not live, or videoType 'browser', the record only",
    auth="user",
    body=Obj(
        {
            "roomId": ROOM_ID,
            "userName": Field("string", required=True, min_length=1, max_length=100),
            "streamId": Field("string", required=True, string_or_number=True),
            "recordingId": REC_ID,
            "startTime": Field("date", required=True),
            "videoType": Field("string", required=True, min_length=1, max_length=32),
            "status": Field("string", required=True, min_length=1, max_length=32),
        },
        examples={
            "roomId": "68affe24fabc0702c5d30c29",
            "userName": "Haseeb Asif",
            "streamId": "755961800257348400",
            "recordingId": "1756364334628_738386",
            "startTime": 1756364334634,
            "videoType": "video",
            "status": "pending",
        },
    ),
    responses=replies({201: Reply("Recording recorded", envelope(RECORDING))}, 409),
)
async def start_recording(ctx: Ctx) -> web.Response:
    user = ctx.caller.require_user()
    at = now_iso()
    body = ctx.body
    doc = await ctx.api.store.recordings.insert(
        {
            "recordingId": body["recordingId"],
            "roomId": body["roomId"],
            "streamId": body["streamId"],
            "ownerId": user.id,
            "hostName": body["userName"],
            "startTime": iso(body["startTime"]),
            "endTime": None,
            "videoType": body["videoType"],
            "state": "stopped" if body["status"] == "stopped" else body["status"],
            "createdAt": at,
            "updatedAt": at,
        }
    )
    engine = ctx.api.signalling.recordings
    live = ctx.api.signalling.rooms.get(body["roomId"])
    if engine is not None and live is not None and body["videoType"] != "browser":
        try:
            await engine.start(
                body["roomId"], body["userName"], owner_id=user.id,
                recording_id=body["recordingId"],
            )  # fmt: skip
        except MeetboxError:
            await ctx.api.store.recordings.delete({"_id": doc["_id"]})
            raise
        doc = await ctx.api.store.recordings.get(doc["_id"]) or doc
    return ok(recording_view(doc), "Recording started", status=201)


async def owned_recording(ctx: Ctx, query: dict[str, Any]) -> Document:
    user = ctx.caller.require_user()
    doc = await ctx.api.store.recordings.find_one(query)
    if doc is None or (doc["ownerId"] != user.id and not user.is_admin):
        # another user's recording is not even acknowledged
        raise NotFound("no such recording")
    return doc


@routes.add(
    "POST",
    "/recording/stop",
    summary="Record that a recording stopped",
    auth="user",
    body=Obj(
        {
            "recordingId": REC_ID,
            "streamId": Field("string", required=True, string_or_number=True),
            "endTime": Field("date", required=True),
        }
    ),
    responses=replies({204: EMPTY}, 404, 409),
)
async def stop_recording(ctx: Ctx) -> web.Response:
    doc = await owned_recording(
        ctx, {"recordingId": ctx.body["recordingId"], "streamId": ctx.body["streamId"]}
    )
    if doc["state"] == "stopped":
        raise AlreadyExists("this recording has already stopped")
    engine = ctx.api.signalling.recordings
    if engine is not None and doc["state"] == "recording":
        await ctx.api.signalling.require_here(doc["roomId"])
        with contextlib.suppress(NotFound):  # it may have stopped on its own a moment ago
            await engine.stop(doc["roomId"], "stopped")
        doc = await ctx.api.store.recordings.get(doc["_id"]) or doc
    await ctx.api.store.recordings.update(
        {"_id": doc["_id"]},
        set={"state": "stopped", "endTime": iso(ctx.body["endTime"]), "updatedAt": now_iso()},
    )
    return web.Response(status=204)


@routes.add(
    "GET",
    "/recordings/list",
    summary="The caller's recordings (every user's for an admin), newest first",
    auth="user",
    responses=replies({200: Reply("A JSON array, as the seed shows", array(RECORDING))}),
)
async def list_recordings(ctx: Ctx) -> web.Response:
    user = ctx.caller.require_user()
    query = {} if user.is_admin else {"ownerId": user.id}
    docs = await ctx.api.store.recordings.find(query, sort=[("createdAt", -1)], limit=1000)
    return web.json_response([recording_view(d) for d in docs])


# -- storage ---------------------------------------------------------------------------------


@routes.add(
    "GET",
    "/recordings/user/{userId}/storage-info",
    summary="Storage usage, limit, warnings and stored recordings of a user",
    auth="user",
    params=Obj({"userId": USER_ID}),
    responses=replies({200: Reply("Storage info", envelope(storage.INFO))}, 403),
)
async def storage_info(ctx: Ctx) -> web.Response:
    ctx.caller.require_self_or_admin(ctx.params["userId"])
    info = await storage.info(ctx.api, ctx.params["userId"], ctx.api.base_url(ctx.request))
    return ok(info, "Storage info retrieved successfully")


@routes.add(
    "PUT",
    "/recordings/user/{userId}/storage-limit",
    summary="Change a user's storage limit (admin)",
    auth="admin",
    params=Obj({"userId": USER_ID}),
    body=Obj({"newLimit": Field("integer", required=True, minimum=0, maximum=2**50)}),
    responses=replies(
        {
            200: Reply(
                "New limit",
                envelope(obj({"userId": ID, "storageLimit": INTEGER, "storageLimitGB": STRING})),
            )
        },
        403,
        404,
    ),
)
async def storage_limit(ctx: Ctx) -> web.Response:
    user_id = ctx.params["userId"]
    if await ctx.api.store.users.get(user_id) is None:
        raise NotFound("no user with this id")
    new_limit = ctx.body["newLimit"]
    await ctx.api.quotas.set_limit(user_id, new_limit)
    await ctx.audit("storage.limit", {"userId": user_id, "storageLimit": new_limit})
    data = {"userId": user_id, "storageLimit": new_limit, "storageLimitGB": quota.gb(new_limit)}
    return ok(data, "Storage limit updated")


@routes.add(
    "GET",
    "/recordings/admin/exceeded-storage-users",
    summary="Users over their storage limit (admin)",
    auth="admin",
    responses=replies(
        {200: Reply("Users over their limit", envelope(array(storage.EXCEEDED)))}, 403
    ),
)
async def exceeded_users(ctx: Ctx) -> web.Response:
    return ok(await ctx.api.quotas.exceeded(), "Users over their storage limit")


async def recording_file(ctx: Ctx) -> tuple[Document, str]:
    p = ctx.params
    ctx.caller.require_self_or_admin(p["userId"])
    name = p["fileName"]  # already a safe name: the route's schema checked it
    doc = await owned_recording(
        ctx, {"recordingId": p["recordingId"], "roomId": p["roomId"], "ownerId": p["userId"]}
    )
    recorded = {f.get("fileName") for f in doc.get("files") or []}
    if doc.get("fileName") != name and name not in recorded:
        raise NotFound("this recording has no file of that name")
    return doc, name


@routes.add(
    "DELETE",
    "/recordings/user/{userId}/room/{roomId}/recording/{recordingId}/{fileName}",
    summary="Delete a recording's file and free its storage",
    auth="user",
    rate="delete",
    params=FILE_PATH,
    responses=replies({200: Reply("Deleted; the user's usage now", envelope(USAGE))}, 403, 404),
)
async def delete_recording(ctx: Ctx) -> web.Response:
    p = ctx.params
    resource = {k: p[k] for k in ("userId", "roomId", "recordingId", "fileName")}
    try:
        doc, name = await recording_file(ctx)
    except NotFound:
        await ctx.audit("recording.delete", resource, "failure")
        raise
    path = ctx.api.files.recording(p["userId"], p["roomId"], p["recordingId"], name)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if any(f.get("fileName") == name for f in doc.get("files") or []):  # a live recording's
        await ctx.api.store.recordings.update(
            {"_id": doc["_id"]},
            set={**quota.file_fields(doc, removed=name), "updatedAt": now_iso()},
        )
    else:
        await ctx.api.store.recordings.update(
            {"_id": doc["_id"]},
            unset=["fileName", "fileSize", "uploadedAt"],
            set={"updatedAt": now_iso()},
        )
    await ctx.audit("recording.delete", resource)
    usage = await ctx.api.quotas.usage(p["userId"])
    return ok(usage, "Recording deleted successfully.")


@routes.add(
    "GET",
    "/recordings/user/{userId}/room/{roomId}/recording/{recordingId}/file/{fileName}/sas-url",
    summary="A signed, expiring download URL for a recording (meetbox's SAS URL)",
    auth="user",
    rate="sign",
    params=FILE_PATH,
    responses=replies(
        {
            200: Reply(
                "Signed URL",
                envelope(obj({"url": STRING, "expiresAt": TIME, "expiresIn": INTEGER})),
            )
        },
        403,
        404,
    ),
)
async def signed_url(ctx: Ctx) -> web.Response:
    p = ctx.params
    await recording_file(ctx)
    ttl = ctx.api.settings.api.signed_url_ttl
    parts = [p["userId"], p["roomId"], p["recordingId"], p["fileName"]]
    path, expires = ctx.api.signer.sign(parts, ttl)
    await ctx.audit("recording.sign", {k: p[k] for k in p})
    data = {
        "url": ctx.api.base_url(ctx.request) + path,
        "expiresAt": iso(datetime.fromtimestamp(expires, UTC)),
        "expiresIn": int(ttl),
    }
    return ok(data, "Signed URL generated")


@routes.add(
    "POST",
    "/recordings/user/{userId}/room/{roomId}/recording/{recordingId}/upload-to-blob",
    summary="Store a finished recording's file in the user's storage (multipart, part 'file')",
    auth="user",
    rate="upload",
    params=RECORDING_PATH,
    multipart=MULTIPART_SCHEMA,
    responses=replies(
        {
            201: Reply(
                "Stored",
                envelope(
                    obj(
                        {
                            "blobUrl": STRING,
                            "fileName": STRING,
                            "fileSize": INTEGER,
                            "storage": USAGE,
                        }
                    )
                ),
            )
        },
        403,
        404,
        413,
    ),
)
async def upload_to_blob(ctx: Ctx) -> web.Response:
    p = ctx.params
    ctx.caller.require_self_or_admin(p["userId"])
    doc = await owned_recording(
        ctx, {"recordingId": p["recordingId"], "roomId": p["roomId"], "ownerId": p["userId"]}
    )
    folder = ctx.api.files.recording_folder(p["userId"], p["roomId"], p["recordingId"])
    usage = await ctx.api.quotas.usage(p["userId"])
    room_left = usage["availableStorage"] + int(doc.get("fileSize") or 0)
    limit = min(ctx.api.settings.api.max_recording_upload_bytes, max(0, room_left))
    upload = await receive(ctx.request, folder, limit)
    try:
        name = sanitize(upload.original_name)
        if room_left < upload.size:
            raise TooLarge("the user's storage limit would be exceeded")
        old = doc.get("fileName")
        if old and old != name:
            with contextlib.suppress(FileNotFoundError):
                ctx.api.files.recording(p["userId"], p["roomId"], p["recordingId"], old).unlink()
        upload.publish(ctx.api.files.recording(p["userId"], p["roomId"], p["recordingId"], name))
    except BaseException:
        upload.discard()
        raise
    await ctx.api.store.recordings.update(
        {"_id": doc["_id"]},
        set={
            "fileName": name,
            "fileSize": upload.size,
            "uploadedAt": now_iso(),
            "updatedAt": now_iso(),
        },
    )
    await ctx.audit("recording.upload", {**p, "fileName": name})
    data = {
        "blobUrl": storage.blob_url(
            ctx.api.base_url(ctx.request), p["userId"], p["roomId"], p["recordingId"], name
        ),
        "fileName": name,
        "fileSize": upload.size,
        "storage": await ctx.api.quotas.usage(p["userId"]),
    }
    return ok(data, "Recording uploaded", status=201)


@routes.add(
    "GET",
    "/downloads/{userId}/{roomId}/{recordingId}/{fileName}",
    summary="Download a recording through a signed URL (no other credentials)",
    auth="none",
    params=FILE_PATH,
    query=Obj(
        {
            "expires": Field("string", required=True, pattern=r"^[0-9]{1,12}$"),
            "signature": Field("string", required=True, pattern=r"^[0-9a-f]{64}$"),
        }
    ),
    responses={
        200: Reply("The file", {"type": "string", "format": "binary"}, "application/octet-stream"),
        **replies({}, 403, 404),
    },
)
async def download(ctx: Ctx) -> web.StreamResponse:
    p = ctx.params
    name = p["fileName"]  # already a safe name: the route's schema checked it
    parts = [p["userId"], p["roomId"], p["recordingId"], name]
    ctx.api.signer.check(parts, ctx.query["expires"], ctx.query["signature"])
    path = ctx.api.files.recording(*parts)
    return attachment(path, name, "the file no longer exists")
