"""Files shared in a room: ``documents/<roomId>/<roomId>_<name>`` under the data directory."""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web

from meetbox.errors import NotFound, PermissionDenied
from meetbox.store import Document, is_id, now_iso
from meetbox.store.filenames import sanitize
from meetbox.web.replies import INTEGER, STRING, TIME, envelope, obj, replies
from meetbox.web.routing import Ctx, Reply, RouteTable, ok
from meetbox.web.schema import Field, Obj
from meetbox.web.uploads import MULTIPART_SCHEMA, attachment, receive

routes = RouteTable("files")

ROOM = Obj({"roomId": Field("string", required=True, pattern=r"^[A-Za-z0-9_\-]{1,128}$")})
FILENAME = Field("string", required=True, max_length=330, format="filename")
FILE = obj(
    {
        "originalName": STRING,
        "filename": STRING,
        "size": INTEGER,
        "roomId": STRING,
        "path": STRING,
    },
    {"uploadDate": TIME, "contentType": STRING},
)


async def room_access(ctx: Ctx, room_id: str, manage: bool = False) -> None:
    """Room-token holders of this room; the owner, admins, and anyone for a public room."""
    caller = ctx.caller
    if caller.room is not None:
        if caller.room.video.room != room_id:
            raise PermissionDenied("this room token is for another room")
        if manage and not caller.room.video.room_admin:
            raise PermissionDenied("only the room's host may do this")
        return
    user = caller.require_user()
    room = await ctx.api.store.rooms.get(room_id) if is_id(room_id) else None
    if room is None:
        if user.is_admin:
            return
        raise NotFound("no room with this id")
    if user.is_admin or room["ownerId"] == user.id:
        return
    if manage:
        raise PermissionDenied("only the room's owner may do this")
    if room.get("isPrivate") and user.id not in room.get("allowedUserIds", []):
        raise PermissionDenied("this room is private")


def file_view(doc: Document) -> dict[str, Any]:
    return {
        "originalName": doc["originalName"],
        "filename": doc["filename"],
        "size": doc["size"],
        "roomId": doc["roomId"],
        "path": doc["path"],
        "uploadDate": doc["uploadDate"],
        "contentType": doc.get("contentType", "application/octet-stream"),
    }


@routes.add(
    "POST",
    "/room/{roomId}/upload",
    summary="Upload a file to a room (multipart, part 'file')",
    auth="user_or_room",
    rate="upload",
    params=ROOM,
    multipart=MULTIPART_SCHEMA,
    responses=replies({200: Reply("Uploaded", envelope(FILE))}, 403, 404, 413),
)
async def upload(ctx: Ctx) -> web.Response:
    room_id = ctx.params["roomId"]
    await room_access(ctx, room_id)
    folder = ctx.api.files.room_folder(room_id)
    received = await receive(ctx.request, folder, ctx.api.settings.api.max_upload_bytes)
    try:
        original = sanitize(received.original_name)
        filename = f"{room_id}_{original}"
        received.publish(ctx.api.files.room_file(room_id, filename))
    except BaseException:
        received.discard()
        raise
    doc = {
        "roomId": room_id,
        "filename": filename,
        "originalName": original,
        "size": received.size,
        "path": f"documents/{room_id}/{filename}",
        "uploadDate": now_iso(),
        "uploadedBy": ctx.caller.key,
    }
    await ctx.api.store.files.upsert({"roomId": room_id, "filename": filename}, doc)
    await ctx.audit("file.upload", {"roomId": room_id, "filename": filename, "by": ctx.caller.key})
    return ok(file_view(doc), "File uploaded successfully!")


@routes.add(
    "GET",
    "/room/{roomId}/files/{filename}",
    summary="A file's details; with ?download=true, its content",
    auth="user_or_room",
    params=Obj(
        {
            **ROOM.fields,
            "filename": Field("string", required=True, max_length=330, format="filename"),
        }
    ),
    query=Obj({"download": Field("boolean")}),
    responses=replies(
        {
            200: Reply(
                "The file's details (or content with download=true)",
                envelope(FILE),
                alternatives={"application/octet-stream": {"type": "string", "format": "binary"}},
            ),
        },
        403,
        404,
    ),
)
async def get_file(ctx: Ctx) -> web.StreamResponse:
    room_id = ctx.params["roomId"]
    await room_access(ctx, room_id)
    filename = ctx.params["filename"]  # already a safe name: the route's schema checked it
    doc = await ctx.api.store.files.find_one({"roomId": room_id, "filename": filename})
    if doc is None:
        raise NotFound("no file of that name in this room")
    if ctx.query.get("download"):
        path = ctx.api.files.room_file(room_id, filename)
        return attachment(path, doc["originalName"], "the file's content is missing")
    return ok(file_view(doc), "File retrieved successfully!")


@routes.add(
    "DELETE",
    "/room/{roomId}/files",
    summary="Delete every file of a room (its owner, an admin, or a host's room token)",
    auth="user_or_room",
    rate="delete",
    params=ROOM,
    responses=replies({200: Reply("Deleted", envelope(obj({"deleted": INTEGER})))}, 403, 404),
)
async def delete_files(ctx: Ctx) -> web.Response:
    room_id = ctx.params["roomId"]
    await room_access(ctx, room_id, manage=True)
    folder = ctx.api.files.room_folder(room_id)
    docs = await ctx.api.store.files.find({"roomId": room_id})
    for doc in docs:
        with contextlib.suppress(FileNotFoundError):
            ctx.api.files.room_file(room_id, doc["filename"]).unlink()
    deleted = await ctx.api.store.files.delete({"roomId": room_id})
    with contextlib.suppress(OSError):
        folder.rmdir()
    await ctx.audit("file.delete", {"roomId": room_id, "deleted": deleted, "by": ctx.caller.key})
    return ok({"deleted": deleted}, "Files deleted successfully!")
