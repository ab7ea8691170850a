"""An embeddable meetbox for test suites: a free port, a temporary data directory.

async with EmbeddedServer() as server:
    async with server.client("demo", "alice") as alice, server.client("demo", "bob") as bob:
        ...
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from meetbox.app import MeetboxServer
from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from meetbox.config import Settings
from meetbox.rtc.room import Room


class EmbeddedServer:
    """A real meetbox on a free loopback port with a temporary data directory, for tests
    and embedding; ``async with`` starts and closes it (and removes its folder).
    """

    def __init__(
        self, settings: Settings | None = None, host: str = "127.0.0.1", **sections: dict[str, Any]
    ) -> None:
        base = settings or Settings()
        self._host = host  # loopback unless a test brings its own network (a namespace)
        # loopback only: a test's media never leaves the machine
        rtc = {"ice_addresses": base.rtc.ice_addresses or ("127.0.0.1",)}
        rtc.update(sections.pop("rtc", {}))
        self._base = base.replace(rtc=rtc, **sections)
        self._tmp: Path | None = None
        self.server: MeetboxServer | None = None

    async def __aenter__(self) -> EmbeddedServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="meetbox-"))
        settings = self._base.replace(server={"port": 0, "data_dir": self._tmp, "host": self._host})
        self.server = MeetboxServer(settings)
        await self.server.start()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _running(self) -> MeetboxServer:
        if self.server is None:
            raise RuntimeError("the embedded server is not started")
        return self.server

    @property
    def url(self) -> str:
        return self._running().url

    @property
    def api_key(self) -> str:
        return self._running().keys.api_key

    @property
    def api_secret(self) -> str:
        return self._running().keys.api_secret

    def room(self, name: str) -> Room | None:
        """The live room of that name, for tests that look inside the server."""
        return self._running().signalling.rooms.get(name)

    def token(
        self, room: str, identity: str, *, name: str = "", ttl: float = 3600, **grant: Any
    ) -> str:
        """A room token; ``grant`` takes :class:`VideoGrant` fields (``room_admin=True``...)."""
        video = VideoGrant(**{"room": room, "room_join": True, **grant})
        return mint_token(self.api_key, self.api_secret, identity, video, name=name, ttl=ttl)

    def client(self, room: str, identity: str, **grant: Any) -> Client:
        return Client(self.url, self.token(room, identity, **grant))
