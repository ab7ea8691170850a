"""Registration, sign-in, password storage, token kinds and input validation."""

from __future__ import annotations

import aiohttp
import socketio

from meetbox.server import EmbeddedServer
from tests.api.conftest import PASSWORD, Rest
from tests.helpers import wait_async

REGISTRATION = {
    "email": "haseeb@altegon.com",
    "fName": "Haseeb",
    "lName": "Asif",
    "phoneNumber": "923085000453",
    "country": "Pakistan",
    "password": "AB1239001",
}


async def test_register_answers_the_seed_shape_and_stores_only_an_argon2id_hash(rest: Rest) -> None:
    reply = await rest.call("POST", "/auth/register", json=REGISTRATION)
    assert reply.status == 201
    assert reply.body["success"] is True
    assert reply.body["message"] == "User created successfully"
    user = reply.body["data"]["user"]
    assert {k: user[k] for k in ("fName", "lName", "email")} == {
        "fName": "Haseeb",
        "lName": "Asif",
        "email": "haseeb@altegon.com",
    }
    assert len(user["_id"]) == 24 and int(user["_id"], 16) >= 0
    stored = await rest.store.users.get(user["_id"])
    assert stored is not None
    assert stored["passwordHash"].startswith("$argon2id$")
    assert "AB1239001" not in str(stored)


async def test_a_taken_email_is_409_whatever_its_case(rest: Rest) -> None:
    assert (await rest.call("POST", "/auth/register", json=REGISTRATION)).status == 201
    again = dict(REGISTRATION, email="HASEEB@altegon.com")
    reply = await rest.call("POST", "/auth/register", json=again)
    assert reply.status == 409
    assert reply.body == {"success": False, "data": None, "msg": reply.body["msg"]}
    assert "already registered" in reply.body["msg"]
    assert await rest.store.users.count({}) == 1


async def test_password_rules_are_stated_in_the_error(rest: Rest) -> None:
    for bad in ("short1", "onlyletters", "1234567890"):
        reply = await rest.call("POST", "/auth/register", json=dict(REGISTRATION, password=bad))
        assert reply.status == 400
        assert "at least one letter and one digit" in reply.body["msg"] or "8" in reply.body["msg"]
    assert await rest.store.users.count({}) == 0


async def test_every_bad_body_is_400_naming_the_field_and_changes_nothing(rest: Rest) -> None:
    cases = {
        "email": ({**REGISTRATION, "email": "not-an-email"}, "email"),
        "missing": ({k: v for k, v in REGISTRATION.items() if k != "fName"}, "fName"),
        "type": ({**REGISTRATION, "country": 7}, "country"),
        "unknown": ({**REGISTRATION, "isAdmin": True}, "isAdmin"),
        "operator": ({**REGISTRATION, "$where": "1"}, "$where"),
        "dotted": ({**REGISTRATION, "a.b": "x"}, "a.b"),
        "nested": ({**REGISTRATION, "email": {"$ne": None}}, "email"),
    }
    for name, (body, field) in cases.items():
        reply = await rest.call("POST", "/auth/register", json=body)
        assert reply.status == 400, name
        assert field in reply.body["msg"], (name, reply.body)
    raw = await rest.call(
        "POST", "/auth/register", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert raw.status == 400 and "JSON" in raw.body["msg"]
    array = await rest.call("POST", "/auth/register", json=[1, 2])
    assert array.status == 400
    assert await rest.store.users.count({}) == 0


async def test_login_returns_a_token_and_does_not_say_which_part_was_wrong(rest: Rest) -> None:
    account = await rest.user("alice")
    wrong_password = await rest.call(
        "POST", "/auth/login", json={"userName": account.email, "password": "Wrong1234"}
    )
    no_such_user = await rest.call(
        "POST", "/auth/login", json={"userName": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong_password.status == no_such_user.status == 401
    assert wrong_password.body["msg"] == no_such_user.body["msg"] == "invalid email or password"
    operator = await rest.call(
        "POST", "/auth/login", json={"userName": {"$gt": ""}, "password": PASSWORD}
    )
    assert operator.status == 400
    entries = await rest.store.audit.find({"action": "auth.login"})
    assert [e["outcome"] for e in entries] == ["success", "failure", "failure"]
    assert entries[1]["userId"] == account.id and entries[2]["userId"] is None


async def test_user_tokens_and_room_tokens_cannot_pass_for_each_other(
    rest: Rest, server: EmbeddedServer
) -> None:
    account = await rest.user("alice")
    room_token = server.token("r1", "alice")
    as_user = await rest.call(
        "POST", "/room/create", json={"name": "x", "type": "meeting"}, token=room_token
    )
    assert as_user.status == 401
    forged = await rest.call(
        "POST", "/room/create", json={"name": "x", "type": "meeting"}, token=account.token + "x"
    )
    assert forged.status == 401
    sio = socketio.AsyncClient(reconnection=False)
    try:
        await sio.connect(
            server.url, socketio_path="socket.io", auth={"token": account.token}, wait_timeout=5
        )
        connected = True
    except socketio.exceptions.ConnectionError:
        connected = False
    finally:
        await sio.disconnect()
    assert not connected


async def test_expired_user_tokens_are_refused() -> None:
    async with EmbeddedServer(api={"user_token_ttl": 1}) as server, aiohttp.ClientSession() as s:
        rest = Rest(server, s)
        account = await rest.user("bob")
        first = await rest.call("GET", "/recordings/list", token=account.token)
        assert first.status == 200
        seen: list[str] = []

        async def refused() -> bool:
            reply = await rest.call("GET", "/recordings/list", token=account.token)
            seen.append(reply.body["msg"] if reply.status == 401 else "")
            return reply.status == 401

        await wait_async(refused, timeout=5)  # the token lives one second
        assert "expired" in seen[-1]
