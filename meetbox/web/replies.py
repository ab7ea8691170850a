"""Response schemas shared by the REST routes (they feed the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from meetbox.web.routing import Reply

STRING: dict[str, Any] = {"type": "string"}
NUMBER: dict[str, Any] = {"type": "number"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
ID: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
NULLABLE_TIME: dict[str, Any] = {"type": "string", "format": "date-time", "nullable": True}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def envelope(data: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{success: true, data, msg}``."""
    return obj(
        {"success": {"type": "boolean", "enum": [True]}, "data": data or {"nullable": True}},
        {"msg": STRING, "message": STRING},
    )


ERROR = obj(
    {
        "success": {"type": "boolean", "enum": [False]},
        "data": {"nullable": True, "enum": [None]},
        "msg": STRING,
    }
)

ERRORS = {
    400: "Invalid input: the message names the field and the reason",
    401: "Missing, invalid or expired credentials",
    403: "The caller may not do this",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "The upload is larger than the configured limit",
    429: "Rate limit exceeded: see Retry-After",
    503: "The store is unavailable",
}


def error_replies(*codes: int) -> dict[int, Reply]:
    return {code: Reply(ERRORS[code], ERROR) for code in codes}


def replies(success: dict[int, Reply], *errors: int) -> dict[int, Reply]:
    """Success replies plus the errors every route can give and the ones named."""
    return {**success, **error_replies(400, 401, 429, 503, *errors)}


EMPTY = Reply("Done; no content", None, content_type="")
USER = obj({"_id": ID, "email": STRING, "fName": STRING, "lName": STRING}, {"role": STRING})
