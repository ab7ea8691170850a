"""Every room event of the seed: happy path, wrong room, non-host, malformed payload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from meetbox.client import Client, ClientError
from meetbox.server import EmbeddedServer
from meetbox.signalling.events import GROUPS
from meetbox.signalling.events.media import MediaEvents
from meetbox.tracks import ToneAudioTrack
from tests.helpers import eventually

# the handler table, read without a server (the constructor only keeps the reference)
SPECS = {
    spec.name: (spec, method)
    for group in GROUPS
    if group is not MediaEvents
    for spec, method in group(None).table()  # type: ignore[arg-type]
}
ALL_EVENTS = sorted(SPECS)
HOST_ONLY = sorted(name for name, (spec, _) in SPECS.items() if spec.host_only)


async def expect_error(client: Client, event: str, data: Any, code: str) -> str:
    with pytest.raises(ClientError) as refused:
        await client._call(event, data)
    assert refused.value.server_code == code, (event, refused.value)
    return refused.value.message


@pytest_asyncio.fixture
async def trio(meetbox_server: EmbeddedServer) -> AsyncIterator[tuple[Client, Client, Client]]:
    host = meetbox_server.client("ev", "host", room_admin=True, name="Host")
    alice = meetbox_server.client("ev", "alice", name="Alice")
    bob = meetbox_server.client("ev", "bob", name="Bob")
    for c in (host, alice, bob):
        await c.connect()
    yield host, alice, bob
    for c in (host, alice, bob):
        await c.close()


def test_the_seed_event_list_is_implemented() -> None:
    seed = {
        "view_count",
        "start-transcript",
        "chat-box",
        "request-mic",
        "request-mic-accepted",
        "request-mic-rejected",
        "mic-accepted-ack",
        "mute-mic-request",
        "video-off",
        "device-switch",
        "product-selected",
        "sell-live",
        "recording",
        "sharing-toggle",
        "whiteBoardToggle",
        "whiteBoardStateRequest",
        "white-board-stage",
        "sendDrawingData",
        "Un-do",
        "clear-whiteBoard",
        "mute-all-participants",
        "mute-participant",
        "remove-participant",
        "transcript",
        "annotation",
        "meetingId",
        "room.join",
        # the seed's recording-server socket, on the room's socket
        "process-recording",
        "create-file",
        "stream",
        "stop-writing",
    }  # room_connected is sent by the server on join
    beyond_the_seed = {"stop-transcript"}  # the seed starts captions; meetbox stops them too
    assert seed | beyond_the_seed == set(ALL_EVENTS)
    assert set(HOST_ONLY) == {
        "request-mic-accepted",
        "request-mic-rejected",
        "mute-mic-request",
        "mute-participant",
        "mute-all-participants",
        "remove-participant",
        "sell-live",
        "recording",
        "process-recording",
        "whiteBoardToggle",
        "meetingId",
        "start-transcript",
        "stop-transcript",
    }


@pytest.mark.parametrize("event", ALL_EVENTS)
async def test_no_event_can_address_another_room(
    event: str, trio: tuple[Client, Client, Client]
) -> None:
    host, alice, bob = trio
    for c in (alice, bob):
        await c.wait_for(lambda: [v for v in c.received("view_count") if v["count"] == 3])  # noqa: B023
    before = len(alice.events) + len(bob.events)
    for key in ("room_id", "roomId"):
        message = await expect_error(host, event, {key: "another-room"}, "permission_denied")
        assert "your own room" in message
    assert (await host.send("view_count"))["count"] == 3
    assert len(alice.events) + len(bob.events) == before


@pytest.mark.parametrize("event", HOST_ONLY)
async def test_host_only_events_are_refused_to_others(
    event: str, trio: tuple[Client, Client, Client], meetbox_server: EmbeddedServer
) -> None:
    host, alice, bob = trio
    payloads: dict[str, dict[str, Any]] = {
        "request-mic-accepted": {"id": "bob"},
        "request-mic-rejected": {"id": "bob"},
        "mute-mic-request": {"id": "bob", "mute": True},
        "mute-participant": {"id": "bob"},
        "mute-all-participants": {},
        "remove-participant": {"id": "bob"},
        "sell-live": {"active": True},
        "recording": {"recording": True},
        "process-recording": {"recordingId": "1_1"},
        "whiteBoardToggle": {"open": True},
        "meetingId": {"meetingId": "68ee4b39b22d6134386fc5dc"},
        "start-transcript": {"language": "en"},
        "stop-transcript": {},
    }
    payload = payloads[event]
    message = await expect_error(alice, event, payload, "permission_denied")
    assert "host" in message
    room = meetbox_server.room("ev")
    assert room is not None and len(room.participants) == 3
    assert not room.features.recording and not room.features.whiteboard.open
    assert room.features.meeting_id == "" and room.features.selling is None
    assert not room.agents
    assert not [e for e, _ in bob.events + host.events if e == event]


@pytest.mark.parametrize("event", ALL_EVENTS)
async def test_malformed_payloads_are_refused(
    event: str, trio: tuple[Client, Client, Client]
) -> None:
    host = trio[0]
    for bad in ("text", [1, 2], {"unexpected": 1}, {"type": "other-event"}):
        await expect_error(host, event, bad, "invalid_argument")
    # and the connection still works
    assert (await host.send("view_count"))["count"] == 3


async def test_chat_is_text_for_everyone_else_bounded_and_flood_limited(
    trio: tuple[Client, Client, Client],
) -> None:
    _, alice, bob = trio
    ack = await alice.send("chat-box", {"msg": "<b>Hello</b> everyone!"})
    got = await bob.wait_for(lambda: bob.received("chat-box"))
    assert got[0] == ack["message"]
    assert got[0]["type"] == "chat-box" and got[0]["id"] == "alice"
    assert got[0]["username"] == "Alice" and got[0]["msg"] == "<b>Hello</b> everyone!"
    assert isinstance(got[0]["time"], int)
    assert not alice.received("chat-box")
    await expect_error(alice, "chat-box", {"msg": "x" * 2001}, "invalid_argument")
    await expect_error(alice, "chat-box", {"msg": 5}, "invalid_argument")
    await expect_error(alice, "chat-box", {"msg": "a\x00b"}, "invalid_argument")
    codes = []
    for i in range(20):
        try:
            await alice.send("chat-box", {"msg": f"m{i}"})
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.server_code)
    assert "resource_exhausted" in codes and codes[0] == "ok"
    assert (await bob.send("chat-box", {"msg": "bob is not limited"}))["message"]["id"] == "bob"


async def test_broadcast_events_reach_the_room(trio: tuple[Client, Client, Client]) -> None:
    host, alice, bob = trio
    await alice.send("video-off", {"off": True})
    await alice.send("sharing-toggle", {"sharing": True})
    await alice.send("device-switch", {"kind": "audioinput", "deviceId": "default"})
    await alice.send("transcript", {"msg": "This is the transcript text."})
    await alice.send("annotation", {"data": {"shape": "arrow", "x": 1}})
    await alice.send("product-selected", {"product": {"sku": "A1"}})
    await host.send("sell-live", {"active": True, "product": {"sku": "A1"}})
    await host.send("recording", {"recording": True})
    await host.send("meetingId", {"meetingId": "68ee4b39b22d6134386fc5dc"})
    names = (
        "video-off",
        "sharing-toggle",
        "device-switch",
        "transcript",
        "annotation",
        "product-selected",
        "sell-live",
        "recording",
        "meetingId",
    )
    await bob.wait_for(lambda: all(bob.received(n) for n in names))
    assert bob.received("video-off")[0]["off"] is True
    assert bob.received("transcript")[0]["msg"] == "This is the transcript text."
    assert bob.received("sell-live")[0]["active"] is True
    assert bob.received("recording")[0]["recording"] is True
    assert bob.received("meetingId")[0]["meetingId"] == "68ee4b39b22d6134386fc5dc"
    await expect_error(alice, "annotation", {"data": "x" * 20000}, "invalid_argument")
    joined = await alice.send("room.join", {"roomId": "ev"})
    assert joined["state"] == {
        "meetingId": "68ee4b39b22d6134386fc5dc",
        "recording": True,
        "selling": {"product": {"sku": "A1"}},
        "whiteboardOpen": False,
        "captions": False,
    }


async def test_view_count_follows_joins_and_leaves(meetbox_server: EmbeddedServer) -> None:
    async with meetbox_server.client("vc", "a") as a:
        await a.wait_for(lambda: [e for e in a.received("view_count") if e["count"] == 1])
        async with meetbox_server.client("vc", "b"):
            await a.wait_for(lambda: a.received("view_count")[-1]["count"] == 2)
            assert (await a.send("view_count"))["count"] == 2
        await a.wait_for(lambda: a.received("view_count")[-1]["count"] == 1)
        async with meetbox_server.client("vc", "rec", hidden=True):
            assert (await a.send("view_count"))["count"] == 1


async def test_the_whiteboard_is_kept_in_order_for_late_joiners(
    meetbox_server: EmbeddedServer,
) -> None:
    async with meetbox_server.client("wb", "host", room_admin=True) as host:
        async with meetbox_server.client("wb", "ann") as ann:
            await host.send("whiteBoardToggle", {"open": True})
            await ann.wait_for(lambda: ann.received("whiteBoardToggle"))
            await host.send("white-board-stage", {"stage": {"attrs": {"w": 800}, "children": []}})
            for stroke in range(3):
                for kind in ("mousedown", "mousemove", "mouseup"):
                    await ann.send(
                        "sendDrawingData",
                        {
                            "drawingType": kind,
                            "payload": {
                                "pos": {"x": stroke, "y": 1},
                                "eraser": False,
                                "brushSize": 3,
                                "inkColor": "#000000",
                                "brushOpacity": 1,
                            },
                        },
                    )
            await host.wait_for(lambda: len(host.received("sendDrawingData")) == 9)
            drawn = host.received("sendDrawingData")[0]
            assert drawn["type"] == "sendDrawingData" and drawn["msg"]["room_id"] == "wb"
            assert (await ann.send("Un-do"))["undone"] is True
            await host.wait_for(lambda: host.received("Un-do"))
        # ann has left: a late joiner still gets the board from the server
        async with meetbox_server.client("wb", "late") as late:
            state = (await late.send("whiteBoardStateRequest"))["state"]
            assert state["open"] is True and state["stage"]["attrs"] == {"w": 800}
            assert [len(s) for s in state["strokes"]] == [3, 3]
            assert [s[0]["payload"]["pos"]["x"] for s in state["strokes"]] == [0, 1]
            assert late.room is not None
            await late.send("clear-whiteBoard")
            await host.wait_for(lambda: host.received("clear-whiteBoard"))
            assert (await host.send("whiteBoardStateRequest"))["state"]["strokes"] == []
            assert (await late.send("Un-do"))["undone"] is False
            await expect_error(late, "white-board-stage", {"stage": "x"}, "invalid_argument")
            big = {"attrs": {}, "children": ["x" * 1000] * 210}
            await expect_error(late, "white-board-stage", {"stage": big}, "invalid_argument")


async def test_host_mute_stops_forwarding_the_audio(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("hm", "host", room_admin=True) as host,
        meetbox_server.client("hm", "bob") as bob,
        meetbox_server.client("hm", "cat") as cat,
    ):
        audio_sid = await bob.publish(ToneAudioTrack())
        await cat.wait_for_track(identity="bob", kind="audio")
        room = meetbox_server.room("hm")
        assert room is not None
        up = room.router.uptracks[audio_sid]  # type: ignore[index]
        ack = await host.send("mute-participant", {"id": "bob"})
        assert ack["muted"] == [audio_sid]
        await cat.wait_for(lambda: cat.published[audio_sid]["muted"] is True)
        await bob.wait_for(lambda: bob.received("mute-participant"))
        sent = [d.packets_sent for d in up.downtracks]
        received = up.packets_received
        await eventually(lambda: up.packets_received > received + 25)
        assert [d.packets_sent for d in up.downtracks] == sent  # nothing forwarded
        await expect_error(host, "mute-participant", {"id": "nobody"}, "not_found")


async def test_mute_all_spares_the_hosts(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("ma", "host", room_admin=True) as host,
        meetbox_server.client("ma", "bob") as bob,
        meetbox_server.client("ma", "cat") as cat,
    ):
        mine = await host.publish(ToneAudioTrack())
        bobs = await bob.publish(ToneAudioTrack())
        cats = await cat.publish(ToneAudioTrack())
        await host.wait_for(lambda: bobs in host.published and cats in host.published)
        ack = await host.send("mute-all-participants")
        assert sorted(ack["muted"]) == sorted([bobs, cats])
        room = meetbox_server.room("ma")
        assert room is not None
        assert room.router.uptracks[mine].muted is False  # type: ignore[index]
        assert room.router.uptracks[bobs].muted is True  # type: ignore[index]
        await cat.wait_for(lambda: cat.received("mute-all-participants"))


async def test_mic_requests_grant_and_take_back_publishing(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("web", "host", room_admin=True) as host,
        meetbox_server.client("web", "viewer", can_publish=False) as viewer,
    ):
        with pytest.raises(ClientError):
            await viewer.publish(ToneAudioTrack())
        await viewer.send("request-mic", {"msg": "may I?"})
        request = await host.wait_for(lambda: host.received("request-mic"))
        assert request[0]["id"] == "viewer" and request[0]["msg"] == "may I?"
        await expect_error(host, "request-mic", {}, "invalid_argument")  # hosts already may
        await host.send("request-mic-accepted", {"id": "viewer"})
        await viewer.wait_for(lambda: viewer.received("request-mic-accepted"))
        assert viewer.me is not None and viewer.me["permission"]["can_publish"] is True
        assert viewer.me["permission"]["can_publish_sources"] == ["microphone"]
        audio = await viewer.publish(ToneAudioTrack(), source="microphone")
        await host.wait_for_track(identity="viewer", kind="audio")
        await viewer.send("mic-accepted-ack")
        await host.wait_for(lambda: host.received("mic-accepted-ack"))
        # the host takes the microphone back: muted, unpublished, no longer allowed
        await host.send("mute-mic-request", {"id": "viewer", "mute": True})
        await host.wait_for(lambda: audio not in host.published)
        await viewer.wait_for(lambda: viewer.received("mute-mic-request"))
        assert viewer.me["permission"]["can_publish"] is False
        with pytest.raises(ClientError):
            await viewer.publish(ToneAudioTrack())
        await viewer.send("request-mic")
        await host.send("request-mic-rejected", {"id": "viewer"})
        rejected = await viewer.wait_for(lambda: viewer.received("request-mic-rejected"))
        assert rejected[0]["target"] == "viewer"


async def test_removed_participants_leave_and_cannot_rejoin(meetbox_server: EmbeddedServer) -> None:
    async with (
        meetbox_server.client("rm", "host", room_admin=True) as host,
        meetbox_server.client("rm", "bob") as bob,
    ):
        await host.send("remove-participant", {"id": "bob", "reason": "spam"})
        await bob.wait_for(lambda: not bob.connected)
        assert ("disconnected", {"reason": "removed"}) in bob.events
        assert bob.received("remove-participant")[0]["reason"] == "spam"
        await host.wait_for(lambda: host.received("participant_left"))
        again = meetbox_server.client("rm", "bob")
        with pytest.raises(ClientError) as refused:
            await again.connect()
        assert refused.value.server_code == "permission_denied"
        assert "removed" in refused.value.message
        await again.close()
        await expect_error(host, "remove-participant", {"id": "host"}, "invalid_argument")
