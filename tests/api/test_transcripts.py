"""Transcripts encrypted at rest in the seed's format, proven against crypto-js under node."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from meetbox.auth.speech import verify_speech_token
from meetbox.errors import PermissionDenied, Unauthenticated
from meetbox.server import EmbeddedServer
from meetbox.services import cipher
from tests.api.conftest import Account, Rest

SCRIPT = Path(__file__).with_name("cryptojs.js")
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None, reason="node is not installed (scripts/system-deps.sh)"
)


async def node(*args: str) -> str:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE, str(SCRIPT), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def secret_of(server: EmbeddedServer) -> str:
    assert server.server is not None
    return server.server.api.transcript_secret


async def meeting_of(rest: Rest, host: Account, room: str | None = None) -> str:
    made = await rest.call(
        "POST",
        "/meetings/create",
        json={"title": "t", "hostId": host.id, "transcriptEnabled": True},
        token=host.token,
    )
    meeting = str(made.body["data"]["_id"])
    if room:
        update = {"userId": host.id, "roomId": room}
        assert (
            await rest.call("POST", f"/meetings/update/{meeting}", json=update, token=host.token)
        ).status == 204
    return meeting


def test_the_format_round_trips_and_reads_what_it_must() -> None:
    sealed = cipher.encrypt("Hello. ünïcode ✓", "s3cret")
    raw = __import__("base64").b64decode(sealed)
    assert len(raw) == 64 + 16 + 32  # salt, iv, two AES blocks
    assert cipher.decrypt(sealed, "s3cret") == "Hello. ünïcode ✓"
    assert cipher.encrypt("x", "s3cret") != cipher.encrypt("x", "s3cret")  # fresh salt and iv
    for bad in ("plain text", sealed[:-8] + "AAAAAAA=", ""):
        assert not cipher.is_encrypted(bad, "s3cret")
    assert not cipher.is_encrypted(sealed, "other")


@needs_node
async def test_crypto_js_encrypts_and_meetbox_decrypts_and_the_other_way_round() -> None:
    secret = "shared-secret-from-config"
    text = "Hello from the browser — ünïcode ✓"
    from_js = await node("encrypt", secret, text)
    assert cipher.decrypt(from_js, secret) == text
    from_meetbox = cipher.encrypt(text, secret)
    assert await node("decrypt", secret, from_meetbox) == text
    legacy = await node("gcm-encrypt", secret, text)
    assert cipher.decrypt(legacy, secret) == text


@needs_node
async def test_send_and_view_with_plain_and_browser_encrypted_messages(
    rest: Rest, server: EmbeddedServer
) -> None:
    host = await rest.user("host")
    meeting = await meeting_of(rest, host)
    secret = secret_of(server)
    plain = await rest.call(
        "POST",
        "/send-transcript",
        json={"meetingId": meeting, "userName": "Haseeb Stats", "message": "Hello."},
        token=host.token,
    )
    assert plain.status == 201 and plain.body["data"]["isEncrypted"] is True
    from_browser = await node("encrypt", secret, "Encrypted in the browser.")
    sent = await rest.call(
        "POST",
        "/send-transcript",
        json={"meetingId": meeting, "userName": "Ali", "message": from_browser},
        token=host.token,
    )
    assert sent.status == 201
    stored = await rest.store.transcripts.find({"meetingId": meeting}, sort=[("createdAt", 1)])
    assert [d["isEncrypted"] for d in stored] == [True, True]
    assert "Hello." not in stored[0]["message"]
    assert cipher.decrypt(stored[0]["message"], secret) == "Hello."
    assert stored[1]["message"] == from_browser  # stored exactly as it arrived
    assert stored[1]["arrivedEncrypted"] is True
    legacy = await node("gcm-encrypt", secret, "An old message.")
    await rest.store.transcripts.insert(
        {
            "meetingId": meeting,
            "userName": "Old",
            "message": legacy,
            "isEncrypted": True,
            "createdAt": "2099-01-01T00:00:00.000Z",
        }
    )

    view = await rest.call("GET", f"/view-transcript/{meeting}", token=host.token)
    assert view.status == 200
    assert [(m["userName"], m["message"]) for m in view.body["data"]] == [
        ("Haseeb Stats", "Hello."),
        ("Ali", "Encrypted in the browser."),
        ("Old", "An old message."),
    ]
    assert view.body["data"][0]["createdAt"].endswith("Z")

    wrong_key = await node("encrypt", "not-the-server-secret", "x")
    refused = await rest.call(
        "POST",
        "/send-transcript",
        json={"meetingId": meeting, "userName": "A", "message": wrong_key, "isEncrypted": True},
        token=host.token,
    )
    assert refused.status == 400 and "does not decrypt" in refused.body["msg"]


async def test_who_may_send_and_read_a_transcript(rest: Rest, server: EmbeddedServer) -> None:
    host = await rest.user("host")
    other = await rest.user("other")
    meeting = await meeting_of(rest, host, room="68aff60da51d6c83a24245a2")
    body = {"meetingId": meeting, "userName": "x", "message": "hi"}
    assert (await rest.call("POST", "/send-transcript", json=body, token=other.token)).status == 403
    in_room = server.token("68aff60da51d6c83a24245a2", "guest")
    assert (await rest.call("POST", "/send-transcript", json=body, token=in_room)).status == 201
    elsewhere = server.token("elsewhere", "guest")
    assert (await rest.call("POST", "/send-transcript", json=body, token=elsewhere)).status == 403
    assert (await rest.call("GET", f"/view-transcript/{meeting}", token=other.token)).status == 403
    missing = await rest.call("GET", f"/view-transcript/{'0' * 24}", token=host.token)
    assert missing.status == 404
    long = {**body, "message": "x" * 20001}
    assert (await rest.call("POST", "/send-transcript", json=long, token=host.token)).status == 400
    assert await rest.store.transcripts.count({}) == 1


async def test_speech_tokens_are_short_lived_and_scoped_to_one_meeting(
    rest: Rest, server: EmbeddedServer
) -> None:
    host = await rest.user("host")
    other = await rest.user("other")
    meeting = await meeting_of(rest, host)
    second = await meeting_of(rest, host)
    reply = await rest.call(
        "GET", "/api/get-speech-token", params={"meetingId": meeting}, token=host.token
    )
    assert reply.status == 200 and reply.body["region"] == "local"
    token = reply.body["token"]
    assert server.server is not None
    key = server.server.api.auth.speech_key
    claims = verify_speech_token(key, token, meeting)
    assert claims["exp"] - claims["iat"] == 600
    with pytest.raises(PermissionDenied):
        verify_speech_token(key, token, second)
    with pytest.raises(Unauthenticated):
        verify_speech_token(key, host.token, meeting)  # a user token is not a speech token
    denied = await rest.call(
        "GET", "/api/get-speech-token", params={"meetingId": meeting}, token=other.token
    )
    assert denied.status == 403
    assert (await rest.call("GET", "/api/get-speech-token", token=host.token)).status == 400
