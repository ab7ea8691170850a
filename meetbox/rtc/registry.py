"""Where rooms live. In memory for one box; the interface leaves room for a shared map."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from meetbox.rtc.room import Room


class RoomRegistry(Protocol):
    def get(self, name: str) -> Room | None: ...

    def get_or_create(self, name: str, factory: Callable[[], Room]) -> Room: ...

    def remove(self, room: Room) -> None: ...

    def __iter__(self) -> Iterator[Room]: ...

    def __len__(self) -> int: ...


class LocalRoomRegistry:
    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}

    def get(self, name: str) -> Room | None:
        return self._rooms.get(name)

    def get_or_create(self, name: str, factory: Callable[[], Room]) -> Room:
        room = self._rooms.get(name)
        if room is None or room.closed:
            room = self._rooms[name] = factory()
        return room

    def remove(self, room: Room) -> None:
        if self._rooms.get(room.name) is room:
            del self._rooms[room.name]

    def __iter__(self) -> Iterator[Room]:
        return iter(list(self._rooms.values()))

    def __len__(self) -> int:
        return len(self._rooms)
