"""meetbox's speech endpoint: the token from /api/get-speech-token opens it, audio
streamed over the WebSocket comes back as interim and final text; anything else is refused
with a clear close code and reason."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from meetbox.auth.speech import issue_speech_token
from meetbox.speech.espeak import speech
from meetbox.speech.words import word_error_rate
from tests.api.conftest import Rest
from tests.speech.test_captions import meeting_in_room

pytestmark = pytest.mark.timeout(120)

SENTENCE = "please review the budget before the meeting on tuesday"


async def speech_token(rest: Rest, meeting: str, token: str) -> str:
    reply = await rest.call(
        "GET", "/api/get-speech-token", params={"meetingId": meeting}, token=token
    )
    assert reply.status == 200, reply.body
    return str(reply.body["token"])


def ws_url(rest: Rest, **query: str) -> str:
    from urllib.parse import urlencode

    return rest.server.url.replace("http", "ws", 1) + "/api/speech?" + urlencode(query)


async def messages_until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    out = []
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            out.append(json.loads(message.data))
    return out


async def test_streamed_pcm_comes_back_as_interim_and_final_text(rest: Rest) -> None:
    _, meeting, host_token = await meeting_in_room(rest, "Sales call")
    token = await speech_token(rest, meeting, host_token)
    pcm = speech(SENTENCE)
    async with rest.session.ws_connect(ws_url(rest, meetingId=meeting)) as ws:
        # the token in a first message rather than the URL
        await ws.send_str(json.dumps({"type": "start", "token": token, "meetingId": meeting}))
        ready = await ws.receive_json(timeout=10)
        assert ready["type"] == "ready" and ready["format"] == "pcm16"
        chunk = 320 * 5
        for i in range(0, len(pcm), chunk):
            await ws.send_bytes(pcm[i : i + chunk].tobytes())
            await asyncio.sleep(0.1)  # about real time: 100 ms of audio each 100 ms
        await ws.send_str(json.dumps({"type": "end"}))
        got = await messages_until_closed(ws)
        assert ws.close_code == 1000
    finals = [m for m in got if m["type"] == "final"]
    interims = [m for m in got if m["type"] == "interim"]
    assert len(finals) == 1 and interims, got
    assert word_error_rate(SENTENCE, finals[0]["text"]) <= 0.35, finals[0]["text"]
    assert got[-1]["type"] == "end"


async def close_of(rest: Rest, url: str, first: str | bytes | None = None) -> tuple[int, str]:
    async with rest.session.ws_connect(url) as ws:
        if isinstance(first, str):
            await ws.send_str(first)
        elif isinstance(first, bytes):
            await ws.send_bytes(first)
        message = await ws.receive(timeout=10)
        while message.type == aiohttp.WSMsgType.TEXT:
            message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.CLOSE, message
        return int(message.data), str(message.extra)


async def test_tokens_for_another_meeting_expired_or_forged_are_refused(rest: Rest) -> None:
    _, meeting, host_token = await meeting_in_room(rest, "One")
    _, other, _ = await meeting_in_room(rest, "Two")
    token = await speech_token(rest, meeting, host_token)
    server = rest.server.server
    assert server is not None
    key = server.api.auth.speech_key
    expired, _ = issue_speech_token(key, meeting, "someone", ttl=-60)
    forged, _ = issue_speech_token(b"x" * 32, meeting, "someone", ttl=600)
    cases = {
        "another meeting": (ws_url(rest, token=token, meetingId=other), 4403),
        "expired": (ws_url(rest, token=expired, meetingId=meeting), 4401),
        "invalid": (ws_url(rest, token=forged, meetingId=meeting), 4401),
        "meetingId must be": (ws_url(rest, token=token, meetingId="../etc"), 4400),
        "format must be": (ws_url(rest, token=token, meetingId=meeting, format="mp3"), 4400),
        "language must be": (ws_url(rest, token=token, meetingId=meeting, language="x!"), 4400),
    }
    for reason, (url, code) in cases.items():
        got = await close_of(rest, url)
        assert got[0] == code and reason in got[1], (reason, got)
    no_query = ws_url(rest)
    code, why = await close_of(rest, no_query, b"\x00\x01")
    assert code == 4400 and "start message" in why
    code, why = await close_of(rest, no_query, '{"type": "start"}')
    assert code == 4401 and "speech token" in why


async def test_garbage_frames_are_reported_and_a_flood_is_cut(rest: Rest) -> None:
    _, meeting, host_token = await meeting_in_room(rest, "Noise")
    token = await speech_token(rest, meeting, host_token)
    url = ws_url(rest, token=token, meetingId=meeting, format="opus")
    async with rest.session.ws_connect(url) as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "ready"
        for _ in range(5):
            await ws.send_bytes(b"\xff\xfe garbage that is no opus packet")
        warning = await ws.receive_json(timeout=10)
        assert warning["type"] == "warning" and "did not decode" in warning["message"]
        await ws.send_str(json.dumps({"type": "end"}))
        got = await messages_until_closed(ws)
        assert ws.close_code == 1000 and got[-1]["type"] == "end"
    flood = ws_url(rest, token=token, meetingId=meeting)
    async with rest.session.ws_connect(flood) as ws:
        assert (await ws.receive_json(timeout=10))["type"] == "ready"
        for _ in range(100):  # 10 s of audio at once
            await ws.send_bytes(b"\x00\x00" * 1600)
        await messages_until_closed(ws)
        assert ws.close_code == 4429


async def test_one_user_opens_at_most_four_streams_at_once(rest: Rest) -> None:
    _, meeting, host_token = await meeting_in_room(rest, "Many")
    token = await speech_token(rest, meeting, host_token)
    url = ws_url(rest, token=token, meetingId=meeting)
    sockets = []
    try:
        for _ in range(4):
            ws = await rest.session.ws_connect(url)
            assert (await ws.receive_json(timeout=10))["type"] == "ready"
            sockets.append(ws)
        code, why = await close_of(rest, url)
        assert code == 4429 and "at most 4" in why
        await sockets.pop().close()
        async with rest.session.ws_connect(url) as again:  # one closed: one may open
            assert (await again.receive_json(timeout=10))["type"] == "ready"
    finally:
        for ws in sockets:
            await ws.close()


def opus_packets(pcm48: Any) -> list[bytes]:
    """20 ms Opus packets of int16 mono 48 kHz samples (PyAV's libopus)."""
    import fractions

    import av

    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48000
    encoder.layout = "mono"
    encoder.format = "s16"
    encoder.bit_rate = 32000
    encoder.time_base = fractions.Fraction(1, 48000)
    packets = []
    for i in range(0, len(pcm48) - 960, 960):
        frame = av.AudioFrame.from_ndarray(pcm48[i : i + 960].reshape(1, -1), "s16", "mono")
        frame.sample_rate = 48000
        frame.pts = i
        packets += [bytes(p) for p in encoder.encode(frame)]
    return packets


async def test_streamed_opus_packets_come_back_as_text(rest: Rest) -> None:
    _, meeting, host_token = await meeting_in_room(rest, "Opus call")
    token = await speech_token(rest, meeting, host_token)
    url = ws_url(rest, token=token, meetingId=meeting, format="opus", language="en")
    packets = opus_packets(speech(SENTENCE, 48000))
    async with rest.session.ws_connect(url) as ws:
        assert (await ws.receive_json(timeout=10))["format"] == "opus"
        for i, packet in enumerate(packets):
            await ws.send_bytes(packet)
            if i % 5 == 4:
                await asyncio.sleep(0.1)  # real time: five 20 ms packets each 100 ms
        await ws.send_str(json.dumps({"type": "end"}))
        got = await messages_until_closed(ws)
    finals = [m for m in got if m["type"] == "final"]
    assert len(finals) == 1 and word_error_rate(SENTENCE, finals[0]["text"]) <= 0.35, got
