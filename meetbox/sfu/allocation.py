"""One subscriber's downlink: what it carries, and which layer each of its videos gets.

Each subscriber has its own estimate, so one weak link lowers only its own pictures. The
estimate is the server's own, from loss (the loss controller of Google's congestion
control, draft-ietf-rmcat-gcc section 6: over 10% loss the rate drops to what was sent
times (1 - loss / 2); under 2% it grows by 8% a second). The budget goes to screen
shares first, then to the active speakers' videos, then to the largest tiles, each taking
the highest layer at or under the one its tile needs that still fits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from meetbox.sfu.simulcast import SimulcastTrack, choose_layer, layer_sizes

if TYPE_CHECKING:
    from meetbox.sfu.downtrack import DownTrack

HIGH_LOSS = 0.10
LOW_LOSS = 0.02
GROWTH = 1.08  # a second, while loss stays low
HOLD = 5.0  # seconds the budget holds after a step down before it grows again
# the estimate starts here (bits/s) and never goes under FLOOR
START = 3_000_000
FLOOR = 100_000


class LinkEstimate:
    """What one subscriber's downlink carries, in bits per second, from the loss it sees:
    the share of packets its receiver reports lost or asks again for (NACKs: with
    retransmission, receiver reports show little of what a full link drops).

    Its REMB is kept (``remb``) but not used: the REMB a browser computes from the
    abs-send-time meetbox forwards measures the publisher's path and the server's event
    loop too; on loopback, with no loss, Chromium's fell to 90 kbit/s while 290 were sent.
    After a step down the budget holds for HOLD seconds before it grows again."""

    def __init__(self) -> None:
        self.remb: int | None = None
        self.estimate = float(START)
        self.loss = 0.0
        self.sent = 0.0  # bits/s sent to it over the last interval
        self.hold_until = 0.0

    def on_remb(self, bitrate: int) -> None:
        self.remb = bitrate

    def on_interval(self, loss: float, sent: float, seconds: float, now: float) -> None:
        """Loss (0..1) seen and bits/s sent over the last ``seconds``."""
        self.loss, self.sent = loss, sent
        if loss > HIGH_LOSS:
            self.estimate = max(FLOOR, min(self.estimate, sent * (1 - loss / 2)))
            self.hold_until = now + HOLD
        elif loss < LOW_LOSS and now >= self.hold_until:
            self.estimate = min(self.estimate * GROWTH**seconds, 10 * START)

    @property
    def budget(self) -> float:
        return self.estimate


def _priority(down: DownTrack) -> tuple[int, int]:
    """Screen shares, then the active speakers' videos, then the largest tiles."""
    view = down.view or (1 << 14, 1 << 14)
    rank = 0 if down.up.source == "screen_share" else 1 if down.up.speaking else 2
    return (rank, -view[0] * view[1])


def allocate(downs: list[DownTrack], budget: float) -> None:
    """Cap each video down-track's layer (``max_layer``) so that all fit in ``budget``;
    audio and unlayered videos are counted first at what they take."""
    remaining = budget
    layered: list[DownTrack] = []
    for down in downs:
        if down.closed or down.paused:
            continue
        if isinstance(down.up, SimulcastTrack):
            layered.append(down)
        else:
            remaining -= down.source.bitrate
    for down in sorted(layered, key=_priority):
        track = down.up
        assert isinstance(track, SimulcastTrack)
        ordered = track.ordered()
        wanted = choose_layer(layer_sizes(ordered), down.view, None)
        index = wanted
        while index > 0 and ordered[index].bitrate > remaining:
            index -= 1
        remaining -= ordered[index].bitrate
        cap = None if index == wanted else index  # None: the link is not what limits it
        if cap != down.max_layer:
            down.max_layer = cap
            track.place(down)
