"""A raw Engine.IO/Socket.IO client over one WebSocket: it sends whatever frames a test
writes (reserved event names, wrong arity, broken packets), as an attacker would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp


class RawSocket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[tuple[str, Any]] = []  # (name, data) of each 42 frame received
        self.acks: dict[int, Any] = {}
        self.connect_reply: Any = None
        self._next_id = 100
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            await self._read_frames()
        finally:
            self._changed.set()  # a waiter sees the socket closed

    async def _read_frames(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            frame = str(message.data)
            if frame == "2":  # Engine.IO ping
                await self.ws.send_str("3")
            elif frame.startswith("42"):
                name, *args = json.loads(frame[2:])
                self.events.append((name, args[0] if args else None))
            elif frame.startswith("43"):
                digits = ""
                for ch in frame[2:]:
                    if not ch.isdigit():
                        break
                    digits += ch
                self.acks[int(digits)] = json.loads(frame[2 + len(digits) :])
            elif frame.startswith(("40", "44")):
                self.connect_reply = (frame[:2], json.loads(frame[2:] or "null"))
            self._changed.set()
            self._changed = asyncio.Event()

    async def send(self, frame: str) -> None:
        await self.ws.send_str(frame)

    async def wait(self, check: Any, timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while not (value := check()):
                await self._changed.wait()
            return value

    async def join(self, token: str) -> str:
        await self.send("40" + json.dumps({"token": token}))
        kind, body = await self.wait(lambda: self.connect_reply)
        assert kind == "40", body
        await self.wait(lambda: self.seen("room_connected"))
        return str(body["sid"])

    @property
    def closed(self) -> bool:
        return self.ws.closed or self._reader.done()

    async def call(self, event: str, *args: Any, timeout: float = 5.0) -> Any:
        """Sends ``event`` with ``args`` and an ack id; returns the ack's first argument,
        or ``None`` when the server closed the connection instead of answering."""
        self._next_id += 1
        ack_id = self._next_id
        await self.send(f"42{ack_id}" + json.dumps([event, *args]))
        reply = await self.wait(lambda: self.acks.get(ack_id) or self.closed, timeout)
        return reply[0] if isinstance(reply, list) and reply else None

    def seen(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


@asynccontextmanager
async def raw_socket(url: str) -> AsyncIterator[RawSocket]:
    """An open Engine.IO session (its ``0`` handshake read), not yet in a namespace."""
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        opening = await ws.receive(timeout=5)
        assert str(opening.data).startswith("0"), opening
        sock = RawSocket(ws)
        try:
            yield sock
        finally:
            await sock.close()
