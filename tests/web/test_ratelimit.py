"""The rate-limit counters: in memory always, Redis where MEETBOX_TEST_REDIS_URL is set."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest

from meetbox.web.ratelimit import (
    Counter,
    Limit,
    MemoryCounter,
    RateLimiter,
    RedisCounter,
    TooManyRequests,
)

REDIS_URL = os.environ.get("MEETBOX_TEST_REDIS_URL", "")


@pytest.fixture(params=["memory", "redis"])
async def counter(request: pytest.FixtureRequest) -> AsyncIterator[Counter]:
    made: Counter
    if request.param == "memory":
        made = MemoryCounter()
    else:
        if not REDIS_URL:
            pytest.skip("Redis counter not run: set MEETBOX_TEST_REDIS_URL=redis://host:6379")
        made = RedisCounter(REDIS_URL)
    yield made
    await made.close()


async def test_a_window_allows_the_limit_then_refuses_with_retry_after(counter: Counter) -> None:
    limiter = RateLimiter(counter)
    limit = Limit(f"g{secrets.token_hex(3)}", 3, 30.0)
    for _ in range(3):
        await limiter.check(limit, "ip:1")
    with pytest.raises(TooManyRequests) as refused:
        await limiter.check(limit, "ip:1")
    assert 1 <= refused.value.retry_after <= 30
    await limiter.check(limit, "ip:2")  # another caller has its own window
    await limiter.check(Limit(limit.group, 0, 30.0), "ip:1")  # 0 turns a group off


async def test_a_new_window_starts_after_the_old_one_ends() -> None:
    counter = MemoryCounter()
    assert (await counter.hit("k", 0.05))[0] == 1
    assert (await counter.hit("k", 0.05))[0] == 2
    from tests.helpers import wait_async

    async def reset() -> bool:
        return (await counter.hit("k", 0.05))[0] == 1

    await wait_async(reset, timeout=2)
