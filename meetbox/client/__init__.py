"""An async Python client for meetbox, for tests, bots and load.

async with Client(url, token) as alice:
    await alice.publish(CounterVideoTrack())
    remote = await alice.wait_for_track(identity="bob", kind="video")
    frame = await remote.track.recv()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import socketio
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack

from meetbox.client.errors import ClientError
from meetbox.client.reconnect import detach_tracks, reconnect
from meetbox.client.sinks import ProtectedRtpSink, RtpSink, sink_media
from meetbox.sfu import aiortc as internals
from meetbox.sfu.tasks import BackgroundTasks

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class RemoteTrack:
    """A track another participant published, as this client receives it."""

    sid: str
    participant_sid: str
    kind: str
    track: MediaStreamTrack
    mid: str
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class Client:
    """A participant from Python: a Socket.IO connection and the two peer connections.

    Owns its socket, its publisher and subscriber connections, the tracks it published
    and its background tasks; ``close()`` (or leaving the ``async with``) closes them all.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        room: str | None = None,
        rtp_sink: RtpSink | None = None,
        decrypt_media: bool = True,
        reconnect: bool = True,
        fallback_urls: Sequence[str] = (),
    ) -> None:
        """With ``reconnect`` (the default), a connection lost without the server saying
        why (a worker or node that died) is made again, to ``url`` or the next of
        ``fallback_urls`` (other nodes), for up to a minute; the client joins again and
        publishes its tracks again (new track sids; ``reconnects`` counts the times).

        ``rtp_sink``, when given, takes every RTP packet the subscriber connection
        receives (decrypted, not decoded: no decoder or jitter buffer runs). With
        ``decrypt_media=False`` a :class:`ProtectedRtpSink` gets the SRTP packets as they
        arrive, undecrypted (a load generator's counting subscribers)."""
        self._protected_sink: ProtectedRtpSink | None = None
        if not decrypt_media:
            if not isinstance(rtp_sink, ProtectedRtpSink):
                raise TypeError("decrypt_media=False needs an rtp_sink with add_protected()")
            self._protected_sink = rtp_sink
        self.url = url
        self.rtp_sink = rtp_sink
        self.token = token
        self.room_name = room
        self.sio = socketio.AsyncClient(reconnection=False)
        self.room: dict[str, Any] | None = None
        self.ice_servers: list[RTCIceServer] = []  # as the server gave them
        self.me: dict[str, Any] | None = None
        self.participants: dict[str, dict[str, Any]] = {}
        self.published: dict[str, dict[str, Any]] = {}  # others' tracks by sid
        self.remote: dict[str, RemoteTrack] = {}
        self.local: dict[str, MediaStreamTrack] = {}  # my published tracks by sid
        self.active_speakers: list[str] = []
        self.events: list[tuple[str, Any]] = []
        self._listeners: dict[str, list[Callable[[Any], None]]] = {}
        self.disconnect_reason: str | None = None
        self.connected = False
        self.publisher: RTCPeerConnection | None = None
        self.subscriber: RTCPeerConnection | None = None
        self._mids: dict[str, str] = {}
        self._connect_error: Any = None
        self._tasks = BackgroundTasks()
        self._changed = asyncio.Condition()
        self._publish_lock = asyncio.Lock()
        self._leaving = False
        self._closing = False
        self.reconnect = reconnect
        self.urls = [url, *fallback_urls]
        self.reconnects = 0
        # what each published track was published with, to publish it again after a reconnect
        self._publishing: dict[str, tuple[MediaStreamTrack, dict[str, Any]]] = {}
        self._register()

    # -- lifetime -----------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        try:
            await self.connect()
        except BaseException:
            await self.close()  # a refused join leaves nothing open
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self, timeout: float = 10.0) -> None:
        auth: dict[str, str] = {"token": self.token}
        if self.room_name:
            auth["room"] = self.room_name
        self._connect_error = None
        try:
            await self.sio.connect(
                self.url,
                auth=auth,
                transports=["websocket"],
                socketio_path="socket.io",
                wait_timeout=timeout,
            )
        except socketio.exceptions.ConnectionError as exc:
            detail = self._connect_error
            if isinstance(detail, dict):
                detail = detail.get("data")
            if isinstance(detail, dict) and "code" in detail:
                raise ClientError(str(detail["code"]), str(detail.get("message"))) from None
            raise ClientError("unavailable", str(exc)) from None
        await self.wait_for(lambda: self.me is not None, timeout)

    async def leave(self) -> None:
        self._leaving = True  # an offer answered meanwhile finds no room: not an error
        if self.connected:
            await self._call("leave", {})
        await self.close()

    async def close(self) -> None:
        self._closing = True
        if self.sio.connected:
            await self.sio.disconnect()
        for remote in self.remote.values():
            remote.ended.set()
        for pc in (self.publisher, self.subscriber):
            if pc is not None:
                await pc.close()
        for track in self.local.values():
            track.stop()
        await self._tasks.close()
        http = getattr(self.sio.eio, "http", None)  # a refused connect may leave it open
        if http is not None and not http.closed:
            await http.close()

    # -- waiting --------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0) -> T:
        """Wait until ``predicate()`` is truthy (checked on every event); return it."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout}s")
                try:
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
                except TimeoutError:
                    pass

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_track(
        self, *, identity: str | None = None, kind: str | None = None, timeout: float = 10.0
    ) -> RemoteTrack:
        def find() -> RemoteTrack | None:
            for remote in self.remote.values():
                who = self.participants.get(remote.participant_sid, {})
                if remote.ended.is_set():
                    continue
                if identity is not None and who.get("identity") != identity:
                    continue
                if kind is not None and remote.kind != kind:
                    continue
                return remote
            return None

        return await self.wait_for(find, timeout)

    # -- actions --------------------------------------------------------------------------

    async def _call(
        self, event: str, data: dict[str, Any], timeout: float = 15.0
    ) -> dict[str, Any]:
        reply = await self.sio.call(event, data, timeout=timeout)
        if not isinstance(reply, dict):
            raise ClientError("internal", f"unexpected reply to {event}: {reply!r}")
        if not reply.get("ok"):
            error = reply.get("error") or {}
            raise ClientError(str(error.get("code")), str(error.get("message")))
        return reply

    @property
    def healthy(self) -> bool:
        """Signalling is connected and no media connection has failed or closed."""
        if not self.connected:
            return False
        return all(
            pc is None or pc.connectionState not in ("failed", "closed")
            for pc in (self.publisher, self.subscriber)
        )

    async def publish(
        self,
        track: MediaStreamTrack,
        source: str | None = None,
        name: str = "",
        codec: str | None = None,
        offer_filter: Callable[[str, str], str] | None = None,
    ) -> str:
        """Publish a track; returns its track sid. ``codec`` picks one, e.g. "video/H264".
        ``offer_filter(sdp, mid)``, when given, rewrites the offer's text before it is
        sent (the load generator offers simulcast layers this way, which aiortc cannot)."""
        async with self._publish_lock:
            if self.publisher is None:
                self.publisher = self._peer_connection()
            pc = self.publisher
            transceiver = pc.addTransceiver(track, direction="sendonly")
            if codec is not None:
                wanted = [
                    c
                    for c in RTCRtpSender.getCapabilities(track.kind).codecs
                    if c.mimeType.lower() in (codec.lower(), f"{track.kind}/rtx")
                ]
                if not any(c.mimeType.lower() == codec.lower() for c in wanted):
                    raise ValueError(f"aiortc cannot send {codec}")
                transceiver.setCodecPreferences(wanted)
            await pc.setLocalDescription(await pc.createOffer())
            mid = transceiver.mid
            assert mid is not None
            sdp = pc.localDescription.sdp
            if offer_filter is not None:
                sdp = offer_filter(sdp, mid)
            meta = {
                "source": source or ("microphone" if track.kind == "audio" else "camera"),
                "name": name,
            }
            reply = await self._call("publish_offer", {"sdp": sdp, "tracks": {mid: meta}})
            await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
            for info in reply.get("tracks", []):
                if info.get("mid") == mid:
                    self.local[info["sid"]] = track
                    again = {"source": source, "name": name, "codec": codec,
                             "offer_filter": offer_filter}  # fmt: skip
                    self._publishing[info["sid"]] = (track, again)
                    return str(info["sid"])
            raise ClientError("internal", "the server did not confirm the track")

    async def unpublish(self, track_sid: str) -> None:
        await self._call("unpublish", {"track_sid": track_sid})
        self._publishing.pop(track_sid, None)
        track = self.local.pop(track_sid, None)
        if track is not None and self.publisher is not None:
            for transceiver in self.publisher.getTransceivers():
                if transceiver.sender.track is track:
                    transceiver.sender.replaceTrack(None)
                    transceiver.direction = "inactive"
            track.stop()

    async def send(self, event: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sends a room event (``chat-box``, ``sendDrawingData``, ...); returns its ack."""
        return await self._call(event, data or {})

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        """Call ``handler(payload)`` on each ``event`` from now on (after it is recorded)."""
        self._listeners.setdefault(event, []).append(handler)

    def received(self, event: str) -> list[Any]:
        """The payloads of every ``event`` received so far, oldest first."""
        return [data for name, data in self.events if name == event]

    async def set_muted(self, track_sid: str, muted: bool) -> None:
        await self._call("mute_track", {"track_sid": track_sid, "muted": muted})

    async def subscribe(self, track_sid: str) -> None:
        await self._call("subscribe", {"track_sid": track_sid})

    async def unsubscribe(self, track_sid: str) -> None:
        await self._call("unsubscribe", {"track_sid": track_sid})
        remote = self.remote.pop(track_sid, None)
        if remote is not None:
            remote.ended.set()
        await self._notify()

    # -- events ---------------------------------------------------------------------------

    def _register(self) -> None:
        sio = self.sio

        @sio.event  # type: ignore[untyped-decorator]
        async def connect() -> None:
            self.connected = True

        @sio.event  # type: ignore[untyped-decorator]
        async def connect_error(data: Any) -> None:
            self._connect_error = data

        @sio.event  # type: ignore[untyped-decorator]
        async def disconnect(*args: Any) -> None:
            self.connected = False
            for remote in self.remote.values():
                remote.ended.set()
            told = self.disconnect_reason is not None  # removed, room closed: stay out
            if self.reconnect and not (told or self._leaving or self._closing):
                detach_tracks(self)
                self._tasks.spawn(reconnect(self))
            await self._notify()

        async def record(event: str, data: Any) -> None:
            self.events.append((event, data))
            for handler in self._listeners.get(event, ()):
                handler(data)
            await self._notify()

        @sio.on("*")  # type: ignore[untyped-decorator]
        async def any_event(event: str, data: Any = None) -> None:
            # room events (chat-box, sendDrawingData, view_count, ...) are recorded as they come
            if event == "participant_updated" and isinstance(data, dict):
                info = data.get("participant") or {}
                if self.me is not None and info.get("sid") == self.me.get("sid"):
                    self.me = info
                elif info.get("sid") in self.participants:
                    self.participants[info["sid"]] = info
            await record(event, data)

        @sio.on("room_connected")  # type: ignore[untyped-decorator]
        async def room_connected(data: dict[str, Any]) -> None:
            self.room = data["room"]
            self.ice_servers = [
                RTCIceServer(urls=server["urls"]) for server in data.get("ice_servers", [])
            ]
            for p in data["participants"]:
                self._add_participant(p)
            self.me = data["participant"]
            await record("room_connected", data)

        @sio.on("participant_joined")  # type: ignore[untyped-decorator]
        async def participant_joined(data: dict[str, Any]) -> None:
            self._add_participant(data["participant"])
            await record("participant_joined", data)

        @sio.on("participant_left")  # type: ignore[untyped-decorator]
        async def participant_left(data: dict[str, Any]) -> None:
            self.participants.pop(data["sid"], None)
            for sid, info in list(self.published.items()):
                if info["participant_sid"] == data["sid"]:
                    self._end_track(sid)
            await record("participant_left", data)

        @sio.on("track_published")  # type: ignore[untyped-decorator]
        async def track_published(data: dict[str, Any]) -> None:
            self.published[data["track"]["sid"]] = data["track"]
            await record("track_published", data)

        @sio.on("track_unpublished")  # type: ignore[untyped-decorator]
        async def track_unpublished(data: dict[str, Any]) -> None:
            self._end_track(data["track_sid"])
            await record("track_unpublished", data)

        @sio.on("track_muted")  # type: ignore[untyped-decorator]
        async def track_muted(data: dict[str, Any]) -> None:
            info = self.published.get(data["track_sid"])
            if info is not None:
                info["muted"] = data["muted"]
            await record("track_muted", data)

        @sio.on("active_speakers")  # type: ignore[untyped-decorator]
        async def active_speakers(data: dict[str, Any]) -> None:
            self.active_speakers = [s["sid"] for s in data["speakers"]]
            await record("active_speakers", data)

        @sio.on("disconnected")  # type: ignore[untyped-decorator]
        async def disconnected(data: dict[str, Any]) -> None:
            self.disconnect_reason = data.get("reason")
            await record("disconnected", data)

        @sio.on("subscriber_offer")  # type: ignore[untyped-decorator]
        async def subscriber_offer(data: dict[str, Any]) -> None:
            try:
                await self._answer(data["sdp"], data["tracks"])
            except Exception:
                if self.sio.connected and not self._leaving:
                    logger.exception("answering the subscriber offer failed")
                else:  # the client closed meanwhile
                    logger.debug("subscriber offer dropped: the client is closed")

    def _add_participant(self, info: dict[str, Any]) -> None:
        self.participants[info["sid"]] = info
        for track in info.get("tracks", []):
            self.published[track["sid"]] = track

    def _end_track(self, track_sid: str) -> None:
        self.published.pop(track_sid, None)
        remote = self.remote.pop(track_sid, None)
        if remote is not None:
            remote.ended.set()
            remote.track.stop()

    async def _answer(self, sdp: str, mids: dict[str, str]) -> None:
        self._mids.update(mids)
        if self.subscriber is None:
            self.subscriber = self._peer_connection()
            self.subscriber.on("track", self._on_track)
        pc = self.subscriber
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if self.rtp_sink is not None:
            sink_media(pc, self.rtp_sink)
        await pc.setLocalDescription(await pc.createAnswer())
        if self._protected_sink is not None:
            for transceiver in pc.getTransceivers():
                transport = internals.transport_of(transceiver)
                internals.take_protected_rtp(transport, self._protected_sink.add_protected)
        await self._call("subscriber_answer", {"sdp": pc.localDescription.sdp})

    def _peer_connection(self) -> RTCPeerConnection:
        """With the ICE servers the server named (aiortc's own default is a public STUN
        server: a lookup and up to five seconds of gathering on a machine without one)."""
        return RTCPeerConnection(RTCConfiguration(iceServers=self.ice_servers))

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.subscriber is not None
        transceiver = next(
            (t for t in self.subscriber.getTransceivers() if t.receiver.track is track), None
        )
        if transceiver is None or transceiver.mid not in self._mids:
            return
        sid = self._mids[transceiver.mid]
        info = self.published.get(sid, {})
        self.remote[sid] = RemoteTrack(
            sid=sid,
            participant_sid=str(info.get("participant_sid", "")),
            kind=track.kind,
            track=track,
            mid=transceiver.mid,
        )
        self._tasks.spawn(self._notify())


__all__ = ["Client", "ClientError", "ProtectedRtpSink", "RemoteTrack", "RtpSink", "sink_media"]
