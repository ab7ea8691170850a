"""Bad payloads get a clear error ack and disturb nothing."""

from __future__ import annotations

from typing import Any

import pytest

from meetbox.server import EmbeddedServer
from meetbox.tracks import CounterVideoTrack

CASES: list[tuple[str, Any, str, str]] = [
    ("publish_offer", "not an object", "invalid_argument", "payload must be an object"),
    ("publish_offer", {"sdp": 5}, "invalid_argument", "sdp must be a string"),
    ("publish_offer", {"sdp": "hello"}, "invalid_argument", "sdp must start with 'v=0'"),
    ("publish_offer", {"sdp": "v=0\r\nm=video x\r\n"}, "invalid_argument", "sdp does not parse"),
    ("publish_offer", {"sdp": "v=0", "evil": 1}, "invalid_argument", "unknown field(s): evil"),
    ("publish_offer", {"sdp": "v=0", "tracks": []}, "invalid_argument", "tracks must be an object"),
    ("publish_offer", {"sdp": "v=0\r\n"}, "invalid_argument", "no audio or video m-section"),
    ("subscriber_answer", {"sdp": "v=0\r\n"}, "failed_precondition", "no subscriber offer"),
    ("subscribe", {}, "invalid_argument", "track_sid is required"),
    ("subscribe", {"track_sid": "TR_nope"}, "not_found", "no track 'TR_nope'"),
    ("unsubscribe", {"track_sid": ["x"]}, "invalid_argument", "track_sid must be a string"),
    (
        "mute_track",
        {"track_sid": "TR_x", "muted": "yes"},
        "invalid_argument",
        "muted must be true or false",
    ),
    ("mute_track", {"track_sid": "TR_x", "muted": True}, "not_found", "no published track"),
    ("unpublish", {"track_sid": "x" * 1000}, "invalid_argument", "at most 64 characters"),
]


@pytest.mark.parametrize(("event", "payload", "code", "message"), CASES)
async def test_malformed_payload_gets_error_ack(
    meetbox_server: EmbeddedServer, event: str, payload: Any, code: str, message: str
) -> None:
    async with meetbox_server.client("bad", "alice") as alice:
        reply = await alice.sio.call(event, payload, timeout=10)
        assert reply["ok"] is False
        assert reply["error"]["code"] == code
        assert message in reply["error"]["message"]
        # the connection still works and nothing changed in the room
        room = meetbox_server.room("bad")
        assert room is not None and not room.router.uptracks
        await alice.publish(CounterVideoTrack())
        assert len(room.router.uptracks) == 1


@pytest.mark.parametrize(
    ("codec", "message"),
    [
        ("MP4V-ES", "m-section 0 offers no codec meetbox can forward (video/MP4V-ES)"),
        # forwarded, but aiortc's negotiation needs a codec it knows in the section too
        ("AV1", "m-section 0 offers only video/av1: offer VP8 or H264 beside it"),
    ],
)
async def test_offer_with_unsupported_codec_is_refused(
    meetbox_server: EmbeddedServer, codec: str, message: str
) -> None:
    sdp = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n"
        f"a=rtcp-mux\r\na=rtpmap:45 {codec}/90000\r\n"
        "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
    )
    async with meetbox_server.client("codec", "alice") as alice:
        reply = await alice.sio.call("publish_offer", {"sdp": sdp}, timeout=10)
        assert reply == {"ok": False, "error": {"code": "invalid_argument", "message": message}}


async def test_unknown_event_does_not_break_the_connection(meetbox_server: EmbeddedServer) -> None:
    async with meetbox_server.client("unk", "alice") as alice:
        await alice.sio.emit("no-such-event", {"x": 1})
        await alice.publish(CounterVideoTrack())


def test_the_protocol_documents_every_event_of_the_table() -> None:
    from meetbox.signalling import protocol

    text = protocol.DOCUMENT.read_text()
    assert protocol.rendered(text) == text, (
        "docs/PROTOCOL.md's event table differs: run python -m meetbox.signalling.protocol"
    )
    assert len(protocol.specs()) == 40
