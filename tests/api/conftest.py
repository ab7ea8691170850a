"""A real meetbox on loopback and an aiohttp client speaking its REST API."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio

from meetbox.server import EmbeddedServer
from meetbox.store import Store
from meetbox.web.api_auth import create_user

PASSWORD = "Passw0rd!x"


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any


@dataclass
class Account:
    id: str
    email: str
    token: str


class Rest:
    def __init__(self, server: EmbeddedServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    @property
    def store(self) -> Store:
        assert self.server.server is not None
        return self.server.server.store

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.server.url + path, json=json, headers=sent, data=data, params=params
        ) as response:
            raw = await response.read()
            body: Any = raw
            if response.content_type == "application/json":
                body = await response.json()
            return Reply(response.status, body, response.headers)

    async def user(self, name: str = "", admin: bool = False) -> Account:
        email = f"{name or 'user'}-{secrets.token_hex(3)}@example.com"
        if admin:
            fields = {
                "email": email,
                "fName": "Ad",
                "lName": "Min",
                "phoneNumber": "000000",
                "country": "Nowhere",
                "password": PASSWORD,
            }
            await create_user(self.store, fields, role="admin")
        else:
            created = await self.call(
                "POST",
                "/auth/register",
                json={
                    "email": email,
                    "fName": name or "User",
                    "lName": "Test",
                    "phoneNumber": "923085000453",
                    "country": "Pakistan",
                    "password": PASSWORD,
                },
            )
            assert created.status == 201, created.body
        login = await self.call(
            "POST", "/auth/login", json={"userName": email, "password": PASSWORD}
        )
        assert login.status == 200, login.body
        return Account(login.body["data"]["user"]["_id"], email, login.body["data"]["token"])


def api_settings(**api: Any) -> dict[str, Any]:
    """Limits high enough for tests that are not about limits."""
    base = {"rate_auth": 1000, "rate_default": 10000, "rate_upload": 1000, "rate_delete": 1000}
    base.update(api)
    return base


@pytest_asyncio.fixture
async def server() -> AsyncIterator[EmbeddedServer]:
    async with EmbeddedServer(api=api_settings(), room={"empty_timeout": 0.5}) as running:
        yield running


@pytest_asyncio.fixture
async def rest(server: EmbeddedServer) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession() as session:
        yield Rest(server, session)
