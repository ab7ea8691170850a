"""A room's whiteboard: the latest stage and the strokes drawn on it, bounded, in order.

``white-board-stage`` replaces the stage (the whole canvas) and the strokes drawn on top
start again; ``sendDrawingData`` adds to the sender's current stroke (``mousedown``
starts one); ``Un-do`` removes the most recent stroke; ``clear-whiteBoard`` removes all.
A late joiner asks with ``whiteBoardStateRequest`` and gets ``{open, stage, strokes}``,
even when whoever drew has left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from meetbox.errors import InvalidArgument, ResourceExhausted

MAX_STAGE_BYTES = 200 * 1024
MAX_EVENT_BYTES = 4 * 1024
MAX_STROKES = 2000
MAX_EVENTS = 50_000


def json_size(value: Any, limit: int, what: str) -> int:
    try:
        size = len(json.dumps(value, separators=(",", ":")))
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} must be plain JSON") from None
    if size > limit:
        raise InvalidArgument(f"{what} is larger than {limit} bytes")
    return size


@dataclass
class Whiteboard:
    open: bool = False
    stage: dict[str, Any] | None = None
    strokes: list[list[dict[str, Any]]] = field(default_factory=list)
    _current: dict[str, int] = field(default_factory=dict)  # sender → index of its stroke
    _events: int = 0

    def set_stage(self, stage: dict[str, Any]) -> None:
        json_size(stage, MAX_STAGE_BYTES, "stage")
        self.stage = stage
        self.strokes.clear()
        self._current.clear()
        self._events = 0

    def draw(self, sender: str, event: dict[str, Any]) -> None:
        json_size(event, MAX_EVENT_BYTES, "drawing data")
        if self._events >= MAX_EVENTS:
            raise ResourceExhausted("the whiteboard is full: clear it or send a stage")
        starts = event.get("drawingType") == "mousedown" or sender not in self._current
        if starts:
            if len(self.strokes) >= MAX_STROKES:
                raise ResourceExhausted("the whiteboard is full: clear it or send a stage")
            self.strokes.append([])
            self._current[sender] = len(self.strokes) - 1
        self.strokes[self._current[sender]].append(event)
        self._events += 1

    def undo(self) -> bool:
        if not self.strokes:
            return False
        removed = self.strokes.pop()
        self._events -= len(removed)
        last = len(self.strokes)
        self._current = {s: i for s, i in self._current.items() if i < last}
        return True

    def clear(self) -> None:
        self.stage = None
        self.strokes.clear()
        self._current.clear()
        self._events = 0

    def state(self) -> dict[str, Any]:
        return {"open": self.open, "stage": self.stage, "strokes": self.strokes}
