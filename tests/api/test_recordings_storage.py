"""Recording metadata, storage accounting with warnings, signed downloads and deletion."""

from __future__ import annotations

import aiohttp
from yarl import URL

from meetbox.server import EmbeddedServer
from tests.api.conftest import Account, Reply, Rest, api_settings

ROOM = "68affe24fabc0702c5d30c29"
START = {
    "roomId": ROOM,
    "userName": "Haseeb Asif",
    "streamId": 755961800257348400,
    "recordingId": "1756364334628_738386",
    "startTime": 1756364334634,
    "videoType": "video",
    "status": "pending",
}


async def start(rest: Rest, who: Account, recording_id: str) -> None:
    reply = await rest.call(
        "POST", "/recording/start", json={**START, "recordingId": recording_id}, token=who.token
    )
    assert reply.status == 201, reply.body


async def upload(rest: Rest, who: Account, recording_id: str, size: int, name: str) -> Reply:
    form = aiohttp.FormData()
    form.add_field("file", b"\0" * size, filename=name, content_type="video/mp4")
    path = f"/recordings/user/{who.id}/room/{ROOM}/recording/{recording_id}/upload-to-blob"
    return await rest.call("POST", path, data=form, token=who.token)


async def test_start_stop_list_as_the_seed_shows(rest: Rest) -> None:
    alice = await rest.user("alice")
    bob = await rest.user("bob")
    await start(rest, alice, "1756364334628_738386")
    duplicate = await rest.call("POST", "/recording/start", json=START, token=alice.token)
    assert duplicate.status == 409
    stop = {
        "recordingId": START["recordingId"],
        "streamId": "755961800257348400",
        "endTime": "2025-10-13T10:20:00.000Z",
    }
    not_yours = await rest.call("POST", "/recording/stop", json=stop, token=bob.token)
    assert not_yours.status == 404
    wrong_stream = await rest.call(
        "POST", "/recording/stop", json={**stop, "streamId": "1"}, token=alice.token
    )
    assert wrong_stream.status == 404
    stopped = await rest.call("POST", "/recording/stop", json=stop, token=alice.token)
    assert stopped.status == 204
    twice = await rest.call("POST", "/recording/stop", json=stop, token=alice.token)
    assert twice.status == 409

    listed = await rest.call("GET", "/recordings/list", token=alice.token)
    assert listed.status == 200 and isinstance(listed.body, list)
    [item] = listed.body
    assert item["recordingId"] == "1756364334628_738386"
    assert item["hostName"] == "Haseeb Asif" and item["status"] is True
    assert item["streamId"] == "755961800257348400"
    assert item["startTime"] == "2025-08-28T06:58:54.634Z"
    assert item["endTime"] == "2025-10-13T10:20:00.000Z"
    assert (await rest.call("GET", "/recordings/list", token=bob.token)).body == []
    bad = await rest.call(
        "POST", "/recording/start", json={**START, "startTime": "yesterday"}, token=alice.token
    )
    assert bad.status == 400 and "startTime" in bad.body["msg"]


async def test_storage_usage_warnings_limits_and_exceeded_users() -> None:
    settings = api_settings(storage_limit_bytes=1000)
    async with EmbeddedServer(api=settings) as server, aiohttp.ClientSession() as session:
        rest = Rest(server, session)
        alice = await rest.user("alice")
        admin = await rest.user("admin", admin=True)
        await start(rest, alice, "r1")
        await start(rest, alice, "r2")
        stored = await upload(rest, alice, "r1", 760, "meeting_2025-10-14.mp4")
        assert stored.status == 201, stored.body
        info = await rest.call(
            "GET", f"/recordings/user/{alice.id}/storage-info", token=alice.token
        )
        data = info.body["data"]
        assert data["totalUsage"] == 760 and data["availableStorage"] == 240
        assert data["usagePercentage"] == 76 and data["recordingsCount"] == 1
        assert data["warnings"] == [
            {"type": "usage", "message": "You have used 75% of your storage limit."}
        ]
        assert data["recordings"][0]["fileName"] == "meeting_2025-10-14.mp4"
        too_big = await upload(rest, alice, "r2", 300, "b.mp4")
        assert too_big.status == 413
        assert (
            await rest.call("GET", f"/recordings/user/{alice.id}/storage-info", token=alice.token)
        ).body["data"]["totalUsage"] == 760

        limit_path = f"/recordings/user/{alice.id}/storage-limit"
        by_user = await rest.call("PUT", limit_path, json={"newLimit": 10}, token=alice.token)
        assert by_user.status == 403
        lowered = await rest.call("PUT", limit_path, json={"newLimit": 500}, token=admin.token)
        assert lowered.status == 200
        assert lowered.body["data"] == {
            "userId": alice.id,
            "storageLimit": 500,
            "storageLimitGB": "0.00",
        }
        over = await rest.call(
            "GET", f"/recordings/user/{alice.id}/storage-info", token=alice.token
        )
        assert over.body["data"]["isLimitExceeded"] is True
        assert over.body["data"]["exceedAmount"] == 260
        assert over.body["data"]["warnings"][0]["type"] == "exceeded"
        exceeded = await rest.call(
            "GET", "/recordings/admin/exceeded-storage-users", token=admin.token
        )
        assert exceeded.body["data"] == [
            {
                "userId": alice.id,
                "totalUsage": 760,
                "storageLimit": 500,
                "exceedAmount": 260,
                "recordingsCount": 1,
            }
        ]
        assert (
            await rest.call("GET", "/recordings/admin/exceeded-storage-users", token=alice.token)
        ).status == 403
        other = await rest.call(
            "GET", f"/recordings/user/{admin.id}/storage-info", token=alice.token
        )
        assert other.status == 403
        assert [e["outcome"] for e in await rest.store.audit.find({"action": "storage.limit"})] == [
            "success"
        ]


async def test_signed_urls_download_expire_and_delete_frees_storage() -> None:
    settings = api_settings(signed_url_ttl=1)
    async with EmbeddedServer(api=settings) as server, aiohttp.ClientSession() as session:
        rest = Rest(server, session)
        alice = await rest.user("alice")
        bob = await rest.user("bob")
        await start(rest, alice, "r1")
        assert (await upload(rest, alice, "r1", 1234, "../../etc/my clip.mp4")).status == 201
        name = "my clip.mp4"  # the folders were dropped from the uploaded name
        base = f"/recordings/user/{alice.id}/room/{ROOM}/recording/r1"
        signed = await rest.call("GET", f"{base}/file/{name}/sas-url", token=alice.token)
        assert signed.status == 200, signed.body
        url = signed.body["data"]["url"]
        assert url.startswith(server.url + "/downloads/") and "signature=" in url
        async with session.get(URL(url, encoded=True)) as got:
            assert got.status == 200
            assert await got.read() == b"\0" * 1234
        tampered = url.replace("signature=", "signature=0")[:-1]
        async with session.get(URL(tampered, encoded=True)) as got:
            assert got.status in (400, 403)
        other_file = url.replace("/r1/", "/r2/")
        async with session.get(URL(other_file, encoded=True)) as got:
            assert got.status == 403
        assert (
            await rest.call("GET", f"{base}/file/{name}/sas-url", token=bob.token)
        ).status == 403

        async def expired() -> bool:
            async with session.get(URL(url, encoded=True)) as got:
                return got.status == 403

        from tests.helpers import wait_async

        await wait_async(expired, timeout=5)

        removed = await rest.call("DELETE", f"{base}/{name}", token=alice.token)
        assert removed.status == 200
        assert removed.body["msg"] == "Recording deleted successfully."
        assert removed.body["data"]["totalUsage"] == 0
        assert removed.body["data"]["recordingsCount"] == 0
        assert (await rest.call("DELETE", f"{base}/{name}", token=alice.token)).status == 404
        traversal = await rest.call("DELETE", f"{base}/..%2F..%2Fkeys.json", token=alice.token)
        assert traversal.status in (400, 404)
        actions = [(e["action"], e["outcome"]) for e in await rest.store.audit.find({})]
        assert ("recording.sign", "success") in actions
        assert ("recording.delete", "success") in actions
        assert ("recording.delete", "failure") in actions
