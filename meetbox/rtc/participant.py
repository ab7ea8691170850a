"""A participant of a room: who it is, what it may do, and its two peer connections."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiortc import RTCPeerConnection

from meetbox.auth.tokens import AccessClaims
from meetbox.config import RtcSettings
from meetbox.ids import ParticipantSid
from meetbox.sfu.negotiation import BASELINE_VIDEO
from meetbox.sfu.publisher import PublisherPeer
from meetbox.sfu.simulcast import SimulcastTrack
from meetbox.sfu.subscriber import OfferSender, SubscriberPeer
from meetbox.sfu.uptrack import UpTrack


class Participant:
    """One person (or agent) in a room: its grant, its publisher and subscriber peer
    connections. Owned by its room, which closes it when it is removed.
    """

    def __init__(
        self,
        sid: ParticipantSid,
        claims: AccessClaims,
        connection_id: str,
        settings: RtcSettings,
        send_offer: OfferSender,
        on_audio_level: Callable[[ParticipantSid, int], None],
        on_failed: Callable[[Participant], None],
        on_layers: Callable[[SimulcastTrack, list[str]], None] | None = None,
    ) -> None:
        self.sid = sid
        self.identity = claims.identity
        self.name = claims.name or claims.identity
        self.metadata = claims.metadata
        self.grant = claims.video
        self.expires_at = claims.expires_at
        self.connection_id = connection_id
        self.joined_at = time.time()
        self.closed = False
        # told to everyone in the room (see Room.livestream); set by the room
        self.announced = False
        self._settings = settings
        self._on_audio_level = on_audio_level
        self._on_failed = on_failed
        self._on_layers = on_layers
        self._publisher: PublisherPeer | None = None
        self.subscriber = SubscriberPeer(sid, settings, send_offer)
        self.receives = BASELINE_VIDEO  # the video codecs its client decodes
        self._watch(self.subscriber.pc)

    def decodes(self, up: UpTrack) -> bool:
        return up.kind != "video" or up.codec.mime_type.lower() in self.receives

    @property
    def hidden(self) -> bool:
        return self.grant.hidden

    @property
    def is_host(self) -> bool:
        return self.grant.room_admin

    @property
    def publisher(self) -> PublisherPeer:
        if self._publisher is None:
            self._publisher = PublisherPeer(
                self.sid, self._settings, self._on_audio_level, self._on_layers
            )
            self._watch(self._publisher.pc)
        return self._publisher

    def _watch(self, pc: RTCPeerConnection) -> None:
        """A failed ICE/DTLS connection ends the participant like a dropped socket."""

        def changed() -> None:
            if pc.connectionState == "failed" and not self.closed:
                self._on_failed(self)

        pc.on("connectionstatechange", changed)

    @property
    def published(self) -> list[object]:
        if self._publisher is None:
            return []
        return [up.info() for up in self._publisher.uptracks.values()]

    def info(self) -> dict[str, object]:
        return {
            "sid": self.sid,
            "identity": self.identity,
            "name": self.name,
            "metadata": self.metadata,
            "joined_at": int(self.joined_at),
            "is_host": self.is_host,
            "permission": {
                "can_publish": self.grant.can_publish,
                "can_subscribe": self.grant.can_subscribe,
                "can_publish_data": self.grant.can_publish_data,
                "can_publish_sources": list(self.grant.can_publish_sources),
                "hidden": self.grant.hidden,
            },
            "tracks": self.published,
        }

    async def close(self) -> None:
        """Close both connections; the room has already unpublished the tracks."""
        if self.closed:
            return
        self.closed = True
        await self.subscriber.close()
        if self._publisher is not None:
            await self._publisher.close()
