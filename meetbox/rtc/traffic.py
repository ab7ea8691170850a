"""The traffic of the live rooms and of everything closed before, for ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterable

from meetbox.rtc.room import Room
from meetbox.sfu import counters
from meetbox.sfu.counters import Traffic

__all__ = ["Traffic", "traffic"]


def traffic(rooms: Iterable[Room]) -> Traffic:
    """The process's totals: each live room's up-tracks and its subscribers' down-tracks
    (as each subscriber holds them until they close), added to the closed ones'."""
    rooms = list(rooms)
    uptracks = [up for room in rooms for up in room.router.uptracks.values()]
    downtracks = [down for room in rooms for p in room.participants.values()
                  for down in p.subscriber.downtracks.values()]  # fmt: skip
    return counters.totals(uptracks, downtracks)
