"""The forwarding loop: one incoming RTP packet to every down-track of its up-track.

Per down-track a :class:`Forwarder` keeps the munger's offsets, the header fields the
subscriber negotiated and the counters; :func:`fan_out` rewrites each copy's fixed header
before the packet's shared tail (one per extension layout), SRTP-protects it and sends it
through the down-track's :class:`Route` (the transport's writer, :mod:`meetbox.sfu.aiortc`).

Two implementations of the same loop: the compiled one (``meetbox/sfu/csrc``, built at
install where a C compiler is found) and this module's Python one, the reference and
the fallback. ``MEETBOX_FANOUT=python`` chooses the Python one, ``MEETBOX_FANOUT=compiled``
insists on the compiled one; unset, the compiled one when it was built (:func:`use`
switches). The foundation's forwarding tests run both.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from meetbox.media.munger import RtpMunger

Tails = dict[int, tuple[int, bytes]]


class Sender(Protocol):
    """What the Python loop needs of a route: the transport's writer."""

    connected: bool

    def send_rtp(
        self, first: int, second: int, sequence_number: int, timestamp: int, ssrc: int, tail: bytes
    ) -> bool: ...


class PythonRoute:
    """The Python loop sends through the writer's own methods: nothing to keep here."""

    __slots__ = ()

    def _set_session(self, address: int) -> None:
        return None

    def _set_nominated(self, nominated: dict[int, Any]) -> None:
        return None

    def _set_target(self, pair: object, sendto: object, addr: object, fd: int) -> None:
        return None


class PythonForwarder(RtpMunger):
    """One down-track's forwarding state: its munger, header fields and counters."""

    def __init__(self, clock_rate: int, ssrc: int, seq_offset: int, ts_offset: int) -> None:
        super().__init__(clock_rate)
        self.seq_offset = seq_offset
        self.ts_offset = ts_offset
        self.ssrc = ssrc
        self.route: Any = None
        self.layout: object = None
        self.payload_type = -1
        self.waiting_for_keyframe = False
        self.closed = False
        self.packets_sent = 0
        self.octets_sent = 0


def python_fan_out(
    forwarders: list[Any],
    tails: Tails,
    seq: int,
    ts: int,
    marker: bool,
    payload_size: int,
    now: float,
    keyframe: bool,
) -> int:
    """Send one packet to every forwarder; the number of connected ones that skipped it
    for want of a keyframe (the caller asks the publisher for one)."""
    waiting = 0
    for forwarder in forwarders:
        route: Sender | None = forwarder.route
        payload_type = forwarder.payload_type
        if route is None or payload_type < 0 or forwarder.closed:
            continue
        if forwarder.waiting_for_keyframe and not keyframe:
            if route.connected:
                waiting += 1
            continue
        translated = forwarder.translate(seq, ts, now)
        if translated is None:
            continue
        forwarder.waiting_for_keyframe = False
        tail = tails.get(forwarder.layout)
        if tail is None:
            continue
        second = payload_type | 0x80 if marker else payload_type
        if route.send_rtp(tail[0], second, translated[0], translated[1], forwarder.ssrc, tail[1]):
            forwarder.packets_sent += 1
            forwarder.octets_sent += payload_size
    return waiting


try:
    from meetbox.sfu import _fanout
except ImportError:
    _fanout = None  # type: ignore[assignment]

AVAILABLE = ("compiled", "python") if _fanout is not None else ("python",)


class Implementation(NamedTuple):
    name: str
    Forwarder: type[Any]
    fan_out: Callable[[list[Any], Tails, int, int, bool, int, float, bool], int]


PYTHON = Implementation("python", PythonForwarder, python_fan_out)
COMPILED = (
    Implementation("compiled", _fanout.Forwarder, _fanout.fan_out) if _fanout is not None else None
)
_current = PYTHON


def use(name: str) -> Implementation:
    """Forward with the ``compiled`` or the ``python`` loop from now on. An up-track keeps
    the implementation it was made with (its down-tracks' forwarders are of its kind)."""
    global _current
    if name not in ("compiled", "python"):
        raise ValueError(f"no fan-out implementation {name!r}: 'compiled' or 'python'")
    if name == "compiled" and COMPILED is None:
        raise RuntimeError(
            "the compiled fan-out was not built (no C compiler or Python headers at install): "
            "reinstall meetbox where they are, or set MEETBOX_FANOUT=python"
        )
    _current = COMPILED if name == "compiled" and COMPILED is not None else PYTHON
    return _current


def current() -> Implementation:
    return _current


def set_srtp_protect(address: int, max_plaintext: int) -> None:
    """libsrtp's ``srtp_protect`` for the compiled loop, as an address (pylibsrtp's binding
    has it: :mod:`meetbox.sfu.aiortc` hands it over at import)."""
    if _fanout is not None:
        _fanout.init(address, max_plaintext)


use(os.environ.get("MEETBOX_FANOUT", "") or ("python" if COMPILED is None else "compiled"))

# the base of every transport's writer: where the compiled loop sends (it works with the
# Python loop too, whose sends go through the writer's own methods)
if TYPE_CHECKING:
    Route = PythonRoute
else:
    Route = _fanout.Route if _fanout is not None else PythonRoute
