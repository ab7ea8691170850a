"""Composition in a worker process: the server's event loop only waits for messages."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import queue
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from meetbox.recorder.compose import Composed, ComposeSpec, compose

logger = logging.getLogger(__name__)

POLL = 0.25  # seconds a waiting thread blocks on the queue before looking at the process


def _work(folder: Path, video: Path, audio: Path, spec: ComposeSpec, out: Any) -> None:
    try:
        result = compose(folder, video, audio, spec, lambda f: out.put(("progress", f)))
        out.put(("done", result))
    except Exception as exc:  # sent to the parent, which reports it
        out.put(("error", f"{type(exc).__name__}: {exc}"))


async def compose_in_worker(
    folder: Path,
    video: Path,
    audio: Path,
    spec: ComposeSpec,
    on_progress: Callable[[float], Awaitable[None]],
) -> Composed:
    """Run :func:`compose` in a spawned process; ``on_progress`` sees its progress."""
    spec.check()
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    process = context.Process(
        target=_work, args=(folder, video, audio, spec, messages), daemon=True
    )
    process.start()

    def receive() -> tuple[str, Any] | None:
        try:
            message: tuple[str, Any] = messages.get(timeout=POLL)
            return message
        except queue.Empty:
            return None

    try:
        while True:
            message = await asyncio.to_thread(receive)
            if message is None:
                if not process.is_alive():
                    raise RuntimeError(f"the composing process died (exit {process.exitcode})")
                continue
            kind, value = message
            if kind == "progress":
                await on_progress(float(value))
            elif kind == "done":
                composed: Composed = value
                return composed
            else:
                raise ValueError(str(value))
    finally:
        await asyncio.to_thread(process.join, 5)
        if process.is_alive():
            process.kill()
        messages.close()
