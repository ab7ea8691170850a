"""The aiohttp application factory: error mapping, health, the room page and its assets."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from meetbox.cluster.status import ROOM_HEADER
from meetbox.errors import MeetboxError, Misdirected
from meetbox.web import (
    api_audit,
    api_auth,
    api_files,
    api_recordings,
    api_reporting,
    api_rooms,
    api_streaming,
    api_summaries,
    api_transcripts,
    badrequests,
    metrics,
    openapi,
    speech_socket,
    translation_socket,
)
from meetbox.web.ratelimit import TooManyRequests
from meetbox.web.routing import mount
from meetbox.web.services import Api

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
ROOM_NAME = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")
STATUS = {
    "invalid_argument": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "already_exists": 409,
    "too_large": 413,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "unavailable": 503,
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "data": None, "msg": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No stack trace reaches a client: errors become the seed's JSON envelope."""
    try:
        return await handler(request)
    except TooManyRequests as exc:
        response = error_response(429, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except Misdirected as exc:
        response = error_response(421, exc.message)
        response.headers[ROOM_HEADER] = exc.room
        return response
    except MeetboxError as exc:
        return error_response(STATUS.get(exc.code, 500), exc.message)
    except web.HTTPException as exc:
        if exc.status < 400 or request.path.startswith("/static/"):
            raise
        return error_response(exc.status, exc.reason)
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal error")


def vendor_file(vendor_dir: Path) -> Path:
    return vendor_dir / "socket.io-client" / "dist" / "socket.io.esm.min.js"


TABLES = [
    api_auth.routes,
    api_rooms.routes,
    api_recordings.routes,
    api_files.routes,
    api_transcripts.routes,
    api_summaries.routes,
    api_reporting.routes,
    api_streaming.routes,
    api_audit.routes,
]
VERSION = "0.1.0"


def create_app(vendor_dir: Path, api: Api | None = None) -> web.Application:
    """The web app; with ``api``, the REST API, its OpenAPI document and docs page too."""
    badrequests.install()
    app = web.Application(middlewares=[error_middleware], client_max_size=1024**2)
    if api is not None:
        routes = mount(app, api, TABLES)
        spec = openapi.document(routes, VERSION)

        async def openapi_json(request: web.Request) -> web.Response:
            return web.json_response(spec)

        async def docs(request: web.Request) -> web.FileResponse:
            return web.FileResponse(STATIC_DIR / "docs.html")

        speech_socket.mount(app, api)
        translation_socket.mount(app)
        metrics.mount(app, api)
        app.router.add_get("/openapi.json", openapi_json)
        app.router.add_get("/docs", docs)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def room_page(request: web.Request) -> web.StreamResponse:
        if not ROOM_NAME.match(request.match_info["room"]):
            return error_response(400, "room name may use letters, digits, '_', '-' and '.'")
        return web.FileResponse(STATIC_DIR / "room.html", headers={"Cache-Control": "no-store"})

    async def socketio_client(request: web.Request) -> web.StreamResponse:
        path = vendor_file(vendor_dir)
        if not path.exists():
            return error_response(
                503, "socket.io-client is not installed: run `make setup` (npm ci) first"
            )
        return web.FileResponse(path, headers={"Content-Type": "text/javascript"})

    async def home(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    app.router.add_get("/", home)
    app.router.add_get("/healthz", health)
    app.router.add_get("/r/{room}", room_page)
    app.router.add_get("/vendor/socket.io.js", socketio_client)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    return app
