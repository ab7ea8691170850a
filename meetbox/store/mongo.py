"""The MongoDB store, through PyMongo's async API (``AsyncMongoClient``).

meetbox's query language is a subset of MongoDB's, so filters and updates pass through.
``_id`` is the same 24-hex string the SQLite store uses. Indexes are created on ``open()``;
if the server is unreachable at start, meetbox starts anyway and retries on the next call.
Every call has a deadline (client-side ``timeoutMS`` and an asyncio one): an unreachable
server becomes ``Unavailable``, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError, PyMongoError

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

logger = logging.getLogger(__name__)

T = TypeVar("T")


class MongoCollection:
    def __init__(self, store: MongoStore, name: str) -> None:
        self.name = name
        self._store = store
        self._coll = store.database[name]

    async def insert(self, doc: Document) -> Document:
        stored = dict(doc)
        stored.setdefault("_id", new_id())
        await self._store.call(self._coll.insert_one(dict(stored)))
        return stored

    async def get(self, doc_id: str) -> Document | None:
        return await self.find_one({"_id": doc_id})

    async def find_one(self, query: Filter) -> Document | None:
        check_filter(query)
        found: Document | None = await self._store.call(self._coll.find_one(dict(query)))
        return found

    async def find(
        self, query: Filter, *, sort: Sort = (), limit: int = 0, skip: int = 0
    ) -> list[Document]:
        check_filter(query)
        order = [(check_field(f), -1 if d < 0 else 1) for f, d in sort] + [("_id", 1)]
        cursor = self._coll.find(dict(query), sort=order, limit=limit, skip=skip)
        found: list[Document] = await self._store.call(cursor.to_list())
        return found

    async def count(self, query: Filter) -> int:
        check_filter(query)
        return int(await self._store.call(self._coll.count_documents(dict(query))))

    async def update(
        self,
        query: Filter,
        *,
        set: Mapping[str, Any] | None = None,
        unset: Sequence[str] = (),
        inc: Mapping[str, float] | None = None,
        push: Mapping[str, Any] | None = None,
    ) -> int:
        check_filter(query)
        change: dict[str, Any] = {}
        if set:
            change["$set"] = {check_field(k): v for k, v in set.items()}
        if unset:
            change["$unset"] = {check_field(k): "" for k in unset}
        if inc:
            change["$inc"] = {check_field(k): v for k, v in inc.items()}
        if push:
            change["$push"] = {check_field(k): v for k, v in push.items()}
        if not change:
            return await self.count(query)
        result = await self._store.call(self._coll.update_many(dict(query), change))
        return int(result.matched_count)

    async def upsert(self, key: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
        check_filter(key)
        change = {
            "$set": {check_field(k): v for k, v in fields.items()},
            "$setOnInsert": {"_id": new_id()},
        }
        await self._store.call(self._coll.update_one(dict(key), change, upsert=True))

    async def delete(self, query: Filter) -> int:
        check_filter(query)
        result = await self._store.call(self._coll.delete_many(dict(query)))
        return int(result.deleted_count)

    async def group(
        self, query: Filter, by: Sequence[str], total: str | None = None
    ) -> list[Group]:
        check_filter(query)
        key = {f"k{i}": f"${check_field(f)}" for i, f in enumerate(by)}
        summed: Any = f"${check_field(total)}" if total else 0
        pipeline: list[dict[str, Any]] = [
            {"$match": dict(query)},
            {"$group": {"_id": key, "count": {"$sum": 1}, "total": {"$sum": summed}}},
            {"$sort": {"_id": 1}},
        ]
        cursor = await self._store.call(self._coll.aggregate(pipeline))
        rows: list[Document] = await self._store.call(cursor.to_list())
        return [
            Group(
                tuple(row["_id"].get(f"k{i}") for i in range(len(by))),
                int(row["count"]),
                float(row["total"]),
            )
            for row in rows
        ]


class MongoStore(Store):
    backend = "mongodb"

    def __init__(self, uri: str, database: str = "meetbox", timeout: float = 5.0) -> None:
        self.timeout = timeout
        ms = max(1, int(timeout * 1000))
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri,
            serverSelectionTimeoutMS=ms,
            connectTimeoutMS=ms,
            timeoutMS=ms,
            tz_aware=True,
        )
        self.database = self.client[database]
        self._indexed = False
        self._index_lock = asyncio.Lock()
        super().__init__(lambda name: MongoCollection(self, name))

    async def open(self) -> None:
        async with self._index_lock:
            if self._indexed:
                return
            for name, indexes in COLLECTIONS.items():
                for index in indexes:
                    await self._guard(
                        self.database[name].create_index(
                            [(f, 1) for f in index.fields],
                            unique=index.unique,
                            name=f"ix_{'_'.join(index.fields)}",
                        )
                    )
            self._indexed = True

    async def call(self, operation: Awaitable[T]) -> T:
        if not self._indexed:
            try:
                await self.open()
            except Unavailable:
                if asyncio.iscoroutine(operation):
                    operation.close()
                raise
        return await self._guard(operation)

    async def _guard(self, operation: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.timeout + 1.0):  # not 3.11's wait_for: see sqlite
                return await operation
        except DuplicateKeyError as exc:
            fields = ", ".join((exc.details or {}).get("keyPattern", {})) or "key"
            raise AlreadyExists(f"a document with this {fields} already exists") from None
        except PyMongoError as exc:
            logger.warning("mongodb store: %s", exc)
            raise Unavailable(f"the store is unavailable: {type(exc).__name__}") from None
        except TimeoutError:
            raise Unavailable(f"the store did not answer within {self.timeout:g} s") from None

    async def ping(self) -> None:
        await self._guard(self.client.admin.command("ping"))

    async def close(self) -> None:
        await self.client.close()
