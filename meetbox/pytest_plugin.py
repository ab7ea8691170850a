"""pytest plugin (entry point ``meetbox``): the ``meetbox_server`` fixture.

    async def test_call(meetbox_server):
        async with meetbox_server.client("room", "alice") as alice: ...

The fixture needs pytest-asyncio; without it the plugin defines nothing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

from meetbox.server import EmbeddedServer

if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def meetbox_server() -> AsyncIterator[EmbeddedServer]:
        """A running meetbox on loopback with a temporary data directory."""
        async with EmbeddedServer(room={"empty_timeout": 1.0}) as server:
            yield server
