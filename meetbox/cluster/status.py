"""What a worker tells its gateway, and what the gateways of a deployment share: its URL,
its rooms and its load. Also the secret and headers by which a gateway speaks for a
client (the worker trusts the client's address only from a request that carries it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

SECRET_HEADER = "X-Meetbox-Cluster"
FORWARDED_HEADER = "X-Meetbox-Forwarded-For"
STATUS_PATH = "/_cluster/status"
EMIT_PATH = "/_cluster/emit"
RELAY_PATH = "/_cluster/relay"  # a gateway's: a worker's event for a room held elsewhere
ROOMS_PATH = "/_cluster/rooms/"  # a gateway's: + a room's name, which worker holds it
ROOM_HEADER = "X-Meetbox-Room"  # on a 421 reply: the live room the request is for
READY = "MEETBOX-WORKER-READY"  # the line a worker prints, with its URL, once it listens
STALE_AFTER = 3.0  # seconds without a heartbeat before a worker counts as gone


def cluster_secret(api_secret: str) -> str:
    """The workers and gateways of one deployment share the API secret, so they share this."""
    return hmac.new(api_secret.encode(), b"meetbox cluster", hashlib.sha256).hexdigest()


def trusted(headers: Any, secret: str) -> bool:
    given = str(headers.get(SECRET_HEADER, ""))
    return bool(given) and hmac.compare_digest(given, secret)


@dataclass
class WorkerStatus:
    """One worker process as its gateway last saw it."""

    id: str  # "<node>/<index>"
    node: str
    url: str  # where gateways reach its HTTP and Socket.IO
    pid: int = 0
    rooms: list[str] = field(default_factory=list)
    participants: int = 0
    down_tracks: int = 0
    cpu: float = 0.0  # share of one core over the last interval
    max_rooms: int = 0  # 0: no limit
    max_down_tracks: int = 0
    draining: bool = False
    at: float = field(default_factory=time.time)  # when this was read (wall clock)

    @property
    def full(self) -> bool:
        return (0 < self.max_rooms <= len(self.rooms)) or (
            0 < self.max_down_tracks <= self.down_tracks
        )

    def takes_rooms(self, now: float | None = None) -> bool:
        fresh = (now if now is not None else time.time()) - self.at < STALE_AFTER
        return fresh and not self.draining and not self.full

    def load(self) -> float:
        """Lower is emptier: rooms, participants, down-tracks and CPU, as mediasoup-style
        placement weighs them (a down-track costs per packet; a room costs a little)."""
        return len(self.rooms) + 0.5 * self.participants + 0.1 * self.down_tracks + 4 * self.cpu

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkerStatus:
        data = json.loads(text)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
