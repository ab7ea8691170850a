"""A worker's side of the cluster: what its gateway reads (``/_cluster/status``), the room
events other workers hand it (``/_cluster/emit``), and the client address a gateway
forwards. Only a request carrying the deployment's cluster secret gets any of it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from meetbox import jsonbounds
from meetbox.cluster.status import (
    EMIT_PATH,
    FORWARDED_HEADER,
    STATUS_PATH,
    WorkerStatus,
    trusted,
)
from meetbox.signalling.sioserver import SignallingServer

Handler = Callable[[web.Request], Any]


@dataclass
class WorkerIdentity:
    id: str
    node: str
    url: Callable[[], str]  # known once the site listens


class CpuMeter:
    """The process's CPU time over wall time (a share of one core), over windows of at
    least a second, smoothed: a burst (a worker starting, one join) does not make a
    worker look full."""

    WINDOW = 1.0
    SMOOTHING = 0.5  # the weight of the newest window

    def __init__(self) -> None:
        self._cpu = self._now_cpu()
        self._wall = time.monotonic()
        self.share = 0.0

    @staticmethod
    def _now_cpu() -> float:
        times = os.times()
        return times.user + times.system

    def read(self) -> float:
        cpu, wall = self._now_cpu(), time.monotonic()
        if wall - self._wall >= self.WINDOW:
            newest = (cpu - self._cpu) / (wall - self._wall)
            self.share += self.SMOOTHING * (newest - self.share)
            self._cpu, self._wall = cpu, wall
        return round(self.share, 3)


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "data": None, "msg": message}, status=status)


def status_of(signalling: SignallingServer, me: WorkerIdentity, cpu: float) -> WorkerStatus:
    rooms = list(signalling.rooms)
    limits = signalling.settings.cluster
    return WorkerStatus(
        id=me.id,
        node=me.node,
        url=me.url(),
        pid=os.getpid(),
        rooms=[room.name for room in rooms],
        participants=sum(len(room.participants) for room in rooms),
        down_tracks=signalling.down_tracks(),
        cpu=cpu,
        max_rooms=limits.max_rooms,
        max_down_tracks=limits.max_down_tracks,
        draining=signalling.draining or signalling.closed,
    )


def mount(
    app: web.Application, signalling: SignallingServer, secret: str, me: WorkerIdentity
) -> None:
    meter = CpuMeter()

    @web.middleware
    async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The gateway's requests carry the client's address; nobody else's are believed."""
        address = request.headers.get(FORWARDED_HEADER)
        if address and trusted(request.headers, secret):
            request = request.clone(remote=address[:64])
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.insert(0, forwarded)

    async def status(request: web.Request) -> web.Response:
        if not trusted(request.headers, secret):
            return error_response(403, "this is for the deployment's own gateways")
        return web.Response(text=status_of(signalling, me, meter.read()).to_json(),
                            content_type="application/json")  # fmt: skip

    async def emit(request: web.Request) -> web.Response:
        """Another worker's event for a room held here (a summary's progress, ...)."""
        if not trusted(request.headers, secret):
            return error_response(403, "this is for the deployment's own workers")
        try:
            body = jsonbounds.loads(await request.content.read(256 * 1024))
            room, event, data = body["room"], body["event"], body["data"]
        except (ValueError, KeyError, TypeError, jsonbounds.Refused):
            return error_response(400, "send {room, event, data}")
        if not (isinstance(room, str) and isinstance(event, str) and isinstance(data, dict)):
            return error_response(400, "room and event are strings, data an object")
        if signalling.rooms.get(room) is None:
            return error_response(404, f"room {room!r} is not live on this worker")
        await signalling.to_room(room, event, data)
        return web.json_response({"success": True})

    app.router.add_get(STATUS_PATH, status)
    app.router.add_post(EMIT_PATH, emit)
