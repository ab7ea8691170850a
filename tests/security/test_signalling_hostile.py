"""Issue 15's Socket.IO findings, each replayed from raw Engine.IO frames."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from meetbox.client import Client, ClientError
from meetbox.server import EmbeddedServer
from tests.helpers import eventually
from tests.security.raw import raw_socket

pytestmark = pytest.mark.timeout(60)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[EmbeddedServer]:
    async with EmbeddedServer(room={"empty_timeout": 0.3}) as running:
        yield running


async def test_a_client_sent_disconnect_is_dropped_and_leaving_stops_room_broadcasts(
    server: EmbeddedServer,
) -> None:
    async with (
        server.client("r", "host", room_admin=True) as host,
        server.client("r", "carol") as carol,
        raw_socket(server.url) as eve,
    ):
        await eve.join(server.token("r", "eve"))
        await host.wait_for(lambda: "eve" in {p["identity"] for p in host.participants.values()})
        await eve.send('42["disconnect"]')
        await eve.send('42["disconnect", "client namespace disconnect"]')
        # the fake disconnect changed nothing: eve is still a participant, still served
        assert (await eve.call("view_count"))["ok"] is True
        room = server.room("r")
        assert room is not None and "eve" in {p.identity for p in room.participants.values()}
        assert not [e for e in host.received("participant_left") if e["identity"] == "eve"]

        # a real leave: announced, and the socket (still open) hears nothing more
        assert (await eve.call("leave"))["ok"] is True
        await host.wait_for(
            lambda: [e for e in host.received("participant_left") if e["identity"] == "eve"]
        )
        await host.send("chat-box", {"msg": "secret plan"})
        await carol.wait_for(lambda: carol.received("chat-box"))
        # an ack sent after the chat went out: anything queued for eve came before it
        refused = await eve.call("view_count")
        assert refused["error"]["code"] == "failed_precondition"
        assert not eve.seen("chat-box")


async def test_a_client_sent_connect_cannot_rebind_its_session_and_leaves_no_ghost(
    server: EmbeddedServer,
) -> None:
    async with server.client("one", "host", room_admin=True) as host:
        async with raw_socket(server.url) as eve:
            await eve.join(server.token("one", "eve"))
            other = server.token("two", "eve-again")
            await eve.send("42" + json.dumps(["connect", {}, {"token": other}]))
            await eve.send("42" + json.dumps(["connect", {"HTTP_HOST": "x"}, {"token": other}]))
            assert (await eve.call("view_count"))["ok"] is True
            assert server.room("two") is None
        # the socket closed: eve is gone from room one, no ghost stays
        await host.wait_for(
            lambda: [e for e in host.received("participant_left") if e["identity"] == "eve"]
        )
        room = server.room("one")
        assert room is not None
        assert {p.identity for p in room.participants.values()} == {"host"}
        assert server.room("two") is None
    await eventually(lambda: server.room("one") is None, timeout=5)


async def test_a_second_connect_on_a_live_session_is_refused(server: EmbeddedServer) -> None:
    async with raw_socket(server.url) as eve:
        await eve.join(server.token("r", "eve"))
        eve.connect_reply = None
        await eve.send("40" + json.dumps({"token": server.token("other", "eve")}))
        kind, _ = await eve.wait(lambda: eve.connect_reply)
        assert kind == "44"  # CONNECT_ERROR
        assert server.room("other") is None
        assert (await eve.call("view_count"))["ok"] is True


async def test_the_chat_limit_is_not_reset_by_reconnecting(server: EmbeddedServer) -> None:
    async with server.client("r", "watcher") as watcher:
        token = server.token("r", "flooder")
        started = time.monotonic()
        accepted = 0
        for _ in range(12):
            async with Client(server.url, token) as flooder:
                for i in range(8):
                    try:
                        await flooder.send("chat-box", {"msg": f"spam {i}"})
                        accepted += 1
                    except ClientError as exc:
                        assert exc.server_code == "resource_exhausted"
        elapsed = time.monotonic() - started
        # one bucket of 8 for the identity, refilled at 2 a second, whatever the sockets
        assert accepted <= 8 + 2 * elapsed + 1, (accepted, elapsed)
        await asyncio.sleep(0)  # the watcher counts what was delivered, not more
        assert len(watcher.received("chat-box")) <= accepted


async def test_events_with_the_wrong_number_of_arguments_get_an_invalid_argument_ack(
    server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with raw_socket(server.url) as eve:
        await eve.join(server.token("r", "eve", room_admin=True))
        for event, args in [
            ("leave", ({}, {}, {})),
            ("chat-box", ({"msg": "a"}, {"msg": "b"})),
            ("request-mic", ({}, 1, 2, 3)),
            ("publish_offer", ({"sdp": "v=0"}, "extra")),
        ]:
            reply = await eve.call(event, *args)
            assert reply["ok"] is False and reply["error"]["code"] == "invalid_argument", event
            assert "one payload argument" in reply["error"]["message"]
        unknown = await eve.call("no-such-event", {})
        assert unknown["error"]["code"] == "invalid_argument"
        assert "unknown event" in unknown["error"]["message"]
        # still in the room, still answered
        assert (await eve.call("view_count"))["ok"] is True
    assert not [r for r in caplog.records if r.exc_info or "never retrieved" in r.getMessage()]


async def test_malformed_packets_are_dropped_with_one_log_line_per_connection(
    server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="meetbox")
    broken = ["4x", "42[", "49", "42{}", "42[]", "42[1]", "4" + "[" * 5000, '45-["a"]']
    async with raw_socket(server.url) as early:
        for frame in broken:  # before the namespace is joined
            await early.send(frame)
        await early.join(server.token("r", "early"))
        for frame in broken:  # and after
            await early.send(frame)
        assert (await early.call("view_count"))["ok"] is True
    lines = [r for r in caplog.records if r.name == "meetbox.signalling.sio"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert not [r for r in caplog.records if r.exc_info]
    assert server.server is not None and server.server.signalling.sio.dropped >= 2 * len(broken) - 2


async def test_control_characters_are_refused_in_names_and_ids(server: EmbeddedServer) -> None:
    async with server.client("r", "host", room_admin=True) as host:
        cases: list[tuple[str, dict[str, Any]]] = [
            ("sendDrawingData", {"drawingType": "pen\x1b[2J", "payload": {}}),
            ("meetingId", {"meetingId": "abc\x00def"}),
            ("chat-box", {"msg": "bell\x07"}),
            ("chat-box", {"msg": "half \ud800 a pair"}),
        ]
        for event, body in cases:
            with pytest.raises(ClientError) as refused:
                await host.send(event, body)
            assert refused.value.server_code == "invalid_argument", event
        room = server.room("r")
        assert room is not None and room.features.meeting_id == ""
        # text fields keep their line breaks
        await host.send("chat-box", {"msg": "two\nlines\tand a tab"})


async def test_an_offer_with_too_many_m_sections_is_refused_before_it_is_applied(
    server: EmbeddedServer,
) -> None:
    from aiortc import RTCPeerConnection

    for count in (33, 100):
        pc = RTCPeerConnection()
        try:
            for _ in range(count):
                pc.addTransceiver("audio", direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            sdp = pc.localDescription.sdp
        finally:
            await pc.close()
        async with server.client("big", f"pub{count}") as pub:
            with pytest.raises(ClientError) as refused:
                await pub._call("publish_offer", {"sdp": sdp, "tracks": {}})
            assert refused.value.server_code == "invalid_argument"
            message = refused.value.message
            assert "m-sections" in message if count == 33 else "at most" in message
            room = server.room("big")
            assert room is not None and not room.router.uptracks
            participant = next(iter(room.participants.values()))
            assert participant.publisher.pc.signalingState == "stable"
            assert participant.publisher.pc.remoteDescription is None


async def test_connects_are_limited_per_address() -> None:
    async with EmbeddedServer(room={"connects_per_second": 1, "connect_burst": 3}) as server:
        codes = []
        for i in range(5):
            client = Client(server.url, server.token("r", f"p{i}"))
            try:
                await client.connect()
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.server_code)
            finally:
                await client.close()
        assert codes[:3] == ["ok", "ok", "ok"]
        assert "resource_exhausted" in codes[3:]
