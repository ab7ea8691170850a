"""Which worker holds which room, and where a new room goes: the least loaded worker that
takes rooms (fresh, not draining, under its limits), as LiveKit places a room on a node.

One policy over two maps: in memory for the workers of one box, or in Redis for many boxes
(``nodes`` and ``room_node_map``, as LiveKit keeps them), shared by every gateway."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

from meetbox.cluster.status import STALE_AFTER, WorkerStatus
from meetbox.errors import ResourceExhausted, Unavailable

GRACE = 20.0  # seconds a placed room may go unreported (its first join still running)
FORGET_AFTER = 60.0  # a silent worker's entry is removed after this long


class Maps(Protocol):
    """Where the two maps live."""

    async def workers(self) -> dict[str, WorkerStatus]: ...

    async def put_worker(self, status: WorkerStatus) -> None: ...

    async def drop_worker(self, worker_id: str) -> None: ...

    async def rooms(self) -> dict[str, tuple[str, float]]: ...  # room → (worker id, placed at)

    async def room(self, name: str) -> tuple[str, float] | None: ...

    async def claim_room(self, name: str, worker_id: str, at: float) -> bool: ...  # if absent

    async def drop_room(self, name: str) -> None: ...

    async def close(self) -> None: ...


class MemoryMaps:
    def __init__(self) -> None:
        self._workers: dict[str, WorkerStatus] = {}
        self._rooms: dict[str, tuple[str, float]] = {}

    async def workers(self) -> dict[str, WorkerStatus]:
        return dict(self._workers)

    async def put_worker(self, status: WorkerStatus) -> None:
        self._workers[status.id] = status

    async def drop_worker(self, worker_id: str) -> None:
        self._workers.pop(worker_id, None)

    async def rooms(self) -> dict[str, tuple[str, float]]:
        return dict(self._rooms)

    async def room(self, name: str) -> tuple[str, float] | None:
        return self._rooms.get(name)

    async def claim_room(self, name: str, worker_id: str, at: float) -> bool:
        if name in self._rooms:
            return False
        self._rooms[name] = (worker_id, at)
        return True

    async def drop_room(self, name: str) -> None:
        self._rooms.pop(name, None)

    async def close(self) -> None:
        return None


class RedisMaps:
    """``<prefix>nodes`` (worker id → its status, JSON) and ``<prefix>room_node_map`` (room →
    ``{"worker", "at"}``) in one Redis; a room is claimed with HSETNX, so two gateways
    placing one room at once agree."""

    def __init__(self, url: str, prefix: str = "meetbox:") -> None:
        try:
            import redis.asyncio as redis
        except ImportError:
            raise ValueError("--redis needs redis-py: pip install 'meetbox[redis]'") from None

        self._redis: Any = redis.from_url(url)
        self._nodes = prefix + "nodes"
        self._map = prefix + "room_node_map"

    async def workers(self) -> dict[str, WorkerStatus]:
        raw = await self._redis.hgetall(self._nodes)
        return {k.decode(): WorkerStatus.from_json(v) for k, v in raw.items()}

    async def put_worker(self, status: WorkerStatus) -> None:
        await self._redis.hset(self._nodes, status.id, status.to_json())

    async def drop_worker(self, worker_id: str) -> None:
        await self._redis.hdel(self._nodes, worker_id)

    async def rooms(self) -> dict[str, tuple[str, float]]:
        raw = await self._redis.hgetall(self._map)
        return {k.decode(): _entry(v) for k, v in raw.items()}

    async def room(self, name: str) -> tuple[str, float] | None:
        raw = await self._redis.hget(self._map, name)
        return None if raw is None else _entry(raw)

    async def claim_room(self, name: str, worker_id: str, at: float) -> bool:
        value = json.dumps({"worker": worker_id, "at": at})
        return bool(await self._redis.hsetnx(self._map, name, value))

    async def drop_room(self, name: str) -> None:
        await self._redis.hdel(self._map, name)

    async def close(self) -> None:
        await self._redis.aclose()


def _entry(raw: bytes) -> tuple[str, float]:
    data = json.loads(raw)
    return str(data["worker"]), float(data["at"])


def _load(placed: Counter[str], status: WorkerStatus) -> tuple[float, str]:
    return status.load() + max(0, placed[status.id] - len(status.rooms)), status.id


class Placement:
    def __init__(self, maps: Maps) -> None:
        self.maps = maps

    async def report(self, mine: list[WorkerStatus], gone: Sequence[str] = ()) -> None:
        """This gateway's workers as just read (and those that died): the room map
        follows what each reports; a room placed on a worker that no longer has it, past
        its grace, is forgotten, as are the rooms of a dead worker."""
        now = time.time()
        for status in mine:
            status.at = now
            await self.maps.put_worker(status)
        for worker_id in gone:
            await self.maps.drop_worker(worker_id)
        held = {room: s.id for s in mine for room in s.rooms}
        ours = {s.id for s in mine} | set(gone)
        rooms = await self.maps.rooms()
        for room, (worker_id, at) in rooms.items():
            if worker_id in ours and held.get(room) != worker_id:
                if worker_id in gone or now - at > GRACE:
                    await self.maps.drop_room(room)
        for room, worker_id in held.items():
            if room not in rooms:  # a room its worker has that the map lost: keep it there
                await self.maps.claim_room(room, worker_id, now)
        # workers silent for long (another box that died) leave the registry
        for worker_id, status in (await self.maps.workers()).items():
            if now - status.at > FORGET_AFTER:
                await self.maps.drop_worker(worker_id)

    async def live_workers(self) -> list[WorkerStatus]:
        now = time.time()
        return [s for s in (await self.maps.workers()).values() if now - s.at < STALE_AFTER]

    async def owner(self, room: str) -> WorkerStatus | None:
        """The live worker holding ``room``; a room on a dead worker is forgotten."""
        entry = await self.maps.room(room)
        if entry is None:
            return None
        status = (await self.maps.workers()).get(entry[0])
        if status is None or time.time() - status.at >= STALE_AFTER:
            await self.maps.drop_room(room)
            return None
        return status

    async def place(self, room: str) -> WorkerStatus:
        """The worker for ``room``: its owner, else the least loaded that takes rooms."""
        for _ in range(3):
            owner = await self.owner(room)
            if owner is not None:
                return owner
            live = await self.live_workers()
            takers = [s for s in live if s.takes_rooms()]
            if not takers:
                if any(s.full for s in live):
                    raise ResourceExhausted("every worker holds its limit of rooms or down-tracks")
                if live:
                    raise Unavailable("every worker is draining: no new rooms start")
                raise Unavailable("no worker is running")
            # a room placed a moment ago counts before its worker reports it
            placed = Counter(worker_id for worker_id, _ in (await self.maps.rooms()).values())

            chosen = min(takers, key=partial(_load, placed))
            if await self.maps.claim_room(room, chosen.id, time.time()):
                chosen.rooms.append(room)  # the next placement sees it before a report does
                await self.maps.put_worker(chosen)
                return chosen
        raise Unavailable(f"room {room!r} could not be placed")

    async def any_worker(self, local: list[WorkerStatus]) -> WorkerStatus:
        """For a request that names no live room: the least loaded of this box's own."""
        fresh = [s for s in local if time.time() - s.at < STALE_AFTER]
        if not fresh:
            raise Unavailable("no worker is running")
        return min(fresh, key=lambda s: (s.load(), s.id))

    async def close(self) -> None:
        await self.maps.close()
