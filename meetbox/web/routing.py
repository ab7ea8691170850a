"""REST routes declared once: the declaration drives validation, auth, rate limits and OpenAPI.

Each handler module owns a ``RouteTable``; a route names its auth rule, its rate-limit
group, the schemas of its path parameters, query and body, and its responses. The
dispatcher checks all of that before the handler runs, so a handler sees only clean
input from a caller who may call it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from meetbox import jsonbounds
from meetbox.auth.users import Caller
from meetbox.errors import InvalidArgument, Unauthenticated
from meetbox.web.schema import Obj, from_query, validate

if TYPE_CHECKING:
    from meetbox.web.services import Api

AUTH_RULES = ("none", "user", "admin", "user_or_room", "room", "client")
MAX_JSON_BODY = 256 * 1024


@dataclass(frozen=True)
class Reply:
    description: str
    schema: Mapping[str, Any] | None = None
    content_type: str = "application/json"
    # other media types the same status may carry (a download beside its JSON details)
    alternatives: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class Ctx:
    request: web.Request
    api: Api
    caller: Caller
    params: dict[str, Any]
    query: dict[str, Any]
    body: dict[str, Any]

    async def audit(
        self, action: str, resource: dict[str, Any], outcome: str = "success", user_id: str = ""
    ) -> None:
        """One audit entry for this request: the caller's user unless ``user_id`` is given."""
        who = user_id or (self.caller.user.id if self.caller.user else None)
        await self.api.audit.record(
            action, user_id=who, resource=resource, outcome=outcome, address=self.caller.address
        )


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    auth: str
    rate: str
    params: Obj | None = None
    query: Obj | None = None
    body: Obj | None = None
    multipart: Mapping[str, Any] | None = None  # OpenAPI schema of a multipart body
    responses: Mapping[int, Reply] = field(default_factory=dict)
    description: str = ""


class RouteTable:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        auth: str,
        rate: str = "default",
        responses: Mapping[int, Reply],
        params: Obj | None = None,
        query: Obj | None = None,
        body: Obj | None = None,
        multipart: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> Callable[[Handler], Handler]:
        if auth not in AUTH_RULES:
            raise ValueError(f"unknown auth rule {auth!r}")
        for name in re.findall(r"\{(\w+)\}", path):
            spec = params.fields.get(name) if params is not None else None
            if spec is None or not (spec.pattern or spec.format or spec.enum):
                # a path parameter is checked as what it is before any handler sees it
                raise ValueError(f"{method} {path}: path parameter {name!r} has no pattern")

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method,
                    path,
                    handler,
                    summary,
                    self.tag,
                    auth,
                    rate,
                    params,
                    query,
                    body,
                    multipart,
                    responses,
                    description,
                )
            )
            return handler

        return register


def ok(data: Any = None, msg: str = "", status: int = 200, **extra: Any) -> web.Response:
    """The seed's envelope: ``{"success": true, "data": ..., "msg": ...}``."""
    return web.json_response({"success": True, "data": data, "msg": msg, **extra}, status=status)


async def read_json(request: web.Request) -> Any:
    if not request.body_exists:
        return {}
    if request.content_type != "application/json":
        raise InvalidArgument("send the body as JSON (Content-Type: application/json)")
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        raise InvalidArgument(f"the JSON body may be at most {MAX_JSON_BODY} bytes")
    raw = await request.content.read(MAX_JSON_BODY + 1)
    if len(raw) > MAX_JSON_BODY:
        raise InvalidArgument(f"the JSON body may be at most {MAX_JSON_BODY} bytes")
    try:
        return jsonbounds.loads(raw)
    except jsonbounds.Refused as exc:
        raise InvalidArgument(f"the JSON body is not accepted: {exc}") from None
    except ValueError as exc:
        raise InvalidArgument(f"the body is not valid JSON: {str(exc)[:200]}") from None


RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def dispatcher(route: Route, api: Api) -> RequestHandler:
    async def handle(request: web.Request) -> web.StreamResponse:
        caller = api.auth.caller(request.headers.get("Authorization"), request.remote or "")
        await api.limiter.check(api.limit(route.rate), caller.key)
        if route.auth == "user":
            caller.require_user()
        elif route.auth == "admin":
            caller.require_admin()
        elif route.auth == "user_or_room" and caller.user is None and caller.room is None:
            caller.require_user()
        elif route.auth == "room" and caller.room is None:
            raise Unauthenticated(
                "send the room's access token: Authorization: Bearer <room token>"
            )
        params = validate(route.params or Obj({}), dict(request.match_info), "path")
        query = from_query(route.query or Obj({}), request.query)
        body: dict[str, Any] = {}
        if route.body is not None:
            body = validate(route.body, await read_json(request), "body")
        return await route.handler(Ctx(request, api, caller, params, query, body))

    handle.__name__ = route.handler.__name__
    return handle


def mount(app: web.Application, api: Api, tables: list[RouteTable]) -> list[Route]:
    routes = [route for table in tables for route in table.routes]
    for route in routes:
        app.router.add_route(route.method, route.path, dispatcher(route, api))
    return routes
