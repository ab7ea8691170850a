"""The load generator's second back-end: Janus's VideoRoom plugin (Meetecho's C SFU)
through its HTTP API, with the same publishers and counting subscribers as meetbox's.

A session is created, the plugin attached, a publisher joins and offers, a subscriber
joins to the publisher's feed and answers Janus's offer; events come by long poll
(``GET /janus/<session>``, which also keeps the session alive)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import zlib
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from meetbox.client import ProtectedRtpSink, sink_media
from meetbox.loadtest.clip import Clip
from meetbox.loadtest.cliptrack import ClipTrack
from meetbox.sfu import aiortc as internals

PLUGIN = "janus.plugin.videoroom"


class JanusError(Exception):
    pass


def room_id(name: str) -> int:
    """Janus names rooms by number: the room's name, hashed."""
    return zlib.crc32(name.encode()) or 1


class JanusSession:
    """One Janus session with one VideoRoom handle; its events by transaction."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        self.session = 0
        self.handle = 0
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._poller: asyncio.Task[None] | None = None
        self.closed = False

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.url + path, json=body) as reply:
            answer: dict[str, Any] = await reply.json(content_type=None)
        if answer.get("janus") == "error":
            raise JanusError(str(answer.get("error")))
        return answer

    async def open(self) -> None:
        created = await self._post("/janus", {"janus": "create", "transaction": _tx()})
        self.session = int(created["data"]["id"])
        attached = await self._post(
            f"/janus/{self.session}", {"janus": "attach", "plugin": PLUGIN, "transaction": _tx()}
        )
        self.handle = int(attached["data"]["id"])
        self._poller = asyncio.get_running_loop().create_task(self._poll(), name="janus events")

    async def _poll(self) -> None:
        while not self.closed:
            try:
                async with self.http.get(f"{self.url}/janus/{self.session}?maxev=10") as reply:
                    events = await reply.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                if self.closed:
                    return
                await asyncio.sleep(0.5)  # Janus is busy or gone: poll again shortly
                continue
            for event in events if isinstance(events, list) else [events]:
                waiter = self._waiting.pop(str(event.get("transaction", "")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (create, listparticipants): its data."""
        answer = await self._post(
            f"/janus/{self.session}/{self.handle}",
            {"janus": "message", "body": body, "transaction": _tx()},
        )
        data: dict[str, Any] = answer.get("plugindata", {}).get("data", {})
        return data

    async def message(
        self, body: dict[str, Any], jsep: dict[str, str] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """An asynchronous plugin request (join, configure, start): its event."""
        transaction = _tx()
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = waiter
        message: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            message["jsep"] = jsep
        await self._post(f"/janus/{self.session}/{self.handle}", message)
        event = await asyncio.wait_for(waiter, timeout)
        data = event.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(str(data["error"]))
        return event

    async def close(self) -> None:
        self.closed = True
        if self.session:
            with contextlib.suppress(aiohttp.ClientError, JanusError, TimeoutError, ValueError):
                await self._post(f"/janus/{self.session}", {"janus": "destroy",
                                                            "transaction": _tx()})  # fmt: skip
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        await self.http.close()


def _tx() -> str:
    return secrets.token_hex(6)


def _jsep(pc: RTCPeerConnection) -> dict[str, str]:
    return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}


class JanusPublisher:
    """Publishes a looping clip into a VideoRoom (created if it is not there)."""

    def __init__(self, url: str, room: str, clips: list[Clip]) -> None:
        self.janus = JanusSession(url)
        self.room = room_id(room)
        self.clips = clips
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.healthy = True

    async def connect(self, timeout: float = 30) -> None:
        await self.janus.open()
        await self.janus.request({"request": "create", "room": self.room, "publishers": 16,
                                  "videocodec": "vp8", "audiocodec": "opus", "bitrate": 0,
                                  "fir_freq": 0, "notify_joining": False})  # fmt: skip
        tracks = []
        for clip in self.clips:
            track = ClipTrack(clip)
            self.pc.addTransceiver(track, direction="sendonly")
            tracks.append(track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        event = await self.janus.message(
            {"request": "joinandconfigure", "room": self.room, "ptype": "publisher",
             "display": "publisher", "audio": True, "video": True},
            _jsep(self.pc), timeout,
        )  # fmt: skip
        answer = event["jsep"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        for transceiver, track in zip(self.pc.getTransceivers(), tracks, strict=True):
            track.answer_keyframe_requests(transceiver.sender)

    async def close(self) -> None:
        await self.pc.close()
        await self.janus.close()


class JanusSubscriber:
    """Subscribes to a VideoRoom's publishers and hands what arrives to ``sink`` (by the
    clear headers of the SRTP packets, as meetbox's counting subscribers do)."""

    def __init__(self, url: str, room: str, sink: ProtectedRtpSink) -> None:
        self.janus = JanusSession(url)
        self.room = room_id(room)
        self.sink = sink
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    @property
    def healthy(self) -> bool:
        return self.pc.connectionState not in ("failed", "closed")

    async def connect(self, timeout: float = 30) -> None:
        await self.janus.open()
        deadline = time.monotonic() + timeout
        feeds: list[dict[str, Any]] = []
        while not feeds:  # the publisher may still be joining
            listed = await self.janus.request({"request": "listparticipants", "room": self.room})
            feeds = [p for p in listed.get("participants", []) if p.get("publisher")]
            if not feeds:
                if time.monotonic() > deadline:
                    raise JanusError(f"no publisher in room {self.room}")
                await asyncio.sleep(0.2)  # polled: Janus tells subscribers of nothing here
        event = await self.janus.message(
            {"request": "join", "room": self.room, "ptype": "subscriber",
             "streams": [{"feed": p["id"]} for p in feeds]},
            None, timeout,
        )  # fmt: skip
        offer = event["jsep"]
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        sink_media(self.pc, self.sink)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        for transceiver in self.pc.getTransceivers():
            transport = internals.transport_of(transceiver)
            internals.take_protected_rtp(transport, self.sink.add_protected)
        await self.janus.message({"request": "start", "room": self.room}, _jsep(self.pc), timeout)

    async def close(self) -> None:
        await self.pc.close()
        await self.janus.close()
