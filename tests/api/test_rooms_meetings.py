"""Rooms the SFU serves (with their participant limit) and meetings, with their owners' rules."""

from __future__ import annotations

import pytest

from meetbox.client import ClientError
from meetbox.server import EmbeddedServer
from tests.api.conftest import Rest


async def test_a_created_room_is_served_by_the_sfu_and_enforces_max_participants(
    rest: Rest, server: EmbeddedServer
) -> None:
    owner = await rest.user("owner")
    reply = await rest.call(
        "POST",
        "/room/create",
        json={"name": "Haseeb Asif", "type": "conference", "maxParticipants": 2},
        token=owner.token,
    )
    assert reply.status == 201
    assert reply.body["msg"] == "Room created Successfully!"
    room = reply.body["data"]
    assert room["name"] == "Haseeb Asif" and room["type"] == "conference"
    assert room["p2p"] is False and len(room["id"]) == 24
    async with server.client(room["id"], "a") as a, server.client(room["id"], "b") as b:
        assert a.room is not None and b.room is not None
        third = server.client(room["id"], "c")
        with pytest.raises(ClientError) as refused:
            await third.connect()
        assert refused.value.server_code == "resource_exhausted"
        assert "full" in refused.value.message
        await third.close()
        # a hidden recorder does not take a seat
        async with server.client(room["id"], "recorder", hidden=True) as rec:
            assert rec.room is not None
        live = server.room(room["id"])
        assert live is not None and live.room_type == "conference"


async def test_room_body_is_validated(rest: Rest) -> None:
    owner = await rest.user("owner")
    for body in (
        {"name": "x", "type": "party"},
        {"name": "", "type": "meeting"},
        {"name": "x", "type": "meeting", "maxParticipants": 0},
        {"name": "x", "type": "meeting", "maxParticipants": "5"},
        {"name": "x", "type": "meeting", "isPrivate": "yes"},
    ):
        reply = await rest.call("POST", "/room/create", json=body, token=owner.token)
        assert reply.status == 400, body
    assert await rest.store.rooms.count({}) == 0
    unauthenticated = await rest.call("POST", "/room/create", json={"name": "x", "type": "live"})
    assert unauthenticated.status == 401


async def test_meetings_create_update_list_and_only_their_host_may_touch_them(rest: Rest) -> None:
    host = await rest.user("host")
    other = await rest.user("other")
    created = await rest.call(
        "POST",
        "/meetings/create",
        json={"title": "Weekly", "hostId": host.id, "transcriptEnabled": True},
        token=host.token,
    )
    assert created.status == 201
    meeting = created.body["data"]
    assert meeting["recordingIds"] == [] and meeting["summaryGenerated"] is False
    assert meeting["createdAt"].endswith("Z")
    for_someone_else = await rest.call(
        "POST",
        "/meetings/create",
        json={"title": "x", "hostId": other.id, "transcriptEnabled": False},
        token=host.token,
    )
    assert for_someone_else.status == 403

    update = {
        "userId": host.id,
        "title": "Test Meeting",
        "transcriptEnabled": False,
        "summaryGenerated": False,
        "roomId": "68aff60da51d6c83a24245a2",
        "recordingId": "1737978989992_59591",
    }
    path = f"/meetings/update/{meeting['_id']}"
    done = await rest.call("POST", path, json=update, token=host.token)
    assert done.status == 204 and done.body == b""
    again = await rest.call("POST", path, json=update, token=host.token)
    assert again.status == 204

    stolen = await rest.call("POST", path, json={**update, "userId": other.id}, token=other.token)
    assert stolen.status == 403
    impersonated = await rest.call("POST", path, json=update, token=other.token)
    assert impersonated.status == 403
    missing = await rest.call("POST", "/meetings/update/" + "0" * 24, json=update, token=host.token)
    assert missing.status == 404
    bad_id = await rest.call("POST", "/meetings/update/nope", json=update, token=host.token)
    assert bad_id.status == 400 and "meetingId" in bad_id.body["msg"]

    listed = await rest.call("GET", f"/meetings/list/{host.id}", token=host.token)
    assert listed.status == 200
    [item] = listed.body["data"]
    assert item["title"] == "Test Meeting"
    assert item["recordingIds"] == ["1737978989992_59591"]
    assert item["roomId"] == "68aff60da51d6c83a24245a2"
    assert (await rest.call("GET", f"/meetings/list/{host.id}", token=other.token)).status == 403
    admin = await rest.user("admin", admin=True)
    assert (await rest.call("GET", f"/meetings/list/{host.id}", token=admin.token)).status == 200
