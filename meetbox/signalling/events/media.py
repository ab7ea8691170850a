"""The media events: publishing, answering the subscriber offer, (un)subscribing, muting,
leaving.

Each handler takes the sender's room, the sender and the payload (already an object of
the declared fields, see ``dispatch``); what they may do is the room's rule to check.
"""

from __future__ import annotations

from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.ids import TrackSid
from meetbox.rtc.participant import Participant
from meetbox.rtc.room import Room
from meetbox.sfu.negotiation import MAX_SDP_BYTES
from meetbox.signalling import payloads
from meetbox.signalling.events.base import Handlers, Method, Spec

MAX_SID = 64
MAX_TRACKS = 32


def _spec(name: str, *fields: str, summary: str) -> Spec:
    return Spec(name, fields, flood="signal", needs_data=False, envelope=False, summary=summary)


async def publish_offer(room: Room, participant: Participant, body: dict[str, Any]) -> Any:
    sdp = payloads.string(body, "sdp", max_len=MAX_SDP_BYTES, text=True)
    tracks = body.get("tracks", {})
    if not isinstance(tracks, dict) or len(tracks) > MAX_TRACKS:
        raise InvalidArgument(
            f"tracks must be an object of at most {MAX_TRACKS} {{mid: {{source, name}}}}"
        )
    meta: dict[str, dict[str, str]] = {}
    for mid, value in tracks.items():
        entry = payloads.as_dict(value, ("source", "name"))
        meta[str(mid)] = {
            "source": payloads.string(entry, "source", max_len=32, required=False),
            "name": payloads.string(entry, "name", max_len=128, required=False),
        }
    return await room.publish(participant, sdp, meta)


async def subscriber_answer(room: Room, participant: Participant, body: dict[str, Any]) -> None:
    sdp = payloads.string(body, "sdp", max_len=MAX_SDP_BYTES, text=True)
    await participant.subscriber.handle_answer(sdp)


def _track(body: dict[str, Any]) -> str:
    return payloads.string(body, "track_sid", max_len=MAX_SID)


async def subscribe(room: Room, participant: Participant, body: dict[str, Any]) -> None:
    room.subscribe(participant, _track(body))


async def unsubscribe(room: Room, participant: Participant, body: dict[str, Any]) -> None:
    room.unsubscribe(participant, _track(body))


async def mute_track(room: Room, participant: Participant, body: dict[str, Any]) -> None:
    await room.set_muted(participant, _track(body), payloads.boolean(body, "muted"))


MAX_VIEW = 16384  # pixels: wider than any screen


async def track_settings(room: Room, participant: Participant, body: dict[str, Any]) -> None:
    visible = payloads.boolean(body, "visible", required=False, default=True)
    sizes = [body.get("width"), body.get("height")]
    if sizes == [None, None]:
        view = None
    elif not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_VIEW for v in sizes
    ):
        raise InvalidArgument(
            f"width and height must be whole pixels from 0 to {MAX_VIEW}, both or neither"
        )
    else:
        view = (int(sizes[0] or 0), int(sizes[1] or 0))
    participant.subscriber.set_view(TrackSid(_track(body)), view, visible)


async def unpublish(room: Room, participant: Participant, body: dict[str, Any]) -> None:
    await room.unpublish(participant, _track(body))


class MediaEvents(Handlers):
    def table(self) -> list[tuple[Spec, Method]]:
        return [
            (
                _spec(
                    "publish_offer",
                    "sdp",
                    "tracks",
                    summary="offer to publish; answered with the SDP",
                ),
                publish_offer,
            ),
            (
                _spec("subscriber_answer", "sdp", summary="answer to a subscriber_offer"),
                subscriber_answer,
            ),
            (_spec("subscribe", "track_sid", summary="receive a track"), subscribe),
            (_spec("unsubscribe", "track_sid", summary="stop receiving a track"), unsubscribe),
            (
                _spec("mute_track", "track_sid", "muted", summary="mute or unmute own track"),
                mute_track,
            ),
            (_spec("unpublish", "track_sid", summary="stop publishing a track"), unpublish),
            (
                _spec(
                    "track_settings",
                    "track_sid",
                    "width",
                    "height",
                    "visible",
                    summary="the size a received video is shown at, and whether it is seen",
                ),
                track_settings,
            ),
            (
                Spec("leave", needs_data=False, envelope=False, summary="leave the room"),
                self.leave,
            ),
        ]

    async def leave(self, room: Room, participant: Participant, body: dict[str, Any]) -> None:
        # the client closes its socket once it has the ack
        await room.remove(participant, "left")
