"""Egress: meetbox SRTP-protects (libsrtp through pylibsrtp's session handle) and sends
rewritten packets through a subscriber connection's DTLS transport. The compiled fan-out
loop gets libsrtp's ``srtp_protect`` address, the session and the nominated pair's socket
from :class:`TransportWriter`. aiortc's senders only exist so the SDP carries their
SSRCs; their own sender reports are silenced (meetbox sends translated ones)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aioice.ice
import pylibsrtp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

from meetbox.media.rtp import RTP_HEADER
from meetbox.sfu import fanout

logger = logging.getLogger(__name__)


_PENDING_SENDS: set[asyncio.Future[None]] = set()

# pylibsrtp's ``Session.protect`` allocates, copies the packet in and out and checks
# its arguments in Python for every packet; the writer calls libsrtp itself on a buffer
# of its own, into which the down-track's header and the shared packet tail are written.


_srtp_protect = _srtp_lib.srtp_protect


_srtp_protect_rtcp = _srtp_lib.srtp_protect_rtcp


_BUFFER_SIZE = 2048


MAX_PLAINTEXT = _BUFFER_SIZE - pylibsrtp.SRTP_MAX_SRTCP_TRAILER_LEN


_pack_header_into = RTP_HEADER.pack_into

# the compiled forwarding loop calls the same srtp_protect, through its address
fanout.set_srtp_protect(
    int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, "srtp_protect"))),
    MAX_PLAINTEXT,
)


def _address(session: Any) -> int:
    return 0 if session is None else int(_srtp_ffi.cast("uintptr_t", session))


class TransportWriter(fanout.Route):
    """SRTP-protects RTP or RTCP packets and sends them through one DTLS transport.

    This is aiortc's ``_send_rtp`` without the coroutine per packet: the selected ICE
    pair's datagram transport does not block. The route (the nominated pair's
    ``sendto`` and address) is looked up again only when ICE nominates another pair.
    One writer per transport: :func:`writer_for`. It is also the route of the compiled
    forwarding loop (:mod:`meetbox.sfu.fanout`): the session, the nominated pairs and the
    route's socket are handed to it as they change, and it calls :meth:`_route` when ICE
    nominates another pair.
    """

    __slots__ = (
        "_addr",
        "_buffer",
        "_length",
        "_nominated",
        "_pair",
        "_sendto",
        "_session",
        "_transport",
        "_view",
        "connected",
    )

    def __init__(self, transport: RTCDtlsTransport) -> None:
        self._transport = transport
        # the ICE connection's nominated pairs: one dict for the connection's life
        self._nominated: dict[int, Any] = transport.transport._connection._nominated
        self._pair: object = None
        self._sendto: Callable[[bytes, Any], object] | None = None
        self._addr: Any = None
        self._buffer = _srtp_ffi.new("char[]", _BUFFER_SIZE)
        self._view = _srtp_ffi.buffer(self._buffer)
        self._length = _srtp_ffi.new("int *")
        self._session: Any = None  # libsrtp's srtp_t of the sending side, once connected
        self.connected = False
        self._set_nominated(self._nominated)
        self._state_changed()
        transport.on("statechange", self._state_changed)

    def _state_changed(self) -> None:
        # a plain attribute, read for every forwarded packet; kept by the state events
        self.connected = self._transport._state is DtlsState.CONNECTED
        session = self._transport._tx_srtp if self.connected else None
        self._session = None if session is None else session._srtp[0]
        self._set_session(_address(self._session))

    @property
    def transport(self) -> RTCDtlsTransport:
        return self._transport

    def _route(self, pair: Any) -> None:
        self._pair = pair
        self._addr = pair.remote_addr
        protocol = pair.protocol
        fd = -1
        if isinstance(protocol, aioice.ice.StunProtocol):
            self._sendto = protocol.transport.sendto
            sock = protocol.transport.get_extra_info("socket")
            if sock is not None:
                fd = sock.fileno()
        else:  # a TURN allocation sends through its own coroutine

            def send_data(data: bytes, addr: Any) -> None:
                task = asyncio.ensure_future(protocol.send_data(data, addr))
                _PENDING_SENDS.add(task)
                task.add_done_callback(_PENDING_SENDS.discard)

            self._sendto = send_data
        self._set_target(pair, self._sendto, self._addr, fd)

    def send_rtp(
        self,
        first: int,
        second: int,
        sequence_number: int,
        timestamp: int,
        ssrc: int,
        tail: bytes,
    ) -> bool:
        """Send an RTP packet given as its fixed header's fields and the bytes after it
        (:func:`meetbox.media.rtp.rewrite_tail`), without building it as bytes first."""
        session = self._session
        size = 12 + len(tail)
        if session is None or size > MAX_PLAINTEXT:
            return False
        view = self._view
        _pack_header_into(view, 0, first, second, sequence_number, timestamp, ssrc)
        view[12:size] = tail
        return self._protect_and_send(session, size, _srtp_protect)

    def send(self, data: bytes) -> bool:
        """Send one RTP or RTCP packet (RFC 5761: told apart by its second byte)."""
        session = self._session
        size = len(data)
        if session is None or size > MAX_PLAINTEXT:
            return False
        self._view[0:size] = data
        rtcp = 192 <= data[1] <= 223
        return self._protect_and_send(session, size, _srtp_protect_rtcp if rtcp else _srtp_protect)

    def _protect_and_send(self, session: Any, size: int, protect: Any) -> bool:
        length = self._length
        length[0] = size
        status = protect(session, self._buffer, length)
        if status:
            logger.debug("SRTP protect failed: %s", _srtp_error(status))
            return False
        pair = self._nominated.get(1)
        if pair is None:
            return False
        if pair is not self._pair:
            self._route(pair)
        self._sendto(self._view[0 : length[0]], self._addr)  # type: ignore[misc]
        return True


def _srtp_error(status: int) -> str:
    errors = pylibsrtp.ERRORS
    return errors[status] if 0 <= status < len(errors) else f"libsrtp status {status}"


def writer_for(transport: RTCDtlsTransport) -> TransportWriter:
    """The transport's one writer (made on first use)."""
    writer: TransportWriter | None = getattr(transport, "_meetbox_writer", None)
    if writer is None:
        writer = TransportWriter(transport)
        transport._meetbox_writer = writer  # type: ignore[attr-defined]
    return writer


def observe_sent_rtp(transport: RTCDtlsTransport, observe: Callable[[bytes], None]) -> None:
    """Call ``observe`` with each RTP or RTCP packet an aiortc sender hands ``transport``,
    before it is protected and sent (the load generator's latency probe)."""
    send = transport._send_rtp

    async def observed(data: bytes) -> None:
        observe(data)
        await send(data)

    transport._send_rtp = observed  # type: ignore[method-assign]


SendRtp = Callable[[bytes], Awaitable[None]]


def wrap_sent_rtp(
    transport: RTCDtlsTransport, wrap: Callable[[SendRtp], SendRtp]
) -> Callable[[], None]:
    """Sends what aiortc's senders hand ``transport`` through ``wrap(send)`` (a test's
    duplicating or delaying link); returns the function that undoes it."""
    send = transport._send_rtp
    transport._send_rtp = wrap(send)  # type: ignore[method-assign,assignment]

    def undo() -> None:
        transport._send_rtp = send  # type: ignore[method-assign]

    return undo


def nominated_pair(transport: RTCDtlsTransport) -> Any:
    """The ICE candidate pair ``transport`` sends on (component 1), or None."""
    return transport.transport._connection._nominated.get(1)
