"""Sessions are recorded as rooms run; the five reports count them with the seed's filters."""

from __future__ import annotations

from typing import Any

from meetbox.server import EmbeddedServer
from tests.api.conftest import Account, Rest
from tests.helpers import wait_async


async def hold_session(rest: Rest, server: EmbeddedServer, room: str, people: int) -> None:
    done = {"roomId": room, "endedAt": {"$ne": None}}
    before = await rest.store.sessions.count(done)
    clients = [server.client(room, f"p{i}") for i in range(people)]
    for client in clients:
        await client.connect()
    for client in clients:
        await client.close()

    async def ended() -> bool:
        return await rest.store.sessions.count(done) > before

    await wait_async(ended, timeout=10)


async def make_room(rest: Rest, who: Account, kind: str) -> str:
    reply = await rest.call(
        "POST", "/room/create", json={"name": kind, "type": kind}, token=who.token
    )
    return str(reply.body["data"]["id"])


async def report(rest: Rest, who: Account, name: str, **query: str) -> Any:
    reply = await rest.call("GET", f"/reporting/{name}", params=query, token=who.token)
    assert reply.status == 200, reply.body
    assert reply.body["success"] is True
    return reply.body["data"]


async def test_sessions_are_recorded_and_reported(rest: Rest, server: EmbeddedServer) -> None:
    alice = await rest.user("alice")
    bob = await rest.user("bob")
    admin = await rest.user("admin", admin=True)
    live = await make_room(rest, alice, "live")
    webinar = await make_room(rest, alice, "webinar")
    bobs = await make_room(rest, bob, "conference")
    await hold_session(rest, server, live, 3)
    await hold_session(rest, server, live, 2)
    await hold_session(rest, server, webinar, 1)
    await hold_session(rest, server, bobs, 2)

    [session, *_] = await rest.store.sessions.find({"roomId": live}, sort=[("startedAt", 1)])
    assert session["hostId"] == alice.id and session["sessionType"] == "live"
    assert session["participantCount"] == 3 and session["domain"] == "127.0.0.1"
    assert session["location"]["city"] == "unknown"  # no GeoIP database configured
    assert session["endedAt"] >= session["startedAt"]
    joined = await rest.store.session_participants.find({"sessionId": session["_id"]})
    assert sorted(p["identity"] for p in joined) == ["p0", "p1", "p2"]
    assert all(p["leftAt"] for p in joined)

    total = await report(rest, alice, "total-sessions-for-user", userID=alice.id)
    assert total == {"totalSessions": 3}
    assert await report(rest, alice, "total-sessions-for-user") == {"totalSessions": 3}
    assert await report(rest, admin, "total-sessions-for-user") == {"totalSessions": 4}
    only_live = await report(rest, alice, "total-sessions-for-user", sessionType="live")
    assert only_live == {"totalSessions": 2}
    empty_filter = await report(rest, alice, "total-sessions-for-user", sessionType="")
    assert empty_filter == {"totalSessions": 3}
    future = await report(
        rest, alice, "total-sessions-for-user", startDateRange="2099-01-01T00:00:00.000Z"
    )
    assert future == {"totalSessions": 0}
    past = await report(
        rest,
        alice,
        "total-sessions-for-user",
        startDateRange="2020-01-01T00:00:00.000Z",
        endDateRange="2099-12-31T23:59:59.999Z",
    )
    assert past == {"totalSessions": 3}
    assert await report(rest, alice, "total-sessions-for-user", domain="other.com") == {
        "totalSessions": 0
    }

    stats = await report(rest, alice, "total-sessions-statistics-for-user", userID=alice.id)
    assert stats["totalSessions"] == 3
    assert sorted((t["sessionType"], t["totalSessions"]) for t in stats["totalSessionsByType"]) == [
        ("live", 2),
        ("webinar", 1),
    ]
    aggregated = await report(rest, alice, "total-sessions-aggregation-for-user")
    [day] = aggregated
    assert day["date"].endswith("T00:00:00.000Z")
    assert day["domainCounts"] == [{"domain": "127.0.0.1", "count": 3}]
    places = await report(rest, alice, "total-sessions-by-location-for-user")
    assert places == [
        {
            "_id": {
                "city": "unknown",
                "region": "unknown",
                "country": "unknown",
                "country_name": "unknown",
            },
            "count": 3,
        }
    ]
    people = await report(rest, alice, "total-sessions-and-participants-count-by-location-for-user")
    assert people == [{"_id": "unknown", "totalSessions": 3, "totalParticipants": 6}]
    by_city = await report(rest, alice, "total-sessions-for-user", cityName="Lahore")
    assert by_city == {"totalSessions": 0}

    others = await rest.call(
        "GET", "/reporting/total-sessions-for-user", params={"userID": bob.id}, token=alice.token
    )
    assert others.status == 403
    bad = await rest.call(
        "GET",
        "/reporting/total-sessions-for-user",
        params={"startDateRange": "soon"},
        token=alice.token,
    )
    assert bad.status == 400 and "startDateRange" in bad.body["msg"]
    unknown = await rest.call(
        "GET", "/reporting/total-sessions-for-user", params={"$where": "1"}, token=alice.token
    )
    assert unknown.status == 400


async def test_dates_in_queries_are_checked_not_crashed_on(rest: Rest) -> None:
    alice = await rest.user("alice")
    for value in ("²", "12345678901234567890", "2025-13-01", "NaN", "1e400"):
        reply = await rest.call(
            "GET",
            "/reporting/total-sessions-for-user",
            params={"endDateRange": value},
            token=alice.token,
        )
        assert reply.status == 400, value
    epoch_ms = await rest.call(
        "GET",
        "/reporting/total-sessions-for-user",
        params={"endDateRange": "1760000000000"},
        token=alice.token,
    )
    assert epoch_ms.status == 200
