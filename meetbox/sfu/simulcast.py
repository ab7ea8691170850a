"""A simulcast track: one published video sent by its publisher as several layers (RFC 8853),
each its own RTP stream, of which every subscriber receives the one it needs.

Each layer is an :class:`UpTrack` of its own (its SSRC, statistics, NACKs, packet cache,
keyframes and fan-out), so forwarding a layer costs what forwarding any track does. The
:class:`SimulcastTrack` is what the room publishes: it holds the layers and places each
down-track on one of them, moving it at the target layer's keyframe (the down-track's
munger keeps sequence numbers and timestamps continuous). Layers nobody receives are
paused at the publisher (dynacast) through ``on_layers``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from meetbox.media import rtcp
from meetbox.sfu.uptrack import UpTrack

if TYPE_CHECKING:
    from meetbox.sfu.downtrack import DownTrack

# the size assumed for the top layer before its first keyframe tells (the page captures 720p)
NOMINAL_TOP = (1280, 720)
# a layer no one receives is paused at the publisher after this long (resumed at once)
PAUSE_AFTER = 1.0
# a layer a little smaller than its tile is still chosen (no sharper layer for a few pixels)
SLACK = 1.1
# a layer is live while packets came within this long
LIVE_FOR = 1.5


def layer_sizes(layers: list[UpTrack]) -> list[tuple[int, int]]:
    """Each layer's size: what its keyframes said, else halved per step below the top."""
    top = next((layer.size for layer in reversed(layers) if layer.size), None) or NOMINAL_TOP
    count = len(layers)
    return [
        layer.size or (top[0] >> (count - 1 - index), top[1] >> (count - 1 - index))
        for index, layer in enumerate(layers)
    ]


def choose_layer(
    sizes: list[tuple[int, int]], view: tuple[int, int] | None, max_layer: int | None
) -> int:
    """The smallest layer about as large as the view in both dimensions (a tile the picture
    covers; within SLACK), else the largest; never above ``max_layer``. With no view told,
    the largest."""
    chosen = len(sizes) - 1
    if view is not None:
        width, height = view
        chosen = next(
            (i for i, (w, h) in enumerate(sizes) if w * SLACK >= width and h * SLACK >= height),
            len(sizes) - 1,
        )
    if max_layer is not None:
        chosen = min(chosen, max(0, max_layer))
    return chosen


class SimulcastTrack(UpTrack):
    """The published track of a simulcast video. It receives no packets itself: the
    publisher routes each layer's packets (by RID, then SSRC) to that layer."""

    def __init__(
        self,
        *,
        rids: tuple[str, ...],
        on_layers: Callable[[SimulcastTrack, list[str]], None] | None = None,
        publish_bitrate: int = 3_000_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.publish_bitrate = publish_bitrate
        self.layers = [UpTrack(**kwargs, rid=rid) for rid in rids]
        for layer in self.layers:
            layer.ssrc = None
            layer.rtx_ssrc = None
        self.by_rid = {layer.rid: layer for layer in self.layers}
        self.active = list(rids)  # the layers the publisher was last told to send
        self._on_layers = on_layers
        self._pause_timer: asyncio.TimerHandle | None = None

    def info(self) -> dict[str, object]:
        sizes = layer_sizes(self.ordered())
        layers = [
            {"rid": layer.rid, "width": w, "height": h}
            for layer, (w, h) in zip(self.ordered(), sizes, strict=True)
        ]
        return {**super().info(), "simulcast": True, "layers": layers}

    def ordered(self) -> list[UpTrack]:
        """The layers from the smallest up: by size where keyframes told, else as offered."""
        if all(layer.size for layer in self.layers):
            return sorted(self.layers, key=lambda layer: (layer.size or (0, 0))[0])
        return list(self.layers)

    def receivers(self) -> list[UpTrack]:
        return list(self.layers)

    # -- placing down-tracks -----------------------------------------------------------

    def choose(self, down: DownTrack) -> UpTrack:
        ordered = self.ordered()
        index = choose_layer(layer_sizes(ordered), down.view, down.max_layer)
        now = time.monotonic()
        if not self._live(ordered[index], now):
            # a layer that is not coming (paused, or dropped by the publisher's encoder):
            # the nearest live one below, else above, while it resumes
            below = [layer for layer in ordered[:index] if self._live(layer, now)]
            above = [layer for layer in ordered[index + 1 :] if self._live(layer, now)]
            if below or above:
                self._want(ordered[index])
                return below[-1] if below else above[0]
        return ordered[index]

    @staticmethod
    def _live(layer: UpTrack, now: float) -> bool:
        return layer.stats is not None and now - layer.last_arrival < LIVE_FOR

    def attach(self, down: DownTrack) -> None:
        if down in self.downtracks:
            return
        self.downtracks.append(down)
        layer = self.choose(down)
        down.source = layer
        layer.attach(down)
        self.consumers_changed()

    def detach(self, down: DownTrack) -> None:
        if down in self.downtracks:
            self.downtracks.remove(down)
        for layer in self.layers:
            layer.detach(down)
        self.consumers_changed()

    def place(self, down: DownTrack, visible: bool = True) -> None:
        """Move ``down`` to the layer its view and link call for (nothing when hidden)."""
        if down not in self.downtracks:
            return
        down.move_to(self.choose(down) if visible else None)
        self.consumers_changed()

    def tick(self) -> None:
        """Once a second: a down-track left on a stand-in layer (the one it wanted was paused,
        or its publisher's encoder dropped it) goes to the one it wants once that is live."""
        for layer in self.layers:
            layer.tick()
        for down in list(self.downtracks):
            if not down.paused and down.target is None and self.choose(down) is not down.source:
                self.place(down)
        self._follow_top()

    def _follow_top(self) -> None:
        """A tap (a recording) takes the largest layer that comes: it moves when its own
        stops (the publisher's encoder dropped it) or a larger one starts."""
        if not self.taps:
            return
        now = time.monotonic()
        ordered = self.ordered()
        live = [layer for layer in ordered if self._live(layer, now)]
        if not live:
            return
        best = live[-1]
        moved = False
        for tap in self.taps:
            current = next((layer for layer in ordered if tap in layer.taps), None)
            if current is best:
                continue
            if current is not None:
                current.remove_tap(tap)
            best.add_tap(tap)
            tap.source_changed()  # another SSRC: its frames start at that layer's keyframe
            moved = True
        if moved:
            self.consumers_changed()

    def consumers_changed(self) -> None:
        """Resume at once the layers someone needs; pause the others a moment later."""
        wanted = self._wanted()
        resume = [rid for rid in wanted if rid not in self.active]
        if resume:
            self._tell(sorted(set(self.active) | set(resume), key=self._rank))
        if set(self.active) - set(wanted):
            if self._pause_timer is None and not self.closed:
                loop = asyncio.get_running_loop()
                self._pause_timer = loop.call_later(PAUSE_AFTER, self._pause_unwanted)
        elif self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None

    def _want(self, layer: UpTrack) -> None:
        if layer.rid is not None and layer.rid not in self.active:
            self._tell(sorted({*self.active, layer.rid}, key=self._rank))

    def _rank(self, rid: str) -> int:
        return [layer.rid for layer in self.layers].index(rid)

    def _wanted(self) -> list[str]:
        wanted: set[str] = set()
        for down in self.downtracks:
            if down.closed:
                continue
            if down.target is not None and down.target.rid:
                wanted.add(down.target.rid)
            if not down.paused and down.source.rid:
                wanted.add(down.source.rid)
        wanted.update(layer.rid for layer in self.layers if layer.taps and layer.rid)
        return sorted(wanted, key=self._rank)

    def _pause_unwanted(self) -> None:
        self._pause_timer = None
        if self.closed:
            return
        wanted = self._wanted()
        if set(self.active) != set(wanted):
            self._tell(wanted)

    def _tell(self, active: list[str]) -> None:
        self.active = active
        if self._on_layers is not None and not self.closed:
            self._on_layers(self, active)

    # -- what the room asks of a published track ----------------------------------------

    def layouts_changed(self) -> None:
        for layer in self.layers:
            layer.layouts_changed()

    def add_tap(self, tap: Any) -> None:
        """On the largest layer that comes (the top one while none has); see tick()."""
        self.taps.append(tap)
        now = time.monotonic()
        live = [layer for layer in self.ordered() if self._live(layer, now)]
        (live[-1] if live else self.ordered()[-1]).add_tap(tap)
        self.consumers_changed()

    def remove_tap(self, tap: Any) -> None:
        if tap in self.taps:
            self.taps.remove(tap)
        for layer in self.layers:
            layer.remove_tap(tap)
        self.consumers_changed()

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        for layer in self.layers:
            layer.set_muted(muted)

    def request_keyframe(self, first_picture: bool = False) -> None:
        for layer in self.layers:
            if layer.downtracks or layer.pending or layer.taps:
                layer.request_keyframe(first_picture)

    def on_sender_report(self, report: rtcp.SenderReport, now: float) -> None:
        return None  # each layer has its own SSRC and reports

    def estimated_bitrate(self) -> int | None:
        # each subscriber's link picks its layer: no weak one slows the publisher down
        return self.publish_bitrate

    def close(self) -> None:
        if self.closed:
            return
        if self._pause_timer is not None:
            self._pause_timer.cancel()
            self._pause_timer = None
        super().close()
        for layer in self.layers:
            layer.close()
