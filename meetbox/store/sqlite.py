"""The embedded store: one SQLite file in WAL mode, a table of JSON documents per collection.

Each collection is ``(id TEXT PRIMARY KEY, doc TEXT)`` with expression indexes on
``json_extract(doc, '$.field')`` for the fields ``base.COLLECTIONS`` names. Every call runs
on one worker thread that owns the connection, so the event loop never blocks on disk;
every call has a deadline, and a locked or unreadable database becomes ``Unavailable``.
The schema is created and migrated on ``open()`` (``PRAGMA user_version`` counts
migrations).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from meetbox.errors import AlreadyExists, Unavailable
from meetbox.store.base import (
    COLLECTIONS,
    Document,
    Filter,
    Group,
    Sort,
    Store,
    check_field,
    check_filter,
    new_id,
)
from meetbox.store.documents import apply_update

logger = logging.getLogger(__name__)

T = TypeVar("T")
SQL_OPS = {"$gte": ">=", "$lte": "<=", "$gt": ">", "$lt": "<"}


def _expr(field: str) -> str:
    if field == "_id":
        return "id"
    return f"json_extract(doc, '$.{check_field(field)}')"


def _param(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def _where(query: Filter) -> tuple[str, list[Any]]:
    check_filter(query)
    clauses: list[str] = []
    params: list[Any] = []
    for field, cond in query.items():
        expr = _expr(field)
        if not isinstance(cond, Mapping):
            cond = {"$eq": cond}
        for op, value in cond.items():
            if op == "$eq" and value is None:
                clauses.append(f"{expr} IS NULL")
            elif op == "$eq":
                clauses.append(f"{expr} = ?")
                params.append(_param(value))
            elif op == "$ne" and value is None:
                clauses.append(f"{expr} IS NOT NULL")
            elif op == "$ne":
                clauses.append(f"({expr} IS NULL OR {expr} != ?)")
                params.append(_param(value))
            elif op == "$in":
                if not value:
                    clauses.append("0")
                    continue
                clauses.append(f"{expr} IN ({', '.join('?' * len(value))})")
                params.extend(_param(v) for v in value)
            else:
                clauses.append(f"{expr} {SQL_OPS[op]} ?")
                params.append(_param(value))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _schema(conn: sqlite3.Connection) -> None:
    for name, indexes in COLLECTIONS.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
        for index in indexes:
            kind = "UNIQUE INDEX" if index.unique else "INDEX"
            label = "_".join(index.fields)
            columns = ", ".join(_expr(f) for f in index.fields)
            conn.execute(f"CREATE {kind} IF NOT EXISTS ix_{name}_{label} ON {name} ({columns})")


# migrations run once each, in order; the schema step is idempotent and runs every start
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_schema]


class SqliteCollection:
    def __init__(self, store: SqliteStore, name: str) -> None:
        self.name = name
        self._store = store

    async def insert(self, doc: Document) -> Document:
        stored = dict(doc)
        stored.setdefault("_id", new_id())

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO {self.name} (id, doc) VALUES (?, ?)",
                (stored["_id"], json.dumps(stored)),
            )

        await self._store.call(run, write=True)
        return stored

    async def get(self, doc_id: str) -> Document | None:
        return await self.find_one({"_id": doc_id})

    async def find_one(self, query: Filter) -> Document | None:
        found = await self.find(query, limit=1)
        return found[0] if found else None

    async def find(
        self, query: Filter, *, sort: Sort = (), limit: int = 0, skip: int = 0
    ) -> list[Document]:
        where, params = _where(query)
        order = ", ".join(f"{_expr(f)} {'DESC' if d < 0 else 'ASC'}" for f, d in sort)
        sql = f"SELECT doc FROM {self.name}{where} ORDER BY {order + ', ' if order else ''}id"
        if limit or skip:
            sql += " LIMIT ? OFFSET ?"
            params += [limit or -1, skip]

        def run(conn: sqlite3.Connection) -> list[Document]:
            return [json.loads(row[0]) for row in conn.execute(sql, params)]

        return await self._store.call(run)

    async def count(self, query: Filter) -> int:
        where, params = _where(query)

        def run(conn: sqlite3.Connection) -> int:
            row = conn.execute(f"SELECT COUNT(*) FROM {self.name}{where}", params).fetchone()
            return int(row[0])

        return await self._store.call(run)

    async def update(
        self,
        query: Filter,
        *,
        set: Mapping[str, Any] | None = None,
        unset: Sequence[str] = (),
        inc: Mapping[str, float] | None = None,
        push: Mapping[str, Any] | None = None,
    ) -> int:
        where, params = _where(query)

        def run(conn: sqlite3.Connection) -> int:
            rows = conn.execute(f"SELECT id, doc FROM {self.name}{where}", params).fetchall()
            for doc_id, text in rows:
                doc = apply_update(json.loads(text), set=set, unset=unset, inc=inc, push=push)
                conn.execute(
                    f"UPDATE {self.name} SET doc = ? WHERE id = ?", (json.dumps(doc), doc_id)
                )
            return len(rows)

        return await self._store.call(run, write=True)

    async def upsert(self, key: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
        where, params = _where(key)

        def run(conn: sqlite3.Connection) -> None:
            row = conn.execute(f"SELECT id, doc FROM {self.name}{where} LIMIT 1", params).fetchone()
            if row is None:
                doc = {"_id": new_id(), **key, **fields}
                conn.execute(
                    f"INSERT INTO {self.name} (id, doc) VALUES (?, ?)",
                    (doc["_id"], json.dumps(doc)),
                )
                return
            doc = apply_update(json.loads(row[1]), set=fields)
            conn.execute(f"UPDATE {self.name} SET doc = ? WHERE id = ?", (json.dumps(doc), row[0]))

        await self._store.call(run, write=True)

    async def delete(self, query: Filter) -> int:
        where, params = _where(query)

        def run(conn: sqlite3.Connection) -> int:
            return conn.execute(f"DELETE FROM {self.name}{where}", params).rowcount

        return await self._store.call(run, write=True)

    async def group(
        self, query: Filter, by: Sequence[str], total: str | None = None
    ) -> list[Group]:
        where, params = _where(query)
        keys = [_expr(f) for f in by]
        summed = f"TOTAL({_expr(total)})" if total else "0"
        positions = ", ".join(str(i + 1) for i in range(len(keys)))
        sql = f"SELECT {', '.join([*keys, 'COUNT(*)', summed])} FROM {self.name}{where}" + (
            f" GROUP BY {positions} ORDER BY {positions}" if keys else ""
        )

        def run(conn: sqlite3.Connection) -> list[Group]:
            groups = []
            for row in conn.execute(sql, params):
                if row[len(keys)] == 0:
                    continue
                groups.append(Group(tuple(row[: len(keys)]), int(row[-2]), float(row[-1])))
            return groups

        return await self._store.call(run)


class SqliteStore(Store):
    backend = "sqlite"

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meetbox-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._opened = False
        super().__init__(lambda name: SqliteCollection(self, name))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout * 0.8, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._conn = conn
        return self._conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            _schema(conn)
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                step(conn)
                conn.execute(f"PRAGMA user_version = {number}")
                logger.info("store migrated to version %d", number)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def open(self) -> None:
        await self._run(self._migrate, write=False)
        self._opened = True

    async def call(self, fn: Callable[[sqlite3.Connection], T], *, write: bool = False) -> T:
        if not self._opened:
            await self.open()
        return await self._run(fn, write=write)

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        def job() -> T:
            conn = self._connection()
            if not write:
                return fn(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        loop = asyncio.get_running_loop()
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the answer and
            # drops a cancel that lands in the same loop turn as it (fixed in 3.12)
            async with asyncio.timeout(self.timeout):
                return await loop.run_in_executor(self._executor, job)
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(_duplicate_message(exc)) from None
        except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
            logger.warning("sqlite store %s: %s", self.path, exc)
            raise Unavailable(f"the store is unavailable: {exc}") from None
        except TimeoutError:
            raise Unavailable(f"the store did not answer within {self.timeout:g} s") from None

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone(), write=False)

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=True)


def _duplicate_message(exc: sqlite3.IntegrityError) -> str:
    text = str(exc)
    for name, indexes in COLLECTIONS.items():
        for index in indexes:
            if f"ix_{name}_{'_'.join(index.fields)}" in text:
                return f"a {name[:-1]} with this {' and '.join(index.fields)} already exists"
    if "PRIMARY KEY" in text or ".id" in text:
        return "a document with this id already exists"
    return "this already exists"
