"""Which requests belong to a live room, and so go to the worker holding it: one table.

A REST call names its room in its path or its JSON body; a Socket.IO connection names it
in its connect packet (its token's room); a WebSocket with a ``token`` query, in that
token. Everything else goes to the least loaded worker of the box (the store is shared).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RoomRoute:
    method: str
    path: re.Pattern[str]
    body_field: str = ""  # the room is this field of the JSON body, not a path group

    def room_in_path(self, method: str, path: str) -> str | None:
        match = self.path.match(path)
        if method != self.method or match is None:
            return None
        return match.groupdict().get("room")


ROOM_ROUTES = (
    RoomRoute("POST", re.compile(r"^/recording/start$"), body_field="roomId"),
    RoomRoute("POST", re.compile(r"^/recording/stop$"), body_field="roomId"),
    RoomRoute("POST", re.compile(r"^/api/v1\.0/rooms/(?P<room>[^/]{1,256})/start-subtitle/?$")),
    RoomRoute("POST", re.compile(r"^/api/v1\.0/rooms/(?P<room>[^/]{1,256})/stop-subtitle/?$")),
    RoomRoute("POST", re.compile(r"^/room/(?P<room>[^/]{1,256})/upload$")),
    RoomRoute("DELETE", re.compile(r"^/room/(?P<room>[^/]{1,256})/files$")),
)


def route_for(method: str, path: str) -> RoomRoute | None:
    for route in ROOM_ROUTES:
        if route.method == method and route.path.match(path):
            return route
    return None


def connect_auth(message: str) -> tuple[str, str] | None:
    """A Socket.IO CONNECT packet (``40`` then an optional ``/namespace,``, then the auth
    object): the namespace part and the JSON text of its auth, else None."""
    if not message.startswith("40"):
        return None
    rest = message[2:]
    namespace = ""
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    return namespace, rest
