"""The Socket.IO events, grouped by feature; each group declares its own table.

A new event goes into the group of its feature (or a new module here, added to
``GROUPS``): a ``Spec`` beside its handler in that group's ``table()``. docs/PROTOCOL.md's
event table is generated from these (``python -m meetbox.signalling.protocol``).
"""

from __future__ import annotations

from meetbox.signalling.events.base import Handlers, RoomContext
from meetbox.signalling.events.captions import Captions
from meetbox.signalling.events.host import HostControls
from meetbox.signalling.events.media import MediaEvents
from meetbox.signalling.events.messages import Messages
from meetbox.signalling.events.mic import MicRequests
from meetbox.signalling.events.presence import PresenceEvents
from meetbox.signalling.events.recording import Recording
from meetbox.signalling.events.whiteboard import WhiteboardEvents

GROUPS: tuple[type[Handlers], ...] = (
    MediaEvents,
    PresenceEvents,
    Messages,
    MicRequests,
    HostControls,
    Recording,
    Captions,
    WhiteboardEvents,
)

__all__ = ["GROUPS", "Handlers", "PresenceEvents", "RoomContext"]
