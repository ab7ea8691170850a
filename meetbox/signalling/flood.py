"""Per-connection flood limits: token buckets by event class."""

from __future__ import annotations

import time
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
}


class FloodGuard:
    def __init__(self, rates: dict[str, Rate] | None = None) -> None:
        self.rates = rates or RATES
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def check(self, connection: str, kind: str) -> None:
        rate = self.rates[kind]
        now = time.monotonic()
        tokens, last = self._buckets.get((connection, kind), (float(rate.burst), now))
        tokens = min(float(rate.burst), tokens + (now - last) * rate.per_second)
        if tokens < 1.0:
            self._buckets[(connection, kind)] = (tokens, now)
            raise ResourceExhausted(
                f"too many {kind} events: at most {rate.per_second:g} per second"
            )
        self._buckets[(connection, kind)] = (tokens - 1.0, now)

    def forget(self, connection: str) -> None:
        for key in [k for k in self._buckets if k[0] == connection]:
            del self._buckets[key]
