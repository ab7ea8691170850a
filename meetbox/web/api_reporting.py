"""``/reporting/...``: completed sessions counted, grouped by type, domain, day and place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from meetbox.store import iso
from meetbox.web.replies import INTEGER, STRING, TIME, array, envelope, obj, replies
from meetbox.web.routing import Ctx, Handler, Reply, RouteTable, ok
from meetbox.web.schema import Field, Obj

routes = RouteTable("reporting")

TEXT = Field("string", max_length=200)
FILTERS = Obj(
    {
        "domain": TEXT,
        "sessionType": Field("string", enum=("meeting", "conference", "webinar", "live")),
        "countryCode": Field("string", max_length=8),
        "countryName": TEXT,
        "cityName": TEXT,
        "startDateRange": Field("date"),
        "endDateRange": Field("date"),
        "userID": Field("string", format="objectid", description="host user id"),
    }
)


def session_filter(ctx: Ctx) -> dict[str, Any]:
    """Completed sessions matching the query; a user sees only sessions they hosted."""
    q = ctx.query
    user = ctx.caller.require_user()
    host = q.get("userID")
    if host is not None:
        ctx.caller.require_self_or_admin(host)
    elif not user.is_admin:
        host = user.id
    query: dict[str, Any] = {"endedAt": {"$ne": None}}
    if host is not None:
        query["hostId"] = host
    for param, field in (
        ("domain", "domain"),
        ("sessionType", "sessionType"),
        ("countryCode", "location.country"),
        ("countryName", "location.country_name"),
        ("cityName", "location.city"),
    ):
        if param in q:
            query[field] = q[param]
    started: dict[str, str] = {}
    if "startDateRange" in q:
        started["$gte"] = iso(q["startDateRange"])
    if "endDateRange" in q:
        started["$lte"] = iso(q["endDateRange"])
    if started:
        query["startedAt"] = started
    return query


def route(path: str, summary: str, data: dict[str, Any]) -> Callable[[Handler], Handler]:
    return routes.add(
        "GET",
        f"/reporting/{path}",
        summary=summary,
        auth="user",
        query=FILTERS,
        responses=replies({200: Reply("Report", envelope(data))}, 403),
    )


@route("total-sessions-for-user", "Completed sessions", obj({"totalSessions": INTEGER}))
async def total_sessions(ctx: Ctx) -> web.Response:
    total = await ctx.api.store.sessions.count(session_filter(ctx))
    return ok({"totalSessions": total})


@route(
    "total-sessions-aggregation-for-user",
    "Completed sessions per day and domain",
    array(obj({"date": TIME, "domainCounts": array(obj({"domain": STRING, "count": INTEGER}))})),
)
async def sessions_aggregation(ctx: Ctx) -> web.Response:
    groups = await ctx.api.store.sessions.group(session_filter(ctx), ["day", "domain"])
    days: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        day, domain = group.key
        days.setdefault(str(day), []).append({"domain": str(domain), "count": group.count})
    return ok([{"date": day, "domainCounts": counts} for day, counts in sorted(days.items())])


@route(
    "total-sessions-statistics-for-user",
    "Completed sessions, in total and by session type",
    obj(
        {
            "totalSessions": INTEGER,
            "totalSessionsByType": array(obj({"sessionType": STRING, "totalSessions": INTEGER})),
        }
    ),
)
async def sessions_statistics(ctx: Ctx) -> web.Response:
    groups = await ctx.api.store.sessions.group(session_filter(ctx), ["sessionType"])
    by_type = [{"sessionType": str(g.key[0]), "totalSessions": g.count} for g in groups]
    return ok({"totalSessions": sum(g.count for g in groups), "totalSessionsByType": by_type})


PLACE = obj({"city": STRING, "region": STRING, "country": STRING, "country_name": STRING})


@route(
    "total-sessions-by-location-for-user",
    "Completed sessions by city, region and country",
    array(obj({"_id": PLACE, "count": INTEGER})),
)
async def sessions_by_location(ctx: Ctx) -> web.Response:
    keys = ["location.city", "location.region", "location.country", "location.country_name"]
    groups = await ctx.api.store.sessions.group(session_filter(ctx), keys)
    names = ("city", "region", "country", "country_name")
    rows = [
        {
            "_id": {n: str(v or "unknown") for n, v in zip(names, g.key, strict=True)},
            "count": g.count,
        }
        for g in sorted(groups, key=lambda g: -g.count)
    ]
    return ok(rows)


@route(
    "total-sessions-and-participants-count-by-location-for-user",
    "Completed sessions and their participants by city",
    array(obj({"_id": STRING, "totalSessions": INTEGER, "totalParticipants": INTEGER})),
)
async def sessions_and_participants(ctx: Ctx) -> web.Response:
    groups = await ctx.api.store.sessions.group(
        session_filter(ctx), ["location.city"], total="participantCount"
    )
    rows = [
        {
            "_id": str(g.key[0] or "unknown"),
            "totalSessions": g.count,
            "totalParticipants": int(g.total),
        }
        for g in sorted(groups, key=lambda g: -g.count)
    ]
    return ok(rows)
