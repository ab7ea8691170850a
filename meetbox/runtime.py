"""How ``meetbox serve`` runs its process: the event loop and the garbage collector.

Embedded servers (in a test suite) leave both to their host process.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

# Python's full collections walk every live object: with a few hundred peer connections
# that is 100-200 ms with every packet held back, several times a minute under load
# (measured: 16 pauses of 117-198 ms in 40 s at 261 subscribers). Young collections keep
# their default size (larger ones cost about 6% more per forwarded packet, measured);
# full ones come a thousand times less often, and what is alive at start is frozen out.
GC_THRESHOLDS = (700, 10, 10_000)


def tune_garbage_collector() -> None:
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_startup_objects() -> None:
    """Call once the server is up: modules, settings and the app are never garbage."""
    gc.collect()
    gc.freeze()


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``serve`` runs on: uvloop when chosen (or "auto" and installed)."""
    if choice not in ("auto", "asyncio", "uvloop"):
        raise SystemExit(f"server.event_loop must be auto, asyncio or uvloop, not {choice!r}")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SystemExit(
                "server.event_loop is uvloop but uvloop is not installed: "
                "pip install 'meetbox[fast]'"
            ) from None
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
