"""A translation session's control socket (seed 002's ``control_url``):
``GET /speech-to-speech/stream`` upgraded to a WebSocket, JSON messages both ways.

The token is one of the session's (``POST /session-storage/sessions``): its room is the
session, its ``translation`` claim the permissions: publishers ``RWE``, subscribers
``RE``. Read: ``status``. Edit (one's own): ``choose`` a target language. Write (the
pipeline): ``set_source_language``, ``add_target``, ``remove_target``, ``pause``,
``resume``, ``end``. Each request is answered ``{"type": "ack", "request": ...}`` or
``{"type": "error", "request", "code", "message"}``; the session's ``status``,
``transcript``, ``translation``, ``error`` and ``ended`` messages follow as they happen.
docs/PROTOCOL.md has every message and field.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from meetbox import jsonbounds
from meetbox.errors import InvalidArgument, MeetboxError, PermissionDenied, ResourceExhausted
from meetbox.services.translation import AUTO, Session, TranslationSessions
from meetbox.web.schema import LANGUAGE_CODE
from meetbox.web.services import Api
from meetbox.web.speech_socket import API, Refused, start_message

logger = logging.getLogger(__name__)

PATH = "/speech-to-speech/stream"
LANGUAGE = re.compile(LANGUAGE_CODE)
VOICE_NAME = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
START_TIMEOUT = 5.0
MAX_MESSAGE = 4096
RATE, BURST = 10.0, 20  # requests per second per socket, after a burst
PERMISSIONS = {"publisher": "RWE", "subscriber": "RE"}
Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Control:
    """One control socket: its session, its holder, what it may do, its request budget."""

    def __init__(self, sessions: TranslationSessions, session: Session, identity: str,
                 permissions: str) -> None:  # fmt: skip
        self.sessions = sessions
        self.session = session
        self.identity = identity
        self.permissions = permissions
        self.tokens = float(BURST)
        self.last = time.monotonic()
        self.table: dict[str, tuple[str, Handler]] = {
            "status": ("R", self.status),
            "choose": ("E", self.choose),
            "set_source_language": ("W", self.set_source),
            "add_target": ("W", self.add_target),
            "remove_target": ("W", self.remove_target),
            "pause": ("W", self.pause),
            "resume": ("W", self.resume),
            "end": ("W", self.end),
        }

    def spend(self) -> None:
        now = time.monotonic()
        self.tokens = min(BURST, self.tokens + (now - self.last) * RATE)
        self.last = now
        if self.tokens < 1:
            raise ResourceExhausted(f"at most {RATE:.0f} control messages a second")
        self.tokens -= 1

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        kind = request.get("type")
        entry = self.table.get(kind) if isinstance(kind, str) else None
        if entry is None:
            raise InvalidArgument(f"type must be one of {', '.join(self.table)}")
        needed, handler = entry
        if needed not in self.permissions:
            names = {"R": "read", "W": "write", "E": "edit"}
            raise PermissionDenied(
                f"{kind} needs the {names[needed]} permission; this token has "
                f"{self.permissions or 'none'}"
            )
        await handler(request)
        return {"type": "ack", "request": kind}

    @staticmethod
    def language(request: dict[str, Any]) -> str:
        value = request.get("language")
        if not isinstance(value, str) or not LANGUAGE.fullmatch(value):
            raise InvalidArgument("language must be a language code such as 'fr' or 'pt-BR'")
        return value

    def announce(self) -> None:
        self.session.tell(self.sessions.status(self.session))

    async def status(self, request: dict[str, Any]) -> None:
        self.announce()

    async def choose(self, request: dict[str, Any]) -> None:
        language = self.language(request)
        voice = request.get("voice", "")
        if not isinstance(voice, str) or (voice and not VOICE_NAME.fullmatch(voice)):
            raise InvalidArgument("voice must be a voice name such as 'fr-be' (or absent)")
        if voice:
            self.sessions.check_voice(voice)
        self.session.choices[self.identity] = language
        self.session.voices[self.identity] = voice
        self.announce()

    async def set_source(self, request: dict[str, Any]) -> None:
        auto = request.get("language") == AUTO
        self.sessions.set_source(self.session, AUTO if auto else self.language(request))
        self.announce()

    async def add_target(self, request: dict[str, Any]) -> None:
        self.sessions.add_target(self.session, self.language(request))
        self.announce()

    async def remove_target(self, request: dict[str, Any]) -> None:
        self.session.targets.discard(self.language(request))
        self.announce()

    async def pause(self, request: dict[str, Any]) -> None:
        self.session.paused = True
        self.announce()

    async def resume(self, request: dict[str, Any]) -> None:
        self.session.paused = False
        self.announce()

    async def end(self, request: dict[str, Any]) -> None:
        await self.sessions.end(self.session)


async def _parameters(request: web.Request, ws: web.WebSocketResponse) -> str:
    token = request.query.get("token", "")
    if token:
        return token
    value = (await start_message(ws)).get("token")
    if not isinstance(value, str) or not value:
        raise Refused(4401, "send the session token (query 'token' or a start message)")
    return value


async def control_socket(request: web.Request) -> web.StreamResponse:
    api: Api = request.app[API]
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=20.0)
    await ws.prepare(request)
    sessions = api.translations
    session: Session | None = None
    outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=500)

    def sink(message: dict[str, Any]) -> None:
        if not outgoing.full():
            outgoing.put_nowait(message)

    async def send_out() -> None:
        while True:
            message = await outgoing.get()
            await ws.send_str(json.dumps(message))
            if message.get("type") == "ended":
                await ws.close(code=1000, message=b"the session ended")
                return

    sender: asyncio.Task[None] | None = None
    try:
        token = await _parameters(request, ws)
        try:
            claims = api.signalling.verifier.verify(token)
        except MeetboxError as exc:
            raise Refused(4401, exc.message) from None
        permissions = claims.raw.get("translation")
        if not isinstance(permissions, str) or not set(permissions) <= set("RWE"):
            raise Refused(4403, "this token carries no translation-session permissions")
        try:
            session = sessions.get(claims.video.room)
        except MeetboxError as exc:
            raise Refused(4404, exc.message) from None
        control = Control(sessions, session, claims.identity, permissions)
        session.sinks.add(sink)
        sender = asyncio.create_task(send_out())
        sink({**sessions.status(session), "permissions": permissions})
        async for message in ws:
            kind: str | None = None
            try:
                control.spend()
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise InvalidArgument("send JSON text messages")
                try:
                    parsed = jsonbounds.loads(message.data)
                except ValueError:
                    raise InvalidArgument("the message is not valid JSON") from None
                if not isinstance(parsed, dict):
                    raise InvalidArgument("a message is a JSON object with a type")
                kind = parsed.get("type") if isinstance(parsed.get("type"), str) else None
                sink(await control.handle(parsed))
            except MeetboxError as exc:
                sink({"type": "error", "request": kind, "code": exc.code,
                      "message": exc.message})  # fmt: skip
            if session.ended:
                break
        if sender is not None and session.ended:
            await asyncio.wait_for(sender, timeout=5)
    except Refused as exc:
        await ws.close(code=exc.code, message=exc.reason.encode()[:120])
    finally:
        if session is not None:
            session.sinks.discard(sink)
        if sender is not None and not sender.done():
            sender.cancel()
    return ws


def mount(app: web.Application) -> None:
    """After ``speech_socket.mount`` (which keeps the API on the app)."""
    app.router.add_get(PATH, control_socket)


def permissions_of(role: str) -> dict[str, str]:
    return {"translation": PERMISSIONS[role]}
