"""meetbox's speech endpoint: ``GET /api/speech`` upgraded to a WebSocket.

A client streams audio (binary messages: 16 kHz mono PCM s16le, or one Opus packet each)
and receives JSON: ``ready``, ``interim`` and ``final`` segments, ``error`` / ``recovered``
when the engine fails and comes back, ``warning`` for frames that did not decode, ``end``.
The token from ``GET /api/get-speech-token`` is checked (signature, audience, expiry,
meeting) before any audio is taken; anything else is refused with a clear close reason.
Parameters come in the query (``token``, ``meetingId``, ``format``, ``language``) or, for
clients that keep tokens out of URLs, in a first text message ``{"type": "start", ...}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

import aiohttp
from aiohttp import web

from meetbox import jsonbounds
from meetbox.auth.speech import verify_speech_token
from meetbox.errors import MeetboxError, PermissionDenied
from meetbox.services.captions import stream_options
from meetbox.speech.stream import FORMATS, MAX_FRAME
from meetbox.web.schema import LANGUAGE_CODE
from meetbox.web.services import Api

logger = logging.getLogger(__name__)

PATH = "/api/speech"
API = web.AppKey("meetbox-api", Api)
OPEN = web.AppKey("meetbox-speech-streams", dict[str, int])  # open streams by token subject
MAX_STREAMS_PER_SUBJECT = 4
START_TIMEOUT = 5.0
IDLE_TIMEOUT = 60.0
FASTER_THAN_REAL_TIME = 4.0  # audio may come this much faster than it is spoken, not more
BURST_SECONDS = 4.0
OBJECT_ID = re.compile(r"[0-9a-f]{24}")
LANGUAGE = re.compile(LANGUAGE_CODE)
# close codes: 4400 bad request, 4401 token refused, 4403 another meeting, 4408 timeout,
# 4429 audio too fast, 1009 message too large, 1011 the server failed
CODES = {"unauthenticated": 4401, "permission_denied": 4403}


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parameters(source: dict[str, Any]) -> dict[str, str]:
    """The session's parameters, checked."""
    out: dict[str, str] = {}
    for key in ("token", "meetingId", "format", "language"):
        value = source.get(key, "")
        if not isinstance(value, str) or len(value) > 8192:
            raise Refused(4400, f"{key} must be a string")
        out[key] = value
    if not out["token"]:
        raise Refused(4401, "send the speech token (query 'token' or a start message)")
    if not OBJECT_ID.fullmatch(out["meetingId"]):
        raise Refused(4400, "meetingId must be a 24-character hexadecimal id")
    out["format"] = out["format"] or "pcm16"
    if out["format"] not in FORMATS:
        raise Refused(4400, f"format must be one of {', '.join(FORMATS)}")
    if out["language"] and not LANGUAGE.fullmatch(out["language"]):
        raise Refused(4400, "language must be a language code such as 'en' or 'pt-BR'")
    return out


class AudioBudget:
    """Refuses audio that arrives much faster than real time (a flood, not a speaker)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.started = time.monotonic()
        self.seconds = 0.0

    def add(self, data: bytes) -> None:
        self.seconds += len(data) / 32000 if self.fmt == "pcm16" else 0.02
        elapsed = time.monotonic() - self.started
        if self.seconds > BURST_SECONDS + FASTER_THAN_REAL_TIME * elapsed:
            raise Refused(4429, "audio arrives faster than 4x real time")


async def start_message(ws: web.WebSocketResponse) -> dict[str, Any]:
    """A client's first message, ``{"type": "start", ...}``, within ``START_TIMEOUT``."""
    try:
        message = await ws.receive(timeout=START_TIMEOUT)
    except TimeoutError:
        raise Refused(4408, "no start message within 5 seconds") from None
    if message.type != aiohttp.WSMsgType.TEXT:
        raise Refused(4400, "the first message must be a JSON start message (or use the query)")
    try:
        data = jsonbounds.loads(message.data)
    except ValueError:
        raise Refused(4400, "the start message is not valid JSON") from None
    if not isinstance(data, dict) or data.get("type") != "start":
        raise Refused(4400, 'the start message must be {"type": "start", "token": ...}')
    return data


async def speech_socket(request: web.Request) -> web.StreamResponse:
    api = request.app[API]
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=20.0)
    await ws.prepare(request)
    handle = None
    subject = ""
    try:
        source: dict[str, Any] = dict(request.query)
        if "token" not in source:
            source = await start_message(ws)
        params = parameters(source)
        try:
            claims = verify_speech_token(api.auth.speech_key, params["token"], params["meetingId"])
        except MeetboxError as exc:
            raise Refused(CODES.get(exc.code, 4401), exc.message) from None
        if claims.get("scope") != ["speech"]:
            raise Refused(4403, "this token does not grant speech")
        subject = str(claims["sub"])
        streams = request.app[OPEN]
        if streams.get(subject, 0) >= MAX_STREAMS_PER_SUBJECT:
            raise Refused(4429, f"at most {MAX_STREAMS_PER_SUBJECT} speech streams at once")
        language = params["language"] or api.settings.speech.language
        loop = asyncio.get_running_loop()
        outgoing: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1000)

        def on_result(kind: str, msg: tuple[Any, ...]) -> None:
            if kind in ("interim", "final"):
                _, stream_id, text, start, end, lang, _took = msg
                item = {
                    "type": kind, "text": text, "start": int(start * 1000),
                    "end": int(end * 1000), "language": lang,
                    "segmentId": f"{stream_id}-{int(start * 1000)}",
                }  # fmt: skip
            elif kind == "engine-error":
                item = {"type": "error", "message": str(msg[1]), "retryIn": float(msg[2])}
            elif kind == "engine-ok":
                item = {"type": "recovered"}
            elif kind == "bad-frames":
                item = {"type": "warning", "message": f"{msg[2]} audio frames did not decode"}
            else:  # closed: every final is out
                item = {"type": "end"}
            if not outgoing.full():
                outgoing.put_nowait(item)
            if kind == "closed":
                loop.call_soon(outgoing.put_nowait, None)

        options = stream_options(api.settings, params["format"], language)
        handle = api.speech.open(options, on_result)
        streams[subject] = streams.get(subject, 0) + 1

        async def send_results() -> None:
            while (item := await outgoing.get()) is not None:
                await ws.send_str(json.dumps(item))

        sender = asyncio.create_task(send_results())
        await ws.send_str(
            json.dumps({"type": "ready", "meetingId": params["meetingId"],
                        "format": params["format"], "language": language,
                        "engine": api.speech.config.engine})
        )  # fmt: skip
        budget = AudioBudget(params["format"])
        try:
            while True:
                message = await ws.receive(timeout=IDLE_TIMEOUT)
                if message.type == aiohttp.WSMsgType.BINARY:
                    budget.add(message.data)
                    handle.push(message.data)
                elif message.type == aiohttp.WSMsgType.TEXT:
                    if message.data.strip() in ('{"type": "end"}', '{"type":"end"}'):
                        handle.close()
                        await asyncio.wait_for(sender, timeout=60)
                        await ws.close(code=1000, message=b"end of audio")
                        return ws
                    await ws.send_str(
                        json.dumps({"type": "warning", "message": 'send audio or {"type": "end"}'})
                    )
                elif message.type == aiohttp.WSMsgType.ERROR:
                    raise Refused(1009, "a message was too large or malformed")
                else:  # closed by the client
                    return ws
        finally:
            sender.cancel()
    except TimeoutError:
        await ws.close(code=4408, message=b"no audio for 60 seconds")
    except Refused as exc:
        await ws.close(code=exc.code, message=exc.reason.encode()[:120])
    except PermissionDenied as exc:
        await ws.close(code=4403, message=exc.message.encode()[:120])
    finally:
        if handle is not None:
            handle.close()
            left = request.app[OPEN].get(subject, 1) - 1
            if left > 0:
                request.app[OPEN][subject] = left
            else:
                request.app[OPEN].pop(subject, None)
    return ws


def mount(app: web.Application, api: Api) -> None:
    app[API] = api
    app[OPEN] = {}
    app.router.add_get(PATH, speech_socket)
