"""The audit log: what sensitive actions were taken, by whom, from where (admin only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from meetbox.web.replies import ID, STRING, TIME, array, envelope, obj, replies
from meetbox.web.routing import Ctx, Reply, RouteTable, ok
from meetbox.web.schema import Field, Obj

routes = RouteTable("audit")

AUDIT_ENTRY = obj(
    {"_id": ID, "at": TIME, "action": STRING, "outcome": STRING},
    {
        "userId": {"type": "string", "nullable": True},
        "resource": {"type": "object"},
        "address": STRING,
        "detail": STRING,
    },
)


@routes.add(
    "GET",
    "/audit",
    summary="The audit log, newest first (admin)",
    auth="admin",
    query=Obj(
        {
            "limit": Field("integer", minimum=1, maximum=1000),
            "offset": Field("integer", minimum=0, maximum=10**9),
            "action": Field("string", pattern=r"^[a-z]+\.[a-z]+$"),
            "userId": Field("string", format="objectid"),
        }
    ),
    responses=replies(
        {
            200: Reply(
                "Entries",
                envelope(array(AUDIT_ENTRY)),
            )
        },
        403,
    ),
)
async def audit_log(ctx: Ctx) -> web.Response:
    query: dict[str, Any] = {k: ctx.query[k] for k in ("action", "userId") if k in ctx.query}
    entries = await ctx.api.store.audit.find(
        query, sort=[("at", -1)], limit=ctx.query.get("limit", 100), skip=ctx.query.get("offset", 0)
    )
    return ok(entries, f"{len(entries)} entries", total=await ctx.api.store.audit.count(query))
