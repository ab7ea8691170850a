"""The live recording engine: wires the recorder to rooms, the store and storage quotas.

Started by the host's ``recording`` event or ``POST /recording/start`` for a live room;
announces its state to the room; keeps the recording's size and files in the store each
second and stops the recording, with a clear event, when the owner's quota is reached.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from meetbox.config import Settings
from meetbox.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from meetbox.ids import ParticipantSid
from meetbox.recorder.compose import ComposeSpec
from meetbox.recorder.roomrecording import MANIFEST, RoomRecording
from meetbox.recorder.upload import MAX_CHUNK, ChunkedUpload, UploadError
from meetbox.recorder.worker import compose_in_worker
from meetbox.rtc.registry import RoomRegistry
from meetbox.rtc.room import RECORDER
from meetbox.services.quota import Quotas, file_fields
from meetbox.sfu.tasks import BackgroundTasks, cancel_and_wait
from meetbox.store import Document, Store, is_id, now_iso
from meetbox.store.filenames import sanitize
from meetbox.store.files import DataFiles

logger = logging.getLogger(__name__)

WATCH_INTERVAL = 1.0
UNOWNED = "unowned"  # the storage folder of rooms without an owner in the store
MAX_UPLOADS_PER_CONNECTION = 2


@dataclass
class Upload:
    """A browser-recorded file being uploaded in chunks over Socket.IO."""

    connection: str
    room: str
    doc_id: str
    file: ChunkedUpload


@dataclass
class Active:
    """One recording in progress: its room, its files, its watcher."""

    room: str
    room_sid: str
    recording_id: str
    owner_id: str
    doc_id: str
    recording: RoomRecording
    started: float
    watcher: asyncio.Task[None] | None = None
    others_usage: int = 0
    limit: int = 0


# how the engine tells a room's participants of its state: (room, event, data)
Announce = Callable[[str, str, dict[str, Any]], Awaitable[None]]


def new_recording_id() -> str:
    return f"{int(time.time() * 1000)}_{secrets.randbelow(1_000_000):06d}"


class RoomRecorder:
    """The recording as an agent of its room: the room closes it before its router."""

    KIND = RECORDER

    def __init__(self, engine: RecordingEngine, room_sid: str) -> None:
        self.engine = engine
        self.room_sid = room_sid

    async def close(self) -> None:
        await self.engine.stop_recording_of(self.room_sid, "room closed")


class RecordingEngine:
    """Records live rooms (:class:`meetbox.rtc.observer.RecordingControl`).

    Owns the active recordings (by room sid), their watchers, the compositions running in
    worker processes and the browser uploads; ``close()`` stops them all. Each active
    recording is also an agent of its room (``RoomRecorder``), so a room that closes stops
    its recording first, whatever its name becomes later.
    """

    def __init__(
        self, store: Store, rooms: RoomRegistry, settings: Settings, announce: Announce
    ) -> None:
        self.store = store
        self.rooms = rooms
        self.settings = settings
        self.files = DataFiles(settings.server.data_dir)
        self.quotas = Quotas(store, settings.api.storage_limit_bytes)
        self._announce = announce
        self.active: dict[str, Active] = {}
        self._lock = asyncio.Lock()
        self._stopping = BackgroundTasks()
        self.processing: dict[str, asyncio.Task[None]] = {}  # by recording id
        self._composer = asyncio.Semaphore(1)  # one composition at a time on the box
        self.uploads: dict[str, Upload] = {}  # by file id
        self.closed = False

    def _stop_later(self, room_sid: str, reason: str) -> None:
        """From the watcher: stop in a task of its own (stopping cancels the watcher)."""
        self._stopping.spawn(self.stop_recording_of(room_sid, reason))

    async def _owner_of(self, room: str) -> str:
        doc = await self.store.rooms.get(room) if is_id(room) else None
        return str(doc.get("ownerId") or "") if doc else ""

    async def start(
        self,
        room: str,
        requested_by: str,
        owner_id: str | None = None,
        recording_id: str | None = None,
    ) -> dict[str, Any]:
        async with self._lock:
            live = self.rooms.get(room)
            if live is None or live.closed:
                raise NotFound(f"room {room!r} is not live: nothing to record")
            if live.sid in self.active:
                raise AlreadyExists("this room is already being recorded")
            owner = owner_id if owner_id is not None else await self._owner_of(room)
            limit = await self.quotas.limit_of(owner)
            used = await self.quotas.usage(owner, limit)
            if used["availableStorage"] <= 0:
                raise ResourceExhausted("the storage limit is reached: recording cannot start")
            rec_id = recording_id or new_recording_id()
            folder = self.files.recording_folder(owner or UNOWNED, room, rec_id)
            doc = await self._document(room, rec_id, owner, requested_by)
            participants = live.participants

            def name_of(sid: ParticipantSid) -> str:
                who = participants.get(sid)
                return who.identity if who is not None else str(sid)

            recording = RoomRecording(live.router, folder, name_of)
            active = Active(
                room=room, room_sid=live.sid, recording_id=rec_id, owner_id=owner,
                doc_id=doc["_id"],
                recording=recording, started=time.time(),
                others_usage=used["totalUsage"] - int(doc.get("fileSize") or 0), limit=limit,
            )  # fmt: skip
            active.watcher = asyncio.create_task(self._watch(active), name=f"recording {room}")
            self.active[live.sid] = active
            live.add_agent(RoomRecorder.KIND, RoomRecorder(self, live.sid))
            live.features.recording = True
        state = self.state(active, True)
        await self._announce(room, "recording", {**state, "by": requested_by})
        logger.info("room %s: recording %s started by %s", room, rec_id, requested_by)
        return state

    async def _document(self, room: str, rec_id: str, owner: str, by: str) -> Document:
        at = now_iso()
        doc = await self.store.recordings.find_one({"recordingId": rec_id, "roomId": room})
        fields = {"state": "recording", "updatedAt": at, "files": [], "fileSize": 0}
        if doc is not None:
            await self.store.recordings.update({"_id": doc["_id"]}, set=fields)
            return {**doc, **fields}
        return await self.store.recordings.insert(
            {
                "recordingId": rec_id, "roomId": room, "streamId": "room",
                "ownerId": owner, "hostName": by, "startTime": at, "endTime": None,
                "videoType": "room", "createdAt": at, **fields,
            }
        )  # fmt: skip

    def state(self, active: Active, recording: bool, reason: str = "") -> dict[str, Any]:
        files = [
            {"fileName": path.name, "fileSize": path.stat().st_size if path.exists() else 0}
            for path in active.recording.files
        ]
        out: dict[str, Any] = {
            "recording": recording,
            "recordingId": active.recording_id,
            "roomId": active.room,
            "files": files,
            "bytes": sum(f["fileSize"] for f in files),
        }
        if reason:
            out["reason"] = reason
        return out

    async def _watch(self, active: Active) -> None:
        try:
            while True:
                await asyncio.sleep(WATCH_INTERVAL)  # a periodic check, not a wait
                written = active.recording.bytes_written
                await self._save(active, "recording")
                if active.others_usage + written >= active.limit:
                    self._stop_later(active.room_sid, "storage limit reached")
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("recording watcher of %s failed", active.room)

    async def _save(self, active: Active, state: str) -> dict[str, Any]:
        snapshot = self.state(active, state == "recording")
        fields: dict[str, Any] = {
            "state": state,
            "files": snapshot["files"],
            "fileSize": snapshot["bytes"],
            "updatedAt": now_iso(),
        }
        if snapshot["files"]:
            fields["fileName"] = snapshot["files"][0]["fileName"]
        if state == "stopped":
            fields["endTime"] = now_iso()
        await self.store.recordings.update({"_id": active.doc_id}, set=fields)
        return snapshot

    async def stop(self, room: str, reason: str = "stopped") -> dict[str, Any]:
        """Stops the recording of the live room named ``room``."""
        live = self.rooms.get(room)
        if live is None or live.sid not in self.active:
            raise NotFound("this room is not being recorded")
        return await self.stop_recording_of(live.sid, reason)

    async def stop_recording_of(self, room_sid: str, reason: str) -> dict[str, Any]:
        """Stops the recording of the room ``room_sid``: its files end complete, the store
        and the room are told."""
        async with self._lock:
            active = self.active.pop(room_sid, None)
            if active is None:
                raise NotFound("this room is not being recorded")
            await cancel_and_wait(active.watcher)
            active.recording.close()
            live = self.rooms.get(active.room)
            if live is not None and live.sid == room_sid:
                live.features.recording = False
                live.remove_agent(RoomRecorder.KIND)
        state = await self._save(active, "stopped")
        state = {**state, "recording": False, "reason": reason}
        await self._announce(active.room, "recording", state)
        logger.info("room %s: recording %s stopped (%s)", active.room, active.recording_id, reason)
        return state

    # -- after the meeting ------------------------------------------------------------------

    async def process(
        self, room: str, recording_id: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Start composing a stopped recording in a worker process; progress and the
        result reach the room as ``recording-progress`` and ``recording-processed``."""
        try:
            spec = ComposeSpec(**options)
            spec.check()
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(str(exc)) from None
        doc = await self.store.recordings.find_one({"recordingId": recording_id, "roomId": room})
        if doc is None:
            raise NotFound("no such recording in this room")
        if doc.get("state") != "stopped":
            raise FailedPrecondition("the recording must be stopped before it is processed")
        if recording_id in self.processing:
            raise AlreadyExists("this recording is already being processed")
        owner = str(doc.get("ownerId") or "")
        folder = self.files.recording_folder(owner or UNOWNED, room, recording_id)
        if not (folder / MANIFEST).exists():
            raise NotFound("this recording has no recorded files to process")
        if (await self.quotas.usage(owner))["availableStorage"] <= 0:
            raise ResourceExhausted("the storage limit is reached: nothing can be added")
        task = asyncio.create_task(self._process(room, doc, folder, spec))
        self.processing[recording_id] = task
        task.add_done_callback(lambda _: self.processing.pop(recording_id, None))
        return {"recordingId": recording_id, "processing": True}

    async def _process(self, room: str, doc: Document, folder: Any, spec: ComposeSpec) -> None:
        rec_id = doc["recordingId"]
        video = folder / f"composite-{spec.layout}-{spec.width}x{spec.height}.mp4"
        audio = folder / "audio-mix.ogg"
        last = [-1.0]

        async def progress(fraction: float) -> None:
            if fraction - last[0] >= 0.05 or fraction >= 1.0:
                last[0] = fraction
                data = {"recordingId": rec_id, "progress": round(fraction, 3)}
                await self._announce(room, "recording-progress", data)

        try:
            async with self._composer:
                result = await compose_in_worker(folder, video, audio, spec, progress)
        except Exception as exc:  # told to the room: the recording itself is untouched
            logger.warning("processing recording %s failed: %s", rec_id, exc)
            await self._announce(
                room, "recording-processed", {"recordingId": rec_id, "error": str(exc)}
            )
            return
        added = {p.name: p.stat().st_size for p in (result.video, result.audio)}
        current = await self.store.recordings.get(doc["_id"]) or doc
        await self.store.recordings.update(
            {"_id": doc["_id"]},
            set={**file_fields(current, added), "updatedAt": now_iso()},
        )
        await self._announce(
            room,
            "recording-processed",
            {
                "recordingId": rec_id,
                "duration": result.duration,
                "files": [{"fileName": n, "fileSize": s} for n, s in added.items()],
            },
        )

    # -- recordings made in the browser, uploaded in chunks -------------------------------------

    def _refused(self, exc: UploadError) -> Exception:
        return ResourceExhausted(str(exc)) if exc.exhausted else InvalidArgument(str(exc))

    async def create_file(
        self, room: str, connection: str, requested_by: str, recording_id: str, file_name: str
    ) -> dict[str, Any]:
        if sum(1 for u in self.uploads.values() if u.connection == connection) >= (
            MAX_UPLOADS_PER_CONNECTION
        ):
            raise ResourceExhausted("finish an upload before starting another")
        name = sanitize(file_name)
        owner = await self._owner_of(room)
        used = await self.quotas.usage(owner)
        limit = min(self.settings.api.max_recording_upload_bytes, used["availableStorage"])
        if limit <= 0:
            raise ResourceExhausted("the storage limit is reached: nothing can be uploaded")
        folder = self.files.recording_folder(owner or UNOWNED, room, recording_id)
        doc = await self.store.recordings.find_one({"recordingId": recording_id, "roomId": room})
        if doc is None:
            at = now_iso()
            doc = await self.store.recordings.insert(
                {
                    "recordingId": recording_id, "roomId": room, "streamId": connection,
                    "ownerId": owner, "hostName": requested_by, "startTime": at,
                    "endTime": None, "videoType": "browser", "state": "uploading",
                    "files": [], "fileSize": 0, "createdAt": at, "updatedAt": at,
                }
            )  # fmt: skip
        elif doc.get("state") == "recording":
            raise FailedPrecondition("this recording is being recorded by the server")
        try:
            upload = ChunkedUpload(folder / name, limit)
        except UploadError as exc:
            raise self._refused(exc) from None
        file_id = secrets.token_hex(8)
        self.uploads[file_id] = Upload(connection, room, doc["_id"], upload)
        return {"fileId": file_id, "fileName": name, "maxChunk": MAX_CHUNK, "limit": limit}

    def _upload(self, room: str, connection: str, file_id: str) -> Upload:
        upload = self.uploads.get(file_id)
        if upload is None or upload.connection != connection or upload.room != room:
            raise NotFound("no such upload on this connection")
        return upload

    async def stream(
        self, room: str, connection: str, file_id: str, index: int, data: bytes
    ) -> dict[str, Any]:
        upload = self._upload(room, connection, file_id)
        try:
            await asyncio.to_thread(upload.file.write, index, data)
        except UploadError as exc:
            if exc.aborted:
                self.uploads.pop(file_id, None)
            raise self._refused(exc) from None
        return {"fileId": file_id, "received": upload.file.size, "next": upload.file.next_index}

    async def stop_writing(self, room: str, connection: str, file_id: str) -> dict[str, Any]:
        upload = self._upload(room, connection, file_id)
        self.uploads.pop(file_id, None)
        try:
            size = await asyncio.to_thread(upload.file.finish)
        except UploadError as exc:
            raise self._refused(exc) from None
        name = upload.file.final.name
        doc = await self.store.recordings.get(upload.doc_id)
        await self.store.recordings.update(
            {"_id": upload.doc_id},
            set={
                **file_fields(doc, {name: size}),
                "state": "stopped",
                "endTime": now_iso(),
                "updatedAt": now_iso(),
            },
        )
        return {"fileId": file_id, "fileName": name, "fileSize": size}

    def forget_uploads(self, connection: str) -> None:
        """A connection went away: its unfinished uploads are thrown away."""
        for file_id, upload in list(self.uploads.items()):
            if upload.connection == connection:
                upload.file.abort()
                del self.uploads[file_id]

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in list(self.processing.values()):
            await cancel_and_wait(task)
        for room_sid in list(self.active):
            try:
                await self.stop_recording_of(room_sid, "server shutting down")
            except Exception:
                logger.exception("stopping the recording of room %s", room_sid)
        await self._stopping.close()
