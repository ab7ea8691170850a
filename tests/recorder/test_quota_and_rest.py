"""Recording through the REST API: started and stopped for a live room, stopped by the
owner's storage quota with a clear event, its files downloadable and deletable."""

from __future__ import annotations

import aiohttp
import pytest

from meetbox.server import EmbeddedServer
from tests.api.conftest import Rest, api_settings
from tests.recorder.helpers import inspect, publish_av

pytestmark = pytest.mark.timeout(90)

START = {
    "roomId": "quota",
    "userName": "Ann",
    "streamId": "1",
    "recordingId": "1756364334628_000001",
    "startTime": 1756364334634,
    "videoType": "video",
    "status": "pending",
}


async def test_the_quota_stops_a_recording_and_usage_is_accounted() -> None:
    limit = 120_000  # bytes: about two seconds of the participants' media
    async with (
        EmbeddedServer(api=api_settings(storage_limit_bytes=limit)) as server,
        aiohttp.ClientSession() as session,
    ):
        rest = Rest(server, session)
        ann = await rest.user("ann")
        not_live = await rest.call(
            "POST", "/recording/start", token=ann.token,
            json={**START, "roomId": "nobody-here", "recordingId": "1_1"},
        )  # fmt: skip
        assert not_live.status == 201 and not_live.body["data"]["state"] == "pending"
        host = server.client("quota", "host", room_admin=True)
        async with host:
            await publish_av(host)
            started = await rest.call("POST", "/recording/start", json=START, token=ann.token)
            assert started.status == 201, started.body
            assert started.body["data"]["state"] == "recording"
            await host.wait_for(lambda: len(host.received("recording")) >= 2 or None, timeout=30)
            first, last = host.received("recording")[:2]
            assert first["recording"] is True
            assert last["recording"] is False and last["reason"] == "storage limit reached"
            room = server.room("quota")
            assert room is not None and not room.features.recording
            # the files are finished, the usage counted, nothing more starts
            info = await rest.call(
                "GET", f"/recordings/user/{ann.id}/storage-info", token=ann.token
            )
            used = info.body["data"]["totalUsage"]
            assert used == last["bytes"] >= limit
            again = await rest.call(
                "POST", "/recording/start", token=ann.token,
                json={**START, "recordingId": "1756364334628_000002"},
            )  # fmt: skip
            assert again.status == 429, again  # resource_exhausted
            assert "storage limit" in again.body["msg"]
        name = last["files"][0]["fileName"]
        assert name == "host-01.webm"
        base = f"/recordings/user/{ann.id}/room/quota/recording/{START['recordingId']}"
        signed = await rest.call("GET", f"{base}/file/{name}/sas-url", token=ann.token)
        assert signed.status == 200, signed.body
        async with session.get(signed.body["data"]["url"]) as download:
            assert download.status == 200
            body = await download.read()
        assert len(body) == last["files"][0]["fileSize"]
        assert server.server is not None
        path = next(server.server.settings.server.data_dir.rglob(name))
        facts = inspect(path)
        assert facts.video_codec == "vp8" and facts.decoded_frames > 10
        deleted = await rest.call("DELETE", f"{base}/{name}", token=ann.token)
        assert deleted.status == 200
        assert deleted.body["data"]["totalUsage"] == used - last["files"][0]["fileSize"]
        assert not path.exists()


async def test_rest_stop_finishes_a_live_recording() -> None:
    async with (
        EmbeddedServer(api=api_settings()) as server,
        aiohttp.ClientSession() as session,
    ):
        rest = Rest(server, session)
        ann = await rest.user("ann")
        host = server.client("quota", "host", room_admin=True)
        async with host:
            await publish_av(host)
            started = await rest.call("POST", "/recording/start", json=START, token=ann.token)
            assert started.status == 201, started.body
            await host.wait_for(lambda: host.received("recording") or None)
            stop = {
                "recordingId": START["recordingId"],
                "streamId": "1",
                "endTime": "2026-11-21T10:00:00Z",
            }
            stopped = await rest.call("POST", "/recording/stop", json=stop, token=ann.token)
            assert stopped.status == 204
            await host.wait_for(lambda: len(host.received("recording")) >= 2 or None)
            assert host.received("recording")[1]["reason"] == "stopped"
        listed = await rest.call("GET", "/recordings/list", token=ann.token)
        mine = next(r for r in listed.body if r["recordingId"] == START["recordingId"])
        assert mine["state"] == "stopped" and mine["status"] is True
