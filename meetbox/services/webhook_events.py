"""What becomes a webhook: the rooms' joins, leaves and ends (as a ``RoomObserver``
watcher) and what rooms announce (their broadcasts: tracks published and unpublished,
recordings started and ended, captions stopped, summaries done), in LiveKit's shapes
(``livekit.protocol``'s ``Room``, ``ParticipantInfo``, ``TrackInfo``, ``EgressInfo``, as
protobuf's JSON mapping writes them)."""

from __future__ import annotations

import time
from typing import Any

from meetbox.ids import ParticipantSid
from meetbox.rtc.observer import ConnectionInfo, Presence, RoomRules
from meetbox.rtc.registry import RoomRegistry
from meetbox.services.webhooks import WebhookNotifier

SOURCES = {"camera": "CAMERA", "microphone": "MICROPHONE", "screen_share": "SCREEN_SHARE"}


class WebhookEvents:
    """Turns what happens in the rooms into ``notifier``'s webhooks."""

    def __init__(self, notifier: WebhookNotifier, rooms: RoomRegistry) -> None:
        self.notifier = notifier
        self.rooms = rooms
        self._started: dict[str, float] = {}  # room sid -> when its first participant came

    # -- as an observer: joins, leaves, ends -----------------------------------------------

    async def joined(self, who: Presence, rules: RoomRules, info: ConnectionInfo) -> None:
        if not self.notifier.enabled:
            return
        if who.room_sid not in self._started:
            self._started[who.room_sid] = time.time()
            self.notifier.send("room_started", room=self._room(who.room, who.room_sid))
        self.notifier.send(
            "participant_joined",
            room=self._room(who.room, who.room_sid),
            participant=self._participant(who, "ACTIVE"),
        )

    async def left(self, who: Presence) -> None:
        if self.notifier.enabled:
            self.notifier.send(
                "participant_left",
                room=self._room(who.room, who.room_sid),
                participant=self._participant(who, "DISCONNECTED"),
            )

    async def closed(self, room: str, room_sid: str) -> None:
        if self.notifier.enabled:
            self.notifier.send("room_finished", room=self._room(room, room_sid))
        self._started.pop(room_sid, None)

    # -- as a broadcast listener: what the rooms announce ------------------------------------

    def broadcast(self, room: str, event: str, data: dict[str, Any]) -> None:
        if not self.notifier.enabled:
            return
        live = self.rooms.get(room)
        sid = live.sid if live is not None else ""
        if event == "track_published":
            track = data.get("track") or {}
            self.notifier.send(
                "track_published",
                room=self._room(room, sid),
                participant=self._member(room, str(data.get("participant_sid", ""))),
                track=self._track(track),
            )
        elif event == "track_unpublished":
            self.notifier.send(
                "track_unpublished",
                room=self._room(room, sid),
                participant=self._member(room, str(data.get("participant_sid", ""))),
                track={"sid": str(data.get("track_sid", ""))},
            )
        elif event == "recording" and "recording" in data:
            started = bool(data["recording"])
            egress = {
                "egressId": str(data.get("recordingId", "")),
                "roomId": sid,
                "roomName": room,
                "status": "EGRESS_ACTIVE" if started else "EGRESS_COMPLETE",
                "fileResults": [
                    {"filename": f.get("fileName", ""), "size": str(f.get("fileSize", 0))}
                    for f in data.get("files", [])
                ],
            }
            if not started and data.get("reason"):
                egress["details"] = str(data["reason"])
            name = "egress_started" if started else "egress_ended"
            self.notifier.send(name, room=self._room(room, sid), egressInfo=egress)
        elif event == "captions" and data.get("state") == "stopped":
            self.notifier.send("transcript_ready", room=self._room(room, sid), roomName=room)
        elif event == "summary" and data.get("state") == "done":
            self.notifier.send(
                "summary_ready",
                room=self._room(room, sid),
                meetingId=str(data.get("meetingId", "")),
            )

    # -- LiveKit's shapes --------------------------------------------------------------------

    def _room(self, name: str, sid: str) -> dict[str, Any]:
        live = self.rooms.get(name)
        started = self._started.get(sid)
        room: dict[str, Any] = {"sid": sid, "name": name}
        if started is not None:
            room["creationTime"] = str(int(started))
        if live is not None and live.sid == sid:
            room["numParticipants"] = len(live.participants)
        return room

    @staticmethod
    def _participant(who: Presence, state: str) -> dict[str, Any]:
        return {"identity": who.identity, "name": who.name, "state": state}

    def _member(self, room: str, participant_sid: str) -> dict[str, Any]:
        live = self.rooms.get(room)
        member = live.participants.get(ParticipantSid(participant_sid)) if live else None
        if member is None:
            return {"sid": participant_sid}
        return {
            "sid": participant_sid,
            "identity": member.identity,
            "name": member.name,
            "state": "ACTIVE",
            "joinedAt": str(int(member.joined_at)),
        }

    @staticmethod
    def _track(info: dict[str, Any]) -> dict[str, Any]:
        track: dict[str, Any] = {
            "sid": str(info.get("sid", "")),
            "type": "VIDEO" if info.get("kind") == "video" else "AUDIO",
            "name": str(info.get("name", "")),
            "muted": bool(info.get("muted", False)),
            "mimeType": str(info.get("mime_type", "")),
            "source": SOURCES.get(str(info.get("source", "")), "UNKNOWN"),
        }
        if info.get("simulcast"):
            track["simulcast"] = True
        return track
