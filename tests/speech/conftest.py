"""The REST fixtures of tests/api, shared here (a real server and an aiohttp client)."""

from tests.api.conftest import rest, server

__all__ = ["rest", "server"]
