"""pytest plugin (entry point ``meetbox``): the ``meetbox_server`` fixture.

    async def test_call(meetbox_server):
        async with meetbox_server.client("room", "alice") as alice: ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator

try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - the fixture needs pytest-asyncio
    pytest_asyncio = None

from meetbox.server import EmbeddedServer

if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def meetbox_server() -> AsyncIterator[EmbeddedServer]:
        """A running meetbox on loopback with a temporary data directory."""
        async with EmbeddedServer(room={"empty_timeout": 1.0}) as server:
            yield server
