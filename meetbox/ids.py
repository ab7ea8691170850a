"""Typed identifiers (LiveKit-style prefixes: RM_, PA_, TR_)."""

from __future__ import annotations

import secrets
import string
from typing import NewType

RoomName = NewType("RoomName", str)
ParticipantSid = NewType("ParticipantSid", str)
ParticipantIdentity = NewType("ParticipantIdentity", str)
TrackSid = NewType("TrackSid", str)

_ALPHABET = string.ascii_letters + string.digits


def _random(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(12))


def new_room_sid() -> str:
    return _random("RM_")


def new_participant_sid() -> ParticipantSid:
    return ParticipantSid(_random("PA_"))


def new_track_sid() -> TrackSid:
    return TrackSid(_random("TR_"))
