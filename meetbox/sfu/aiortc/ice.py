"""ICE: host candidates limited to configured addresses and a UDP port range, a fix of an
aioice race that would leak a consent task per closed peer, and of aiortc's connect task
failing unseen for a peer closed while it connected (all process-wide)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection
from aiortc.exceptions import InvalidStateError

_original_query_consent = aioice.ice.Connection.query_consent


async def _query_consent_unless_closed(self: aioice.ice.Connection) -> None:
    # aioice starts consent checks when connect() finishes, even if close() ran while
    # connect() waited for its check list: that task would then loop forever
    if getattr(self, "_closing", False):
        return
    await _original_query_consent(self)


def install_fixes() -> None:
    """Process-wide fixes of aioice and aiortc races that would leak a task per closed peer,
    or log a task's unretrieved exception for a peer closed while it connected."""
    aioice.ice.Connection.query_consent = _query_consent_unless_closed  # type: ignore[method-assign]
    if getattr(RTCPeerConnection, CONNECT) is not _connect_unless_closed:
        global _original_connect
        _original_connect = getattr(RTCPeerConnection, CONNECT)
        setattr(RTCPeerConnection, CONNECT, _connect_unless_closed)


# aiortc starts its connect coroutine and forgets it: a peer closed (a participant gone, a
# client closed) while ICE or DTLS runs makes it fail with InvalidStateError, which asyncio
# then logs as "Task exception was never retrieved". Closed on purpose: nothing to report.
CONNECT = "_RTCPeerConnection__connect"
_original_connect: Any = None


async def _connect_unless_closed(self: RTCPeerConnection) -> None:
    try:
        await _original_connect(self)
    except InvalidStateError:
        if self.connectionState != "closed" and self.signalingState != "closed":
            raise


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
