"""Ingress: a connection's DTLS transport hands decrypted RTP and RTCP to meetbox instead of
to aiortc's receivers (no jitter buffer, no decoder); the load generator's counting
subscribers take SRTP packets at the ICE sockets, undecrypted."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiortc
from aiortc import RTCRtpReceiver
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport

logger = logging.getLogger(__name__)


RtpHandler = Callable[[bytes, int], Awaitable[None]]


RtcpHandler = Callable[[bytes], Awaitable[None]]

# a transport's turn on the event loop: seconds of work on its packets before the other
# transports get theirs


YIELD_AFTER = 0.001


def intercept_transport(
    transport: RTCDtlsTransport, on_rtp: RtpHandler, on_rtcp: RtcpHandler
) -> None:
    """Route a transport's decrypted RTP and RTCP to meetbox. Safe to call again."""
    if getattr(transport, "_meetbox_intercepted", False):
        return

    spent = 0.0  # seconds of work on this transport's packets since it last yielded

    async def handle_rtp(data: bytes, arrival_time_ms: int) -> None:
        nonlocal spent
        started = time.perf_counter()
        try:
            await on_rtp(data, arrival_time_ms)
        except Exception:
            logger.exception("RTP handler failed")
        # aiortc's receive loop takes queued datagrams without yielding: a keyframe's
        # burst fanned out to many subscribers would hold every other transport's packets
        # back for its whole length. Each transport yields once it has worked YIELD_AFTER:
        # a large room's packets one at a time, a small room's many per turn (a
        # per-packet yield made a small room's keyframe wait one large fan-out per packet).
        spent += time.perf_counter() - started
        if spent >= YIELD_AFTER:
            spent = 0.0
            await asyncio.sleep(0)

    async def handle_rtcp(data: bytes) -> None:
        try:
            await on_rtcp(data)
        except Exception:
            logger.exception("RTCP handler failed")

    transport._handle_rtp_data = handle_rtp  # type: ignore[method-assign]
    transport._handle_rtcp_data = handle_rtcp  # type: ignore[method-assign]
    transport._meetbox_intercepted = True  # type: ignore[attr-defined]


# SRTP authentication tag lengths by DTLS-SRTP profile (RFC 5764, RFC 7714)


_SRTP_TAG_LENGTHS = {
    b"SRTP_AEAD_AES_256_GCM": 16,
    b"SRTP_AEAD_AES_128_GCM": 16,
    b"SRTP_AES128_CM_SHA1_80": 10,
}


def take_protected_rtp(transport: RTCDtlsTransport, on_rtp: Callable[[bytes, int], None]) -> None:
    """Hand each SRTP packet the transport's ICE sockets receive to
    ``on_rtp(packet, tag_length)`` as the datagram arrives, still encrypted: no queue, no
    task switch, no decryption. The RTP header stays in clear (RFC 3711 section 3.1), so
    packets, losses and frames can be counted; ``tag_length`` is the SRTP
    authentication tag at the end. SRTCP, DTLS and STUN (RFC 7983) and anything before
    the handshake ends go the usual way. Call after setLocalDescription (the sockets
    exist then; calling again takes sockets added since); a load generator's
    subscribers use this."""
    tag_length = -1

    def take(data: bytes) -> bool:
        nonlocal tag_length
        if len(data) < 12 or not 127 < data[0] < 192 or 192 <= data[1] <= 223:
            return False
        if tag_length < 0:
            ssl = transport._ssl
            if transport._rx_srtp is None or ssl is None:
                return False
            tag_length = _SRTP_TAG_LENGTHS.get(ssl.get_selected_srtp_profile(), 0)
        on_rtp(data, tag_length)
        return True

    for protocol in transport.transport._connection._protocols:
        if getattr(protocol, "_meetbox_taken", False):
            continue
        protocol._meetbox_taken = True  # type: ignore[attr-defined]
        received = protocol.datagram_received

        def datagram_received(data: Any, addr: Any, received: Any = received) -> None:
            if not take(data):
                received(data, addr)

        protocol.datagram_received = datagram_received  # type: ignore[method-assign]


def park_receiver(receiver: RTCRtpReceiver) -> None:
    """Keep aiortc from starting a receiver whose media meetbox takes at the transport:
    no decoder thread, no jitter buffer, no RTCP task. Safe to call again."""

    async def receive(parameters: Any) -> None:
        return None

    receiver.receive = receive  # type: ignore[method-assign]


class ParkedTrack(MediaStreamTrack):
    """A track whose ``recv`` waits until stopped: it parks aiortc's sender loop, which
    would otherwise poll every 20 ms; meetbox sends the media itself."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._stopped_event = asyncio.Event()

    async def recv(self) -> Any:
        await self._stopped_event.wait()
        raise aiortc.mediastreams.MediaStreamError

    def stop(self) -> None:
        super().stop()
        self._stopped_event.set()


def drop_incoming_rtp(transport: RTCDtlsTransport, drop: Callable[[bytes], bool]) -> None:
    """Discards the decrypted RTP packets for which ``drop`` is true before anything else
    sees them: a lossy link for tests of repair (NACK, RTX, keyframe requests)."""
    original = transport._handle_rtp_data

    async def lossy(data: bytes, arrival_time_ms: int) -> None:
        if not drop(data):
            await original(data, arrival_time_ms)

    transport._handle_rtp_data = lossy  # type: ignore[method-assign]


def observe_received_rtcp(transport: RTCDtlsTransport, observe: Callable[[bytes], None]) -> None:
    """Calls ``observe`` with each decrypted RTCP packet ``transport`` receives, before
    aiortc handles it (a test reading the sender reports a subscriber gets)."""
    original = transport._handle_rtcp_data

    async def observed(data: bytes) -> None:
        observe(data)
        await original(data)

    transport._handle_rtcp_data = observed  # type: ignore[method-assign]
