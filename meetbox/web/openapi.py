"""The OpenAPI 3 document, built from the route declarations the server dispatches on."""

from __future__ import annotations

import re
from typing import Any

from meetbox.web.replies import ERROR
from meetbox.web.routing import Route

AUTH_DOC: dict[str, list[dict[str, list[str]]]] = {
    "none": [],
    "user": [{"userToken": []}],
    "admin": [{"userToken": []}],
    "user_or_room": [{"userToken": []}, {"roomToken": []}],
    "room": [{"roomToken": []}],
    "client": [],
}


def _parameters(route: Route) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names = re.findall(r"{(\w+)}", route.path)
    fields = route.params.fields if route.params else {}
    for name in names:
        spec = fields.get(name)
        schema = spec.openapi() if spec else {"type": "string"}
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    if route.query is not None:
        for name, spec in route.query.fields.items():
            schema = spec.openapi()
            if spec.type == "date":
                schema = {"type": "string", "format": "date-time"}
            out.append({"name": name, "in": "query", "required": spec.required, "schema": schema})
    if route.path == "/session-storage/sessions":
        for header in ("ClientID", "ClientSecret"):
            out.append(
                {"name": header, "in": "header", "required": True, "schema": {"type": "string"}}
            )
    return out


def _responses(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, reply in sorted(route.responses.items()):
        entry: dict[str, Any] = {"description": reply.description}
        if reply.content_type:
            entry["content"] = {reply.content_type: {"schema": dict(reply.schema or {})}}
            for media, schema in reply.alternatives.items():
                entry["content"][media] = {"schema": dict(schema)}
        if status == 429:
            entry["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
            }
        out[str(status)] = entry
    out.setdefault(
        "default",
        {"description": "Error", "content": {"application/json": {"schema": ERROR}}},
    )
    return out


def document(routes: list[Route], version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {
            "operationId": route.handler.__name__,
            "summary": route.summary,
            "tags": [route.tag],
            "security": AUTH_DOC[route.auth],
            "parameters": _parameters(route),
            "responses": _responses(route),
        }
        if route.description:
            op["description"] = route.description
        if route.body is not None:
            required = any(f.required for f in route.body.fields.values())
            op["requestBody"] = {
                "required": required,
                "content": {"application/json": {"schema": route.body.openapi()}},
            }
        if route.multipart is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"multipart/form-data": {"schema": dict(route.multipart)}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "meetbox API",
            "version": version,
            "description": (
                "Meeting control API of meetbox. Responses use the envelope "
                "{success, data, msg}; errors {success: false, data: null, msg}."
            ),
        },
        "components": {
            "securitySchemes": {
                "userToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "roomToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            }
        },
        "paths": paths,
    }
