"""Every use of aiortc's (and aioice's) private internals, in one place.

meetbox keeps aiortc for ICE, DTLS, SRTP and SDP, and replaces its media plane:
- ingress: a publisher connection's DTLS transport hands decrypted RTP and RTCP to
  meetbox instead of to aiortc's receivers (no jitter buffer, no decoder);
- egress: meetbox SRTP-protects (libsrtp through pylibsrtp's session handle, pinned
  too) and sends rewritten packets through a subscriber connection's DTLS transport
  (the compiled fan-out loop gets libsrtp's ``srtp_protect`` address, the session and
  the nominated pair's socket from here: :class:`TransportWriter`);
  the aiortc senders only exist so the SDP carries their SSRCs, and their own sender
  reports are silenced (meetbox sends translated ones);
- ICE: host candidates can be limited to configured addresses and a UDP port range;
- the load generator's counting subscribers take SRTP packets at the ICE sockets,
  undecrypted (:func:`take_protected_rtp`).

aiortc is pinned (setup.cfg); :func:`selftest` runs at start and fails with a clear
message on a version whose internals differ.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aioice.ice
import aiortc
import pylibsrtp
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

from meetbox.media.rtp import RTP_HEADER
from meetbox.sfu import fanout

logger = logging.getLogger(__name__)

KNOWN_AIORTC = ("1.16.0",)
KNOWN_PYLIBSRTP = ("1.0.0",)

RtpHandler = Callable[[bytes, int], Awaitable[None]]
RtcpHandler = Callable[[bytes], Awaitable[None]]

# a transport's turn on the event loop: seconds of work on its packets before the other
# transports get theirs
YIELD_AFTER = 0.001


class HookError(RuntimeError):
    pass


def selftest() -> None:
    """Check that the internals meetbox relies on are where it expects them."""
    version = getattr(aiortc, "__version__", "unknown")
    if version not in KNOWN_AIORTC:
        raise HookError(
            f"meetbox's SFU hooks aiortc internals and knows aiortc {', '.join(KNOWN_AIORTC)}, "
            f"but aiortc {version} is installed: install aiortc=={KNOWN_AIORTC[-1]}"
        )
    checks: list[tuple[object, str, tuple[str, ...] | None]] = [
        (RTCDtlsTransport, "_handle_rtp_data", ("self", "data", "arrival_time_ms")),
        (RTCDtlsTransport, "_handle_rtcp_data", ("self", "data")),
        (RTCDtlsTransport, "_send_rtp", ("self", "data")),
        (DtlsState, "CONNECTED", None),
        (RTCRtpSender, "_send_rtcp", ("self", "packets")),
        (aioice.ice, "get_host_addresses", ("use_ipv4", "use_ipv6")),
    ]
    for owner, name, params in checks:
        member = getattr(owner, name, None)
        if member is None:
            raise HookError(
                f"aiortc {version}: {getattr(owner, '__name__', owner)}.{name} is missing"
            )
        if params is not None:
            found = tuple(inspect.signature(member).parameters)
            if found != params:
                raise HookError(
                    f"aiortc {version}: {name}{found} no longer has the parameters {params}"
                )
    if "self._closing = True" not in inspect.getsource(aioice.ice.Connection.close):
        raise HookError("aioice: Connection.close() no longer sets _closing")
    sender_init = inspect.getsource(RTCRtpSender.__init__)
    if "self._ssrc" not in sender_init or "self._stream_id" not in sender_init:
        raise HookError(f"aiortc {version}: RTCRtpSender no longer sets _ssrc and _stream_id")
    srtp_version = getattr(pylibsrtp, "__version__", "unknown")
    if srtp_version not in KNOWN_PYLIBSRTP or "self._srtp = " not in inspect.getsource(
        pylibsrtp.Session.__init__
    ):
        raise HookError(
            f"meetbox calls libsrtp through pylibsrtp {', '.join(KNOWN_PYLIBSRTP)}'s session "
            f"handle, but pylibsrtp {srtp_version} is installed: "
            f"install pylibsrtp=={KNOWN_PYLIBSRTP[-1]}"
        )


# -- ingress ---------------------------------------------------------------------------


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


# -- egress ----------------------------------------------------------------------------


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


def park_receiver(receiver: RTCRtpReceiver) -> None:
    """Keep aiortc from starting a receiver whose media meetbox takes at the transport:
    no decoder thread, no jitter buffer, no RTCP task. Safe to call again."""

    async def receive(parameters: Any) -> None:
        return None

    receiver.receive = receive  # type: ignore[method-assign]


def silence_sender_reports(sender: RTCRtpSender) -> None:
    """Stop aiortc's own SR/SDES/BYE for this sender: its counters know nothing of
    what meetbox forwards, and wrong SRs would break lip sync at the subscriber."""

    async def drop(packets: list[Any]) -> None:
        return None

    sender._send_rtcp = drop  # type: ignore[method-assign]


def sender_ssrcs(sender: RTCRtpSender) -> tuple[int, int]:
    """(media SSRC, RTX SSRC) that aiortc writes into the SDP for this sender."""
    return sender._ssrc, sender._rtx_ssrc


def set_sender_stream(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """The ``a=msid`` of the sender's m-section: stream = participant, track = track."""
    sender._stream_id = stream_id
    sender._track_id = track_id


def transport_of(transceiver: RTCRtpTransceiver) -> RTCDtlsTransport:
    transport: RTCDtlsTransport = transceiver.receiver.transport
    return transport


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


# -- ICE ---------------------------------------------------------------------------------

_original_query_consent = aioice.ice.Connection.query_consent


async def _query_consent_unless_closed(self: aioice.ice.Connection) -> None:
    # aioice starts consent checks when connect() finishes, even if close() ran while
    # connect() waited for its check list: that task would then loop forever
    if getattr(self, "_closing", False):
        return
    await _original_query_consent(self)


def install_fixes() -> None:
    """Process-wide fixes of aioice races that would leak a task per closed peer."""
    aioice.ice.Connection.query_consent = _query_consent_unless_closed  # type: ignore[method-assign]


_original_get_host_addresses = aioice.ice.get_host_addresses
_original_create_endpoint: Any = None


def configure_ice(addresses: Sequence[str], port_min: int = 0, port_max: int = 0) -> None:
    """Limit ICE host candidates to ``addresses`` (empty: every interface) and, when
    ``port_min`` is set, bind them within ``port_min..port_max``. Process-wide."""
    chosen = tuple(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if not chosen:
            return list(_original_get_host_addresses(use_ipv4, use_ipv6))
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses
    _configure_port_range(port_min, port_max)


def _configure_port_range(port_min: int, port_max: int) -> None:
    global _original_create_endpoint
    loop_cls = asyncio.BaseEventLoop
    if _original_create_endpoint is None:
        _original_create_endpoint = loop_cls.create_datagram_endpoint
    original = _original_create_endpoint
    if not port_min:
        loop_cls.create_datagram_endpoint = original  # type: ignore[method-assign]
        return
    ports = range(port_min, port_max + 1)

    async def create_datagram_endpoint(
        self: Any, protocol_factory: Any, *args: Any, **kwargs: Any
    ) -> Any:
        local_addr = kwargs.get("local_addr")
        factory_name = getattr(protocol_factory, "__qualname__", "")
        if not (local_addr and local_addr[1] == 0 and "Connection" in factory_name):
            return await original(self, protocol_factory, *args, **kwargs)
        start = hash((local_addr[0], id(protocol_factory))) % len(ports)
        last_error: OSError | None = None
        for i in range(len(ports)):
            port = ports[(start + i) % len(ports)]
            kwargs["local_addr"] = (local_addr[0], port)
            try:
                return await original(self, protocol_factory, *args, **kwargs)
            except OSError as exc:
                last_error = exc
        raise OSError(f"no free UDP port in {port_min}..{port_max}: {last_error}")

    loop_cls.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign]


__all__ = [
    "HookError",
    "ParkedTrack",
    "TransportWriter",
    "configure_ice",
    "install_fixes",
    "intercept_transport",
    "park_receiver",
    "selftest",
    "sender_ssrcs",
    "set_sender_stream",
    "silence_sender_reports",
    "transport_of",
]
