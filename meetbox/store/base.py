"""The persistence protocol: named collections of JSON documents behind one small query language.

Repositories (users, rooms, meetings, ...) are collections of the same ``Store``; the
embedded SQLite store and the MongoDB store implement the same ``Collection`` protocol, and
one contract test suite runs against both. The query language is the subset of MongoDB's
that meetbox needs, so the MongoDB store passes it through and the SQLite store compiles it:

- filter: ``{"field": value}`` (equality; ``None`` matches a missing field) or
  ``{"field": {"$gte": v, "$lte": v, "$gt": v, "$lt": v, "$ne": v, "$in": [..]}}``;
  dotted field names reach into sub-documents. Filters come from meetbox's code, never
  from a client's JSON (the web layer rejects ``$`` keys and dotted keys in bodies).
- update: ``set``, ``unset``, ``inc`` and ``push`` (append to an array).
- group: count and sum per distinct value of some fields.

Ids are 24-hex ObjectId strings on both backends; timestamps are stored as UTC ISO-8601
strings with milliseconds (``2025-10-14T13:08:09.559Z``), which sort as they compare.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from bson import ObjectId

from meetbox.errors import InvalidArgument

Document = dict[str, Any]
Filter = Mapping[str, Any]
Sort = Sequence[tuple[str, int]]

FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
OPERATORS = frozenset({"$gte", "$lte", "$gt", "$lt", "$ne", "$in"})
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


@dataclass(frozen=True)
class Index:
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class Group:
    key: tuple[Any, ...]
    count: int
    total: float


# every collection meetbox keeps, with the indexes its queries need
COLLECTIONS: dict[str, tuple[Index, ...]] = {
    "users": (Index(("email",), unique=True),),
    "rooms": (Index(("ownerId",)),),
    "meetings": (Index(("hostId",)),),
    "recordings": (Index(("recordingId",), unique=True), Index(("ownerId",))),
    "files": (Index(("roomId", "filename"), unique=True),),
    "transcripts": (Index(("meetingId", "createdAt")),),
    "summaries": (Index(("meetingId",), unique=True),),
    "sessions": (Index(("startedAt",)), Index(("hostId",)), Index(("roomId", "endedAt"))),
    "session_participants": (Index(("sessionId",)),),
    "audit": (Index(("at",)), Index(("userId",))),
    "api_clients": (Index(("clientId",), unique=True),),
    "storage": (Index(("userId",), unique=True),),
    "dispatches": (Index(("roomId", "state")),),
}


class Collection(Protocol):
    name: str

    async def insert(self, doc: Document) -> Document:
        """Stores a copy of ``doc`` with a new ``_id`` unless it has one; returns the copy."""
        ...

    async def get(self, doc_id: str) -> Document | None: ...

    async def find_one(self, query: Filter) -> Document | None: ...

    async def find(
        self, query: Filter, *, sort: Sort = (), limit: int = 0, skip: int = 0
    ) -> list[Document]: ...

    async def count(self, query: Filter) -> int: ...

    async def update(
        self,
        query: Filter,
        *,
        set: Mapping[str, Any] | None = None,
        unset: Sequence[str] = (),
        inc: Mapping[str, float] | None = None,
        push: Mapping[str, Any] | None = None,
    ) -> int:
        """Updates every matching document; returns how many matched."""
        ...

    async def upsert(self, key: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
        """Sets ``fields`` on the document whose fields equal ``key``, or inserts
        ``{**key, **fields}`` with a new ``_id``, atomically."""
        ...

    async def delete(self, query: Filter) -> int: ...

    async def group(
        self, query: Filter, by: Sequence[str], total: str | None = None
    ) -> list[Group]: ...


class Store:
    """All repositories of one backend. Subclasses make the collections and the connection."""

    backend: str = ""
    users: Collection
    rooms: Collection
    meetings: Collection
    recordings: Collection
    files: Collection
    transcripts: Collection
    summaries: Collection
    sessions: Collection
    session_participants: Collection
    audit: Collection
    api_clients: Collection
    storage: Collection
    dispatches: Collection

    def __init__(self, make: Callable[[str], Collection]) -> None:
        for name in COLLECTIONS:
            setattr(self, name, make(name))

    async def open(self) -> None:
        """Creates the schema, indexes and migrations; safe to call again after a failure."""
        raise NotImplementedError

    async def ping(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


def new_id() -> str:
    return str(ObjectId())


def is_id(value: str) -> bool:
    return bool(OBJECT_ID.match(value))


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a ``Z``: the seed's timestamp format."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    m = moment.astimezone(UTC)
    # by hand: strftime does not pad years before 1000 on every platform
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}."
        f"{m.microsecond // 1000:03d}Z"
    )


def check_field(name: str) -> str:
    if not FIELD.match(name):
        raise InvalidArgument(f"{name!r} is not a field name")
    return name


def check_filter(query: Filter) -> None:
    """Rejects anything outside the query language (the stores rely on it)."""
    for name, cond in query.items():
        check_field(name)
        if isinstance(cond, Mapping):
            for op, value in cond.items():
                if op not in OPERATORS:
                    raise InvalidArgument(f"operator {op!r} is not supported")
                if op == "$in" and not isinstance(value, list | tuple):
                    raise InvalidArgument("$in takes a list")


COLLECTION_NAMES = tuple(COLLECTIONS)
