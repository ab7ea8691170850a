"""Issue 15's REST findings: the cross-user write, and input Python's parsers choke on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
import yarl

from meetbox.errors import InvalidArgument
from meetbox.server import EmbeddedServer
from meetbox.store.files import DataFiles, contained, segment
from meetbox.web.api_streaming import create_client
from tests.api.conftest import Account, Rest

pytestmark = pytest.mark.timeout(60)

START = {
    "userName": "Alice",
    "streamId": "1",
    "startTime": 1756364334634,
    "videoType": "video",
    "status": "pending",
}
HUGE = "9" * 400


async def raw_post(
    rest: Rest, path: str, who: Account, data: aiohttp.FormData | bytes
) -> tuple[int, str]:
    """POST to ``path`` exactly as written (no normalising of ``..`` or ``%2E``)."""
    url = yarl.URL(rest.server.url + path, encoded=True)
    headers = {"Authorization": f"Bearer {who.token}"}
    if isinstance(data, bytes):
        headers["Content-Type"] = "application/json"
    async with rest.session.post(url, data=data, headers=headers) as reply:
        return reply.status, await reply.text()


def recording_form() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", b"\0" * 64, filename="take.mp4", content_type="video/mp4")
    return form


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


async def test_a_room_named_dot_dot_cannot_write_into_another_users_storage(rest: Rest) -> None:
    alice = await rest.user("alice")
    bob = await rest.user("bob")
    for room in ("..", ".", ".hidden", "a/b", "..%2F"):
        reply = await rest.call(
            "POST",
            "/recording/start",
            json={**START, "roomId": room, "recordingId": bob.id},
            token=alice.token,
        )
        assert reply.status == 400 and "roomId" in reply.body["msg"], (room, reply.body)
    assert await rest.store.recordings.count({}) == 0
    # as if a schema had let it through: the storage module alone still refuses the write
    await rest.store.recordings.insert(
        {"recordingId": bob.id, "roomId": "..", "ownerId": alice.id, "state": "stopped"}
    )

    made = await rest.call(
        "POST",
        "/recording/start",
        json={**START, "roomId": "r1", "recordingId": "legit1"},
        token=alice.token,
    )
    assert made.status == 201
    recordings = rest.server.server.settings.server.data_dir / "recordings"  # type: ignore[union-attr]
    for room in ("..", "%2E%2E", "%2e%2E", ".", "r1/..", "r1%2F.."):
        path = f"/recordings/user/{alice.id}/room/{room}/recording/{bob.id}/upload-to-blob"
        status, text = await raw_post(rest, path, alice, recording_form())
        assert status in (400, 404), (room, status, text)
        assert status != 500
    assert files_under(recordings / bob.id) == []
    assert files_under(recordings) == []
    # the real one still works, and lands in alice's folder only
    path = f"/recordings/user/{alice.id}/room/r1/recording/legit1/upload-to-blob"
    status, text = await raw_post(rest, path, alice, recording_form())
    assert status == 201, text
    assert files_under(recordings) == [recordings / alice.id / "r1" / "legit1" / "take.mp4"]


def test_the_storage_module_contains_every_path_in_its_owners_folder(tmp_path: Path) -> None:
    """The second, independent check: even a name no schema stopped cannot leave."""
    files = DataFiles(tmp_path)
    alice, bob = "a" * 24, "b" * 24
    for bad in ("..", ".", "x/..", "..\\x", "a\x00b", "a\nb", "", "\ud800"):
        with pytest.raises(InvalidArgument):
            files.recording(alice, bad, bob, "take.mp4")
        with pytest.raises(InvalidArgument):
            files.recording(alice, "room", bad, "take.mp4")
        with pytest.raises(InvalidArgument):
            files.recording(alice, "room", "rec", bad)
        with pytest.raises(InvalidArgument):
            files.room_file(bad, "doc.pdf")
    with pytest.raises(InvalidArgument):
        segment("a" * 256, "roomId")
    # containment alone, with the segment check bypassed, still refuses
    with pytest.raises(InvalidArgument, match="leaves its owner's folder"):
        contained(files.user_folder(alice), "..", bob)
    (tmp_path / "recordings" / alice).mkdir(parents=True)
    (tmp_path / "recordings" / bob).mkdir(parents=True)
    (tmp_path / "recordings" / alice / "link").symlink_to(tmp_path / "recordings" / bob)
    with pytest.raises(InvalidArgument, match="leaves its owner's folder"):
        files.recording_folder(alice, "link", "rec")
    ok = files.recording(alice, "room.1", "rec_2", "take (1).mp4")
    assert ok == (tmp_path / "recordings" / alice / "room.1" / "rec_2" / "take (1).mp4").resolve()


async def test_numbers_nesting_and_surrogates_get_a_400_not_a_500(rest: Rest) -> None:
    admin = await rest.user("admin", admin=True)
    alice = await rest.user("alice")
    client_id, secret = await create_client(rest.store, "translator")
    cases: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("POST", "/room/create", b'{"name": "r", "maxParticipants": ' + HUGE.encode() + b"}", {}),
        (
            "PUT",
            f"/recordings/user/{alice.id}/storage-limit",
            b'{"newLimit": ' + HUGE.encode() + b"}",
            {},
        ),
        (
            "POST",
            "/recording/start",
            b'{"roomId": "r", "userName": "a", "streamId": 1, "recordingId": "x", '
            b'"videoType": "video", "status": "pending", "startTime": ' + HUGE.encode() + b"}",
            {},
        ),
        ("POST", "/room/create", b"[" * 100_000 + b"]" * 100_000, {}),
        ("POST", "/room/create", b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}", {}),
        ("POST", "/room/create", b'{"name": "r", "maxParticipants": 1e999}', {}),
        ("POST", "/room/create", b'{"name": "r", "maxParticipants": NaN}', {}),
        ("POST", "/room/create", b'{"name": "\\ud800"}', {}),
        (
            "POST",
            "/session-storage/sessions",
            b'{"data": {"publisher_count": ' + HUGE.encode() + b', "subscriber_count": 1}}',
            {"ClientID": client_id, "ClientSecret": secret},
        ),
    ]
    for method, path, body, headers in cases:
        reply = await rest.call(
            method,
            path,
            data=body,
            token=admin.token,
            headers={"Content-Type": "application/json", **headers},
        )
        assert reply.status == 400, (path, body[:80], reply.status, reply.body)
        assert reply.body["success"] is False and reply.body["msg"], reply.body
    for query in (f"limit={HUGE}", f"offset={HUGE}", "limit=1e999", "limit=-" + HUGE):
        reply = await rest.call("GET", "/audit?" + query, token=admin.token)
        assert reply.status == 400, (query, reply.body)
    # a lone surrogate in the email where accounts are made and used
    for path, body in [
        (
            "/auth/register",
            b'{"email": "x\\ud800@example.com", "fName": "a", "lName": "b", '
            b'"phoneNumber": "000000", "country": "Nowhere", "password": "Passw0rd!x"}',
        ),
        ("/auth/login", b'{"userName": "x\\udfff@example.com", "password": "Passw0rd!x"}'),
    ]:
        reply = await rest.call(
            "POST", path, data=body, headers={"Content-Type": "application/json"}
        )
        assert reply.status == 400 and "surrogate" in reply.body["msg"], (path, reply.body)


async def test_login_is_limited_per_account_whatever_the_address() -> None:
    async with (
        EmbeddedServer(api={"rate_auth": 3, "rate_default": 10000}) as server,
        aiohttp.ClientSession() as session,
    ):
        rest = Rest(server, session)
        statuses = []
        for _ in range(5):
            reply = await rest.call(
                "POST", "/auth/login", json={"userName": "victim@example.com", "password": "x"}
            )
            statuses.append(reply.status)
        assert statuses[:3] == [401, 401, 401] and statuses[3:] == [429, 429]


async def test_start_subtitle_needs_a_token_that_grants_room_join(
    rest: Rest, server: EmbeddedServer
) -> None:
    async with server.client("live", "alice"):
        token = server.token("live", "alice", room_join=False)
        reply = await rest.call(
            "POST", "/api/v1.0/rooms/live/start-subtitle/", json={"token": token}
        )
        assert reply.status == 403 and "roomJoin" in reply.body["msg"], reply.body
        far = server.token("live", "alice", ttl=1e30)
        reply = await rest.call("POST", "/api/v1.0/rooms/live/start-subtitle/", json={"token": far})
        assert reply.status == 401 and "too far" in reply.body["msg"], reply.body
        assert await rest.store.dispatches.count({}) == 0


async def test_a_request_aiohttp_cannot_parse_is_a_400_and_one_log_line(
    server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    for raw in (
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Probe: \x00\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.read(64), 5)
        writer.close()
        await writer.wait_closed()
        assert head.split(b" ")[1] == b"400", head
    assert not [r for r in caplog.records if r.exc_info]
