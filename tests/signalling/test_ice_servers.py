"""Clients use the ICE servers the server names, not a library's public default."""

from __future__ import annotations

import asyncio
import re
from typing import cast

from aioice import stun

from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack


class StunServer(asyncio.DatagramProtocol):
    """A STUN server on loopback that answers binding requests and remembers who asked."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.asked_by: list[tuple[str, int]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            request = stun.parse_message(data)
        except ValueError:
            return
        if request.message_method != stun.Method.BINDING:
            return
        self.asked_by.append(addr)
        response = stun.Message(
            message_method=stun.Method.BINDING,
            message_class=stun.Class.RESPONSE,
            transaction_id=request.transaction_id,
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = addr
        assert self.transport is not None
        self.transport.sendto(bytes(response), addr)


async def test_a_client_gathers_with_the_servers_ice_servers_only() -> None:
    loop = asyncio.get_running_loop()
    transport, stun_server = await loop.create_datagram_endpoint(
        StunServer, local_addr=("127.0.0.1", 0)
    )
    port = transport.get_extra_info("sockname")[1]
    url = f"stun:127.0.0.1:{port}"
    try:
        async with (
            EmbeddedServer(rtc={"ice_servers": (url,)}) as server,
            server.client("ice", "alice") as alice,
        ):
            assert alice.received("room_connected")[0]["ice_servers"] == [{"urls": [url]}]
            await alice.publish(CounterVideoTrack())
            assert alice.publisher is not None
            sdp = alice.publisher.localDescription.sdp
            ports = {int(p) for p in re.findall(r"a=candidate:\S+ 1 udp \d+ \S+ (\d+) typ", sdp)}
            # the client's own sockets asked the named server (the meetbox side asks too)
            assert ports & {port for _, port in stun_server.asked_by}
    finally:
        transport.close()

    async with (
        EmbeddedServer() as server,
        server.client("ice", "bob") as bob,
    ):
        # none named: none used (aiortc alone would ask a public STUN server)
        assert bob.received("room_connected")[0]["ice_servers"] == []
        assert bob.ice_servers == []
