"""The box's public URL: every HTTP request, WebSocket and Socket.IO connection comes here
and goes on to the worker holding its room (placing a new room on the least loaded
worker of the deployment); media never passes here, it flows to the worker's own UDP
ports. Also the deployment's ``/metrics`` (the box's workers, labelled), ``/healthz``,
``/readyz``, and the relay of room events between workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from meetbox import jsonbounds
from meetbox.auth.tokens import TokenVerifier
from meetbox.cluster.metrics import merged_metrics
from meetbox.cluster.placement import Placement
from meetbox.cluster.routes import connect_auth, route_for
from meetbox.cluster.status import (
    EMIT_PATH,
    FORWARDED_HEADER,
    RELAY_PATH,
    ROOM_HEADER,
    ROOMS_PATH,
    SECRET_HEADER,
    WorkerStatus,
    trusted,
)
from meetbox.errors import MeetboxError, Unavailable

logger = logging.getLogger(__name__)

HOP_HEADERS = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
        "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", SECRET_HEADER,
        FORWARDED_HEADER, "Sec-WebSocket-Key", "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
    )
)  # fmt: skip
MAX_BUFFERED_BODY = 256 * 1024  # a body whose room is one of its fields is read first
WS_MAX_MESSAGE = 1024 * 1024


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "data": None, "msg": message}, status=status)


STATUS = {"unavailable": 503, "resource_exhausted": 429, "invalid_argument": 400}


class Gateway:
    """Owned by the supervisor; ``close()`` ends its client session (the site is the
    supervisor's to stop)."""

    def __init__(
        self,
        placement: Placement,
        verifier: TokenVerifier,
        secret: str,
        local: Callable[[], list[WorkerStatus]],
        node: str,
    ) -> None:
        self.node = node
        self.placement = placement
        self.verifier = verifier
        self.secret = secret
        self.local = local  # this box's workers, as last read
        self.draining = False
        self._session: aiohttp.ClientSession | None = None
        self.app = web.Application(client_max_size=MAX_BUFFERED_BODY)
        self.app.router.add_post(RELAY_PATH, self.relay)
        self.app.router.add_get(ROOMS_PATH + "{room}", self.locate)
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/healthz", self.health)
        self.app.router.add_get("/readyz", self.ready)
        self.app.router.add_get("/socket.io/", self.socketio)
        self.app.router.add_route("*", "/{tail:.*}", self.forward)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # no pool limit: every proxied WebSocket holds a connection for its lifetime
            # (aiohttp's default of 100 capped a node at 100 participants)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None, connect=5),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _headers(self, request: web.Request) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        headers[SECRET_HEADER] = self.secret
        headers[FORWARDED_HEADER] = request.remote or ""
        return headers

    def _room_of_token(self, token: Any) -> str | None:
        try:
            return self.verifier.verify(token).video.room or None
        except MeetboxError:
            return None  # the worker refuses it, in its own words

    async def _target(self, room: str | None) -> WorkerStatus:
        if room:
            owner = await self.placement.owner(room)
            if owner is not None:
                return owner
        return await self.placement.any_worker(self.local())

    # -- HTTP -----------------------------------------------------------------------------

    async def forward(self, request: web.Request) -> web.StreamResponse:
        route = route_for(request.method, request.path)
        room: str | None = None
        body: bytes | None = None
        length = request.content_length
        if not request.body_exists or (length is not None and length <= MAX_BUFFERED_BODY):
            # small bodies are read first: a worker may send the request on (a 421)
            body = await request.read() if request.body_exists else b""
        if route is not None:
            room = route.room_in_path(request.method, request.path)
            if route.body_field and body is not None:
                room = _body_field(body, route.body_field)
        elif "token" in request.query:
            room = self._room_of_token(request.query["token"])
        try:
            target = await self._target(room)
        except MeetboxError as exc:
            return _error(STATUS.get(exc.code, 503), exc.message)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, target, first=None)
        for _ in range(2):
            data: Any = body if body is not None else request.content
            try:
                response = await self._proxy(request, target, data, replayable=body is not None)
            except (aiohttp.ClientError, OSError) as exc:
                logger.warning("worker %s did not answer %s %s: %s", target.id, request.method,
                               request.path, exc)  # fmt: skip
                return _error(502, "the worker for this request did not answer")
            if isinstance(response, str):  # misdirected: the room is on another worker
                owner = await self.placement.owner(response)
                if owner is None or owner.id == target.id:
                    return _error(503, "the room moved while the request was on its way")
                target = owner
                continue
            return response
        return _error(503, "the room moved while the request was on its way")

    async def _proxy(
        self, request: web.Request, target: WorkerStatus, data: Any, replayable: bool
    ) -> web.StreamResponse | str:
        """The worker's answer streamed back; or, when the worker says another worker
        holds the room (421) and the body can be sent again, that room's name."""
        url = target.url + str(request.rel_url)
        async with self.session.request(
            request.method, url, headers=self._headers(request), data=data,
            allow_redirects=False,
        ) as upstream:  # fmt: skip
            moved = upstream.headers.get(ROOM_HEADER)
            if upstream.status == 421 and moved and replayable:
                return moved
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_HEADERS or key.lower() == "content-length":
                    response.headers.add(key, value)
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response

    # -- Socket.IO and WebSockets -----------------------------------------------------------

    async def socketio(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("transport") != "websocket":
            return _error(400, "connect Socket.IO with the websocket transport")
        try:
            first = await self.placement.any_worker(self.local())
        except MeetboxError as exc:
            return _error(503, exc.message)
        return await self._websocket(request, first, first=self._pick_by_connect)

    async def _pick_by_connect(self, message: str) -> WorkerStatus | None:
        """The worker for a Socket.IO connection, from its CONNECT packet's auth."""
        parts = connect_auth(message)
        if parts is None:
            return None
        try:
            auth = jsonbounds.loads(parts[1]) if parts[1] else {}
        except ValueError:
            return None
        if not isinstance(auth, dict):
            return None
        room = auth.get("room") if isinstance(auth.get("room"), str) else None
        room = room or self._room_of_token(auth.get("token"))
        if not room:
            return None  # the worker refuses it with its own reason
        if self.draining and await self.placement.owner(room) is None:
            raise Unavailable("this node is draining: it starts no new rooms")
        return await self.placement.place(room)

    async def _websocket(
        self,
        request: web.Request,
        target: WorkerStatus,
        first: Callable[[str], Any] | None,
    ) -> web.StreamResponse:
        url = target.url + str(request.rel_url)
        headers = self._headers(request)
        try:
            upstream = await self.session.ws_connect(
                url, headers=headers, max_msg_size=WS_MAX_MESSAGE
            )
        except (aiohttp.ClientError, OSError):
            return _error(502, "the worker did not answer")
        client = web.WebSocketResponse(max_msg_size=WS_MAX_MESSAGE)
        await client.prepare(request)
        try:
            if first is not None:
                try:
                    placed = await self._place_socketio(client, upstream, url, headers, first)
                except (TimeoutError, aiohttp.ClientError, ConnectionError):
                    # the client (or the worker) said nothing in time, or went away
                    placed = None
                if placed is None:
                    return client
                upstream = placed
            await _pump(client, upstream)
        finally:
            await upstream.close()
            await client.close()
        return client

    async def _place_socketio(
        self,
        client: web.WebSocketResponse,
        upstream: aiohttp.ClientWebSocketResponse,
        url: str,
        headers: dict[str, str],
        pick: Callable[[str], Any],
    ) -> aiohttp.ClientWebSocketResponse | None:
        """Engine.IO's open packet goes to the client; the client's Socket.IO connect
        says its room; if another worker holds (or gets) it, the connection moves there
        before the connect is passed on."""
        opened = await upstream.receive(timeout=10)
        if opened.type != WSMsgType.TEXT:
            return None
        await client.send_str(opened.data)
        message = await client.receive(timeout=30)
        if message.type != WSMsgType.TEXT:
            return None
        try:
            target = await pick(message.data)
        except MeetboxError as exc:
            refusal = {"message": exc.message, "data": exc.to_dict()}
            await client.send_str("44" + json.dumps(refusal))
            return None
        if target is not None and not url.startswith(target.url + "/"):
            await upstream.close()
            path = url.split("/", 3)[3]
            try:
                upstream = await self.session.ws_connect(
                    f"{target.url}/{path}", headers=headers, max_msg_size=WS_MAX_MESSAGE
                )
            except (aiohttp.ClientError, OSError) as exc:
                # its worker died a moment ago: the client tries again, and the room is
                # placed anew once the worker's heartbeat is stale
                logger.warning("room's worker %s did not answer: %s", target.id, exc)
                down = Unavailable("the room's worker does not answer: try again")
                await client.send_str("44" + json.dumps({"message": down.message,
                                                         "data": down.to_dict()}))  # fmt: skip
                return None
            await upstream.receive(timeout=10)  # its own open packet: the client has one
        await upstream.send_str(message.data)
        return upstream

    # -- the deployment's own ---------------------------------------------------------------

    async def relay(self, request: web.Request) -> web.Response:
        """A worker's event for a room another worker holds."""
        if not trusted(request.headers, self.secret):
            return _error(403, "this is for the deployment's own workers")
        body = await request.read()
        try:
            room = jsonbounds.loads(body)["room"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "send {room, event, data}")
        owner = await self.placement.owner(str(room))
        if owner is None:
            return _error(404, "that room is not live")
        try:
            async with self.session.post(
                owner.url + EMIT_PATH, data=body, headers={SECRET_HEADER: self.secret,
                                                          "Content-Type": "application/json"}
            ) as reply:  # fmt: skip
                return web.Response(status=reply.status, body=await reply.read(),
                                    content_type="application/json")  # fmt: skip
        except (aiohttp.ClientError, OSError) as exc:
            logger.warning("room %s's worker %s did not take an event: %s", room, owner.id, exc)
            return _error(502, "the room's worker did not answer")

    async def locate(self, request: web.Request) -> web.Response:
        """Which worker holds a live room (a worker asks before it acts on one)."""
        if not trusted(request.headers, self.secret):
            return _error(403, "this is for the deployment's own workers")
        owner = await self.placement.owner(request.match_info["room"])
        if owner is None:
            return _error(404, "that room is not live")
        return web.json_response({"worker": owner.id, "url": owner.url})

    async def metrics(self, request: web.Request) -> web.Response:
        text, content_type = await merged_metrics(
            self.session, self.local(), self.secret, self.node
        )
        return web.Response(body=text, headers={"Content-Type": content_type})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "workers": len(self.local())})

    async def ready(self, request: web.Request) -> web.Response:
        if self.draining:
            return web.json_response({"ready": False, "reason": "draining"}, status=503)
        if not any(s.takes_rooms() for s in self.local()):
            return web.json_response({"ready": False, "reason": "no worker takes rooms"},
                                     status=503)  # fmt: skip
        return web.json_response({"ready": True, "workers": len(self.local())})


def _body_field(body: bytes, name: str) -> str | None:
    try:
        data = jsonbounds.loads(body)
    except ValueError:
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


async def _pump(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Both directions until either side closes."""

    async def copy(
        source: AsyncIterator[aiohttp.WSMessage],
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        async for message in source:
            if message.type == WSMsgType.TEXT:
                await sink.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            else:
                break

    tasks = [asyncio.ensure_future(copy(upstream, client)),
             asyncio.ensure_future(copy(client, upstream))]  # fmt: skip
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, ConnectionError):
                await task
