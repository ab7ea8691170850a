"""Rate limits answer 429 with Retry-After; an unreachable store answers 503 within its deadline."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from meetbox.server import EmbeddedServer
from tests.api.conftest import Rest, api_settings
from tests.helpers import unreachable_mongodb_uri


async def test_login_is_rate_limited_per_address_with_retry_after() -> None:
    settings = api_settings(rate_auth=3, rate_window=60)
    async with EmbeddedServer(api=settings) as server, aiohttp.ClientSession() as session:
        rest = Rest(server, session)
        body = {"userName": "x@example.com", "password": "Wrong1234"}
        statuses = [(await rest.call("POST", "/auth/login", json=body)).status for _ in range(4)]
        assert statuses == [401, 401, 401, 429]
        limited = await rest.call("POST", "/auth/login", json=body)
        assert limited.status == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "too many requests" in limited.body["msg"]
        # the auth group is separate from the others
        assert (await rest.call("GET", "/recordings/list")).status == 401


async def test_default_group_limits_each_user_separately() -> None:
    settings = api_settings(rate_default=5)
    async with EmbeddedServer(api=settings) as server, aiohttp.ClientSession() as session:
        rest = Rest(server, session)
        alice = await rest.user("alice")
        bob = await rest.user("bob")
        seen = [
            (await rest.call("GET", "/recordings/list", token=alice.token)).status for _ in range(6)
        ]
        assert seen == [200] * 5 + [429]
        assert (await rest.call("GET", "/recordings/list", token=bob.token)).status == 200


async def test_an_unreachable_store_answers_503_without_hanging(tmp_path: Path) -> None:
    # nothing listens there: the MongoDB store cannot be reached
    store = {"mongodb_uri": unreachable_mongodb_uri(tmp_path), "timeout": 0.5}
    async with EmbeddedServer(store=store) as server, aiohttp.ClientSession() as session:
        rest = Rest(server, session)
        start = time.monotonic()
        reply = await rest.call(
            "POST", "/auth/login", json={"userName": "a@example.com", "password": "Passw0rd"}
        )
        assert reply.status == 503
        assert "store" in reply.body["msg"] and "Traceback" not in reply.body["msg"]
        assert time.monotonic() - start < 5
        # the SFU does not need the store to forward media
        assert (await rest.call("GET", "/healthz")).status == 200
