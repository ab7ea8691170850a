"""One contract for every store: SQLite always, MongoDB where MEETBOX_TEST_MONGODB_URI is set.

Run the MongoDB half with a server you can reach, for example:
    MEETBOX_TEST_MONGODB_URI=mongodb://127.0.0.1:27017 make pytest
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meetbox.errors import AlreadyExists, InvalidArgument, Unavailable
from meetbox.store import Store, is_id
from meetbox.store.mongo import MongoStore
from meetbox.store.sqlite import MIGRATIONS, SqliteStore
from tests.helpers import unreachable_mongodb_uri

MONGODB_URI = os.environ.get("MEETBOX_TEST_MONGODB_URI", "")


@pytest.fixture(params=["sqlite", "mongodb"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made: Store
    if request.param == "sqlite":
        made = SqliteStore(tmp_path / "meetbox.db", timeout=5.0)
    else:
        if not MONGODB_URI:
            pytest.skip(
                "MongoDB contract not run: no server reachable here; "
                "set MEETBOX_TEST_MONGODB_URI=mongodb://host:27017 to run it"
            )
        made = MongoStore(MONGODB_URI, f"meetbox_test_{secrets.token_hex(4)}", timeout=5.0)
    await made.open()
    yield made
    if isinstance(made, MongoStore):
        await made.client.drop_database(made.database.name)
    await made.close()


async def test_insert_assigns_object_ids_and_get_returns_the_document(store: Store) -> None:
    doc = await store.users.insert({"email": "a@example.com", "nested": {"x": 1}})
    assert is_id(doc["_id"])
    assert await store.users.get(doc["_id"]) == doc
    assert await store.users.get("0" * 24) is None


async def test_unique_index_refuses_a_duplicate(store: Store) -> None:
    await store.users.insert({"email": "a@example.com"})
    with pytest.raises(AlreadyExists, match="email"):
        await store.users.insert({"email": "a@example.com"})
    assert await store.users.count({}) == 1


async def test_filters_sort_limit_skip(store: Store) -> None:
    for i in range(6):
        await store.sessions.insert(
            {
                "n": i,
                "kind": "live" if i % 2 else "webinar",
                "at": f"2025-10-0{i + 1}T00:00:00.000Z",
            }
        )
    assert [d["n"] for d in await store.sessions.find({"kind": "live"}, sort=[("n", -1)])] == [
        5,
        3,
        1,
    ]
    ranged = await store.sessions.find(
        {"at": {"$gte": "2025-10-02T00:00:00.000Z", "$lt": "2025-10-05T00:00:00.000Z"}},
        sort=[("at", 1)],
    )
    assert [d["n"] for d in ranged] == [1, 2, 3]
    assert [d["n"] for d in await store.sessions.find({}, sort=[("n", 1)], limit=2, skip=3)] == [
        3,
        4,
    ]
    assert await store.sessions.count({"n": {"$in": [0, 4, 9]}}) == 2
    assert await store.sessions.count({"n": {"$ne": 0}}) == 5
    assert await store.sessions.count({"missing": None}) == 6
    assert await store.sessions.count({"n": {"$in": []}}) == 0


async def test_booleans_and_nested_fields_match(store: Store) -> None:
    await store.rooms.insert({"isPrivate": True, "loc": {"city": "Lahore"}})
    await store.rooms.insert({"isPrivate": False, "loc": {"city": "Karachi"}})
    assert await store.rooms.count({"isPrivate": True}) == 1
    found = await store.rooms.find_one({"loc.city": "Karachi"})
    assert found is not None and found["isPrivate"] is False


async def test_update_set_unset_inc_push(store: Store) -> None:
    doc = await store.meetings.insert({"title": "a", "recordingIds": [], "n": 1, "drop": 1})
    matched = await store.meetings.update(
        {"_id": doc["_id"]},
        set={"title": "b", "sub.k": "v"},
        unset=["drop"],
        inc={"n": 2},
        push={"recordingIds": "r1"},
    )
    assert matched == 1
    got = await store.meetings.get(doc["_id"])
    assert got == {
        "_id": doc["_id"],
        "title": "b",
        "sub": {"k": "v"},
        "n": 3,
        "recordingIds": ["r1"],
    }
    assert await store.meetings.update({"_id": "f" * 24}, set={"title": "c"}) == 0


async def test_delete_returns_the_count(store: Store) -> None:
    for room in ("r1", "r1", "r2"):
        await store.files.insert({"roomId": room, "filename": secrets.token_hex(4)})
    assert await store.files.delete({"roomId": "r1"}) == 2
    assert await store.files.count({}) == 1


async def test_group_counts_and_sums(store: Store) -> None:
    rows = [("a.com", "live", 3), ("a.com", "live", 4), ("b.com", "webinar", 10)]
    for domain, kind, people in rows:
        await store.sessions.insert({"domain": domain, "type": kind, "people": people})
    groups = await store.sessions.group({}, ["domain", "type"], total="people")
    assert [(g.key, g.count, g.total) for g in groups] == [
        (("a.com", "live"), 2, 7.0),
        (("b.com", "webinar"), 1, 10.0),
    ]
    only = await store.sessions.group({"domain": "b.com"}, [])
    assert [(g.count, g.total) for g in only] == [(1, 0.0)]
    assert await store.sessions.group({"domain": "none"}, []) == []


async def test_operators_outside_the_language_are_refused(store: Store) -> None:
    with pytest.raises(InvalidArgument):
        await store.users.find({"email": {"$where": "1"}})
    with pytest.raises(InvalidArgument):
        await store.users.find({"$or": []})


async def test_sqlite_is_wal_and_migrated(tmp_path: Path) -> None:
    made = SqliteStore(tmp_path / "m.db")
    await made.open()
    await made.close()
    conn = sqlite3.connect(tmp_path / "m.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "sessions", "audit"} <= tables
    conn.close()
    again = SqliteStore(tmp_path / "m.db")  # reopening migrates nothing twice
    await again.open()
    assert await again.users.count({}) == 0
    await again.close()


async def test_a_locked_sqlite_store_answers_unavailable_within_its_deadline(
    tmp_path: Path,
) -> None:
    made = SqliteStore(tmp_path / "m.db", timeout=0.5)
    await made.open()
    blocker = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    start = time.monotonic()
    with pytest.raises(Unavailable, match=r"unavailable|did not answer"):
        await made.users.insert({"email": "x@example.com"})
    assert time.monotonic() - start < 2.0
    blocker.execute("ROLLBACK")
    blocker.close()
    await made.users.insert({"email": "x@example.com"})
    await made.close()


async def test_an_unreachable_mongodb_answers_unavailable_within_its_deadline(
    tmp_path: Path,
) -> None:
    # nothing listens there: the real driver's server selection fails
    made = MongoStore(unreachable_mongodb_uri(tmp_path), timeout=0.5)
    start = time.monotonic()
    with pytest.raises(Unavailable, match=r"unavailable|did not answer"):
        await made.users.find_one({"email": "x@example.com"})
    assert time.monotonic() - start < 3.0
    await made.close()


async def test_upsert_inserts_once_then_updates_in_place(store: Store) -> None:
    await store.storage.upsert({"userId": "u1"}, {"storageLimit": 10})
    first = await store.storage.find_one({"userId": "u1"})
    assert first is not None and is_id(first["_id"]) and first["storageLimit"] == 10
    await store.storage.upsert({"userId": "u1"}, {"storageLimit": 20})
    assert await store.storage.find({"userId": "u1"}) == [{**first, "storageLimit": 20}]


async def test_a_cancelled_store_call_is_cancelled_even_as_it_completes(store: Store) -> None:
    # Cancel calls at every step of their life, the moment the driver's answer lands
    # included: a cancel that was taken must end the call with CancelledError. (Python
    # 3.11's asyncio.wait_for returned the answer instead when both came in the same loop
    # turn; a recording's watcher then ran on after its cancel, and the stop that awaited it
    # hung.)
    swallowed = 0
    for steps in range(40):
        for _ in range(5):
            call = asyncio.ensure_future(store.users.count({}))
            for _ in range(steps):
                await asyncio.sleep(0)  # a loop turn, to land the cancel at each step
            taken = call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
            if taken and not call.cancelled():
                swallowed += 1
    assert swallowed == 0
