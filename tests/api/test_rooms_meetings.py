"""Rooms the SFU serves (with their participant limit) and meetings, with their owners' rules."""

from __future__ import annotations

import pytest

from meetbox.client import Client, ClientError
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


async def test_the_page_gets_room_tokens_by_the_room_rules(
    rest: Rest, server: EmbeddedServer
) -> None:
    owner = await rest.user("owner")
    other = await rest.user("other")

    async def room(kind: str, private: bool) -> str:
        body = {"name": kind, "type": kind, "isPrivate": private}
        return str(
            (await rest.call("POST", "/room/create", json=body, token=owner.token)).body["data"][
                "id"
            ]
        )

    public, private, webinar = (
        await room("meeting", False),
        await room("meeting", True),
        await room("webinar", False),
    )
    guest = await rest.call("POST", f"/room/{public}/token", json={"name": "Guest"})
    assert guest.status == 200
    claims = server.server.signalling.verifier.verify_for_room(  # type: ignore[union-attr]
        guest.body["data"]["token"], public
    )
    assert claims.name == "Guest" and claims.identity.startswith("guest-")
    assert not claims.video.room_admin and claims.video.can_publish
    async with Client(server.url, guest.body["data"]["token"]) as client:
        assert client.room is not None and client.room["name"] == public
    host = await rest.call(
        "POST", f"/room/{public}/token", json={"name": "Owner"}, token=owner.token
    )
    host_claims = server.server.signalling.verifier.verify(  # type: ignore[union-attr]
        host.body["data"]["token"]
    )
    assert host_claims.video.room_admin and host_claims.identity == f"user-{owner.id}"

    assert (await rest.call("POST", f"/room/{private}/token", json={"name": "x"})).status == 403
    assert (
        await rest.call("POST", f"/room/{private}/token", json={"name": "x"}, token=other.token)
    ).status == 403
    assert (
        await rest.call("POST", f"/room/{private}/token", json={"name": "x"}, token=owner.token)
    ).status == 200
    viewer = await rest.call("POST", f"/room/{webinar}/token", json={"name": "Viewer"})
    viewer_claims = server.server.signalling.verifier.verify(  # type: ignore[union-attr]
        viewer.body["data"]["token"]
    )
    assert viewer_claims.video.can_publish is False
    assert (await rest.call("POST", f"/room/{'0' * 24}/token", json={"name": "x"})).status == 404
    assert (await rest.call("POST", f"/room/{public}/token", json={"name": ""})).status == 400
    assert (await rest.call("POST", f"/room/{public}/token", json={})).status == 400
