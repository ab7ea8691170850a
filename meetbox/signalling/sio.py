"""python-socketio's server with the guards a hostile client needs.

This is the only module that reaches into python-socketio's internals (pinned in
setup.cfg, as aiortc is): it overrides two packet handlers of ``socketio.AsyncServer``.

- A client may name any event, including the ones python-socketio reserves for itself:
  ``42["disconnect"]`` would run the server's disconnect handler while the socket stays
  in its rooms, and ``42["connect", ...]`` would run the connect handler again. Events
  named ``connect``, ``disconnect`` or ``connect_error`` from a client are dropped here,
  and so are event packets without a name.
- A packet that does not decode (``4x``, ``42[``, ``49``) raised out of python-socketio
  and was logged with two tracebacks. It is dropped here with one log line at most per
  connection.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import socketio

logger = logging.getLogger(__name__)

RESERVED = frozenset({"connect", "disconnect", "connect_error"})
# connections remembered as already warned about (one line each); the oldest forgotten
MAX_NOTED = 4096


class GuardedServer(socketio.AsyncServer):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._noted: OrderedDict[str, None] = OrderedDict()
        self.dropped = 0  # packets and events dropped, for tests and metrics

    def _note(self, eio_sid: str, what: str) -> None:
        self.dropped += 1
        if eio_sid in self._noted:
            return
        self._noted[eio_sid] = None
        if len(self._noted) > MAX_NOTED:
            self._noted.popitem(last=False)
        logger.warning("connection %s: %s (further ones are dropped silently)", eio_sid, what)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            self._binary_packet.pop(eio_sid, None)  # its attachments are dropped with it
            reason = f"{type(exc).__name__}: {exc}"[:120]
            self._note(eio_sid, f"malformed packet dropped ({reason!r})")

    async def _handle_event(self, eio_sid: str, namespace: Any, id: Any, data: Any) -> None:
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            self._note(eio_sid, "an event packet without an event name was dropped")
            return
        if data[0] in RESERVED:
            self._note(eio_sid, f"a client sent the reserved event {data[0]!r}: dropped")
            return
        await super()._handle_event(eio_sid, namespace, id, data)
