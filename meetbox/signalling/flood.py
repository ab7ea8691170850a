"""Flood limits: token buckets by event class, kept per room and identity (not per socket).

A bucket outlives the connection that drained it, so reconnecting does not refill it;
buckets that have refilled completely carry no information and are pruned as the table
grows. Connections are limited per client address the same way (class ``connect``).
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass

from meetbox.errors import ResourceExhausted


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int


RATES = {
    "chat": Rate(2.0, 8),
    "draw": Rate(120.0, 400),
    "event": Rate(10.0, 30),
    "upload": Rate(100.0, 200),  # chunks of a browser recording
    # publish offers, answers, (un)subscriptions, mutes: a join with many tracks at once
    "signal": Rate(50.0, 200),
}
PRUNE_AT = 10_000  # buckets kept before the full ones are dropped


class FloodGuard:
    def __init__(self, rates: dict[str, Rate] | None = None) -> None:
        self.rates = dict(rates or RATES)
        self._buckets: dict[tuple[Hashable, str], tuple[float, float]] = {}
        self._prune_at = PRUNE_AT  # grows with the buckets in use: pruning stays rare

    def check(self, key: Hashable, kind: str) -> None:
        """Takes one token of ``kind`` from ``key``'s bucket, or raises ``ResourceExhausted``."""
        rate = self.rates[kind]
        now = time.monotonic()
        tokens, last = self._buckets.get((key, kind), (float(rate.burst), now))
        tokens = min(float(rate.burst), tokens + (now - last) * rate.per_second)
        if tokens < 1.0:
            self._buckets[(key, kind)] = (tokens, now)
            raise ResourceExhausted(
                f"too many {kind} events: at most {rate.per_second:g} per second"
            )
        self._buckets[(key, kind)] = (tokens - 1.0, now)
        if len(self._buckets) > self._prune_at:
            self._prune(now)
            self._prune_at = max(PRUNE_AT, 2 * len(self._buckets))

    def _prune(self, now: float) -> None:
        for (key, kind), (tokens, last) in list(self._buckets.items()):
            rate = self.rates[kind]
            if tokens + (now - last) * rate.per_second >= rate.burst:
                del self._buckets[(key, kind)]

    def __len__(self) -> int:
        return len(self._buckets)
