"""Rate limits per caller and endpoint group: a fixed window, in memory or in Redis.

A group allows ``limit`` requests per ``window`` seconds to one caller (a user, a room
token holder, or an address for anonymous calls). Past it the API answers 429 with
``Retry-After``. With ``api.redis_url`` the counters live in Redis (``INCR`` + ``EXPIRE``)
so that several meetbox processes share them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from meetbox.errors import ResourceExhausted


class TooManyRequests(ResourceExhausted):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    group: str
    limit: int  # 0: unlimited
    window: float


class Counter(Protocol):
    async def hit(self, key: str, window: float) -> tuple[int, float]:
        """Counts one request; returns the count in this window and seconds until it ends."""
        ...

    async def close(self) -> None: ...


class MemoryCounter:
    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        now = time.monotonic()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._windows[key] = (start, count)
        if len(self._windows) > self.MAX_KEYS:
            self._expire(now, window)
        return count, start + window - now

    def _expire(self, now: float, window: float) -> None:
        for key, (start, _) in list(self._windows.items()):
            if now - start >= window:
                del self._windows[key]

    async def close(self) -> None:
        self._windows.clear()


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # optional: pip install 'meetbox[redis]'

        self._redis: Any = redis.from_url(url)

    async def hit(self, key: str, window: float) -> tuple[int, float]:
        name = f"meetbox:rate:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.pexpire(name, int(window * 1000), nx=True)
            pipe.pttl(name)
            count, _, ttl = await pipe.execute()
        return int(count), max(0.0, int(ttl) / 1000)

    async def close(self) -> None:
        await self._redis.aclose()


class RateLimiter:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter

    async def check(self, limit: Limit, caller_key: str) -> None:
        if limit.limit <= 0:
            return
        count, remaining = await self.counter.hit(f"{limit.group}:{caller_key}", limit.window)
        if count > limit.limit:
            retry = max(1, math.ceil(remaining))
            raise TooManyRequests(
                f"too many requests to {limit.group} endpoints: at most {limit.limit} per "
                f"{limit.window:g} s; retry in {retry} s",
                retry,
            )

    async def close(self) -> None:
        await self.counter.close()
