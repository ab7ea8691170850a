"""Stopping background tasks the same way everywhere."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from meetbox.errors import origin

logger = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel a task and wait until it has ended; harmless on None or a finished task."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class BackgroundTasks:
    """Tasks started and forgotten by their owner, kept referenced until they end."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved: never "Task exception was never retrieved"
        if exc is not None:
            logger.error(
                "background task %s failed: %s: %s (at %s)",
                task.get_coro().__qualname__,  # type: ignore[union-attr]
                type(exc).__name__,
                str(exc)[:200],
                origin(exc),
            )

    def __contains__(self, task: object) -> bool:
        return task in self._tasks

    async def drain(self, timeout: float) -> None:
        """Let running tasks finish for up to ``timeout`` seconds, then cancel the rest."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.close()

    async def close(self) -> None:
        """Cancel every task but the caller's own and wait for them to end."""
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
