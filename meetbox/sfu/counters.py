"""The process's traffic totals for ``/metrics``: what every track forwarded, asked for
and lost, counted by the tracks themselves (nothing more on the per-packet path) and
added here as each closes, so the totals only grow (Prometheus counters must)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Protocol

from meetbox.media.stats import ReceiveStatistics


class UpTrack(Protocol):
    """What the totals read of an up-track (:class:`meetbox.sfu.uptrack.UpTrack`)."""

    closed: bool
    packets_received: int
    stats: ReceiveStatistics | None
    nack_packets_sent: int
    keyframe_requests_sent: int


class DownTrack(Protocol):
    """What the totals read of a down-track (:class:`meetbox.sfu.downtrack.DownTrack`)."""

    retransmits: int
    nacks_received: int
    keyframe_requests_received: int

    @property
    def closed(self) -> bool: ...

    @property
    def packets_sent(self) -> int: ...

    @property
    def octets_sent(self) -> int: ...


@dataclass
class Traffic:
    packets_in: int = 0  # RTP from publishers
    bytes_in: int = 0
    lost_in: int = 0  # publishers' packets that never came
    nacks_out: int = 0  # packets asked of publishers again
    keyframe_requests_out: int = 0  # PLIs sent to publishers
    packets_out: int = 0  # RTP to subscribers
    bytes_out: int = 0
    retransmits: int = 0  # packets sent again on a subscriber's NACK
    nacks_in: int = 0  # packets subscribers asked for again
    keyframe_requests_in: int = 0  # subscribers' PLIs and FIRs

    def add_up(self, up: UpTrack) -> None:
        stats = up.stats
        self.packets_in += up.packets_received
        if stats is not None:
            self.bytes_in += stats.bytes_received
            expected = stats.extended_max - stats.base_seq + 1
            self.lost_in += max(0, expected - stats.packets_received)
        self.nacks_out += up.nack_packets_sent
        self.keyframe_requests_out += up.keyframe_requests_sent

    def add_down(self, down: DownTrack) -> None:
        self.packets_out += down.packets_sent
        self.bytes_out += down.octets_sent
        self.retransmits += down.retransmits
        self.nacks_in += down.nacks_received
        self.keyframe_requests_in += down.keyframe_requests_received

    def plus(self, other: Traffic) -> Traffic:
        return Traffic(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


CLOSED = Traffic()  # the tracks of this process that have closed


def streams(uptracks: Iterable[UpTrack]) -> Iterable[UpTrack]:
    """The tracks that receive packets: a simulcast track's layers, else the track."""
    for up in uptracks:
        yield from getattr(up, "layers", None) or (up,)


def totals(uptracks: Iterable[UpTrack], downtracks: Iterable[DownTrack]) -> Traffic:
    """Everything so far: the closed tracks' and the live ones' (each live down-track as
    its subscriber holds it until it closes, so no count goes back)."""
    live = Traffic()
    for up in streams(uptracks):
        if not up.closed:
            live.add_up(up)
    for down in downtracks:
        if not down.closed:
            live.add_down(down)
    return CLOSED.plus(live)
