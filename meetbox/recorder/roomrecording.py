"""A room being recorded: a tap on every published track, one file per participant and
segment (a participant who leaves and comes back, or adds a track, starts a new one)."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from meetbox.ids import ParticipantSid, TrackSid
from meetbox.media.av1 import av1_dimensions, av1_sequence_header
from meetbox.media.depacketize import vp8_dimensions, vp9_dimensions
from meetbox.media.framer import Frame
from meetbox.recorder.segment import SegmentFile, container_format
from meetbox.recorder.tap import RecorderTap, SenderClock
from meetbox.sfu.router import Router
from meetbox.sfu.uptrack import UpTrack

logger = logging.getLogger(__name__)

RECORDED_KINDS = ("audio", "video")
# a participant whose video has not sent a keyframe this long after its audio started is
# recorded from its audio on (the video joins at its first keyframe)
KEYFRAME_WAIT = 1.5
FRAME_MS = {"audio": 20, "video": 33}
# a segment younger than this is started over, not ended, when a track is added to it
RESTART_WINDOW = 1.0


MANIFEST = "manifest.json"


@dataclass
class SegmentInfo:
    """What post-processing needs to place a file in time (kept in the manifest)."""

    file: str
    participant: str
    start: float  # wall-clock seconds of the file's time zero
    end: float | None  # None while it is written (or when the process died)
    video: bool
    audio: bool


def read_manifest(folder: Path) -> list[SegmentInfo]:
    data = json.loads((folder / MANIFEST).read_text())
    return [SegmentInfo(**s) for s in data["segments"]]


def safe_stem(identity: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", identity)[:64] or "participant"


class ParticipantRecording:
    """One participant's tracks written into one file at a time (a new one as tracks change)."""

    def __init__(self, folder: Path, stem: str, on_segment: Callable[[], None]) -> None:
        self.folder = folder
        self.stem = stem
        self.segments: list[SegmentInfo] = []
        self.sender = SenderClock()  # the publisher's clock, shared by its tracks
        self._on_segment = on_segment
        self.taps: dict[TrackSid, RecorderTap] = {}
        self.files: list[Path] = []
        self.segment: SegmentFile | None = None
        self._t0 = 0.0
        self._waiting_since: float | None = None
        self._closed_bytes = 0

    @property
    def bytes_written(self) -> int:
        return self._closed_bytes + (self.segment.size if self.segment else 0)

    def add(self, tap: RecorderTap) -> None:
        self.taps[tap.up.sid] = tap
        if self.segment is not None and not self.segment.has(tap.kind):
            # the next segment holds the new track too; a segment only just begun (the
            # camera's keyframe came before the microphone was published) is started over
            young = time.time() - self._t0 < RESTART_WINDOW
            self.end_segment(discard=young)

    def remove(self, tap: RecorderTap) -> None:
        self.taps.pop(tap.up.sid, None)
        if not self.taps:
            self.end_segment()
            self.sender = SenderClock()  # whoever comes back publishes on a new clock

    def _video_tap(self) -> RecorderTap | None:
        return next((t for t in self.taps.values() if t.kind == "video"), None)

    def on_frame(self, tap: RecorderTap, frame: Frame, at: float) -> None:
        segment = self.segment
        if segment is None:
            segment = self._open(tap, frame, at)
            if segment is None:
                return
        if at < self._t0 - 0.005:
            return  # from before the segment's start
        pts = round((at - self._t0) * 1000)
        try:
            segment.write(tap.kind, pts, frame.data, frame.keyframe, FRAME_MS[tap.kind])
        except Exception:  # a bad frame must not stop the recording of the others
            logger.exception("recording %s: writing a %s frame failed", self.stem, tap.kind)

    def _open(self, tap: RecorderTap, frame: Frame, at: float) -> SegmentFile | None:
        video = self._video_tap()
        audio = next((t for t in self.taps.values() if t.kind == "audio"), None)
        size = None
        codec_private = None
        if tap.kind == "video":
            if not frame.keyframe:
                return None
            measure = {"video/vp8": vp8_dimensions, "video/vp9": vp9_dimensions}
            found = measure.get(tap.mime_type.lower())
            size = found(frame.data) if found is not None else None
            if tap.mime_type.lower() == "video/av1":
                try:
                    codec_private = av1_sequence_header(frame.data)
                except ValueError:
                    codec_private = None
                if codec_private is None:
                    return None  # a segment starts with the sequence header
                size = av1_dimensions(codec_private)
        elif video is not None:
            if self._waiting_since is None:
                self._waiting_since = at
            if at - self._waiting_since < KEYFRAME_WAIT:
                return None
        _, ext = container_format(video.mime_type if video else None)
        path = self.folder / f"{self.stem}-{len(self.files) + 1:02d}.{ext}"
        self.segment = SegmentFile(
            path,
            video_mime=video.mime_type if video else None,
            size=size,
            audio_mime=audio.mime_type if audio else None,
            codec_private=codec_private,
        )
        self.files.append(path)
        self._t0 = at
        self._waiting_since = None
        self.segments.append(
            SegmentInfo(path.name, self.stem, at, None, video is not None, audio is not None)
        )
        self._on_segment()
        logger.info("recording %s into %s", self.stem, path.name)
        return self.segment

    def end_segment(self, discard: bool = False) -> None:
        segment, self.segment = self.segment, None
        self._waiting_since = None
        if segment is None:
            return
        segment.close()
        info = next((s for s in self.segments if s.file == segment.path.name), None)
        if segment.frames == 0 or discard:
            segment.path.unlink(missing_ok=True)
            self.files.remove(segment.path)
            if info is not None:
                self.segments.remove(info)
        else:
            self._closed_bytes += segment.size
            if info is not None:
                info.end = time.time()
        self._on_segment()

    def close(self) -> None:
        for tap in list(self.taps.values()):
            tap.close()
        self.end_segment()


RECORDED_CODECS = ("video/vp8", "video/vp9", "video/av1", "video/h264", "audio/opus")


class RoomRecording:
    """Records every audio and video track of ``router`` into ``folder`` until closed."""

    def __init__(
        self, router: Router, folder: Path, name_of: Callable[[ParticipantSid], str]
    ) -> None:
        self.router = router
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._name_of = name_of
        self.participants: dict[str, ParticipantRecording] = {}
        self.closed = False
        router.listeners.append(self._add)
        for up in list(router.uptracks.values()):
            self._add(up)

    def _add(self, up: UpTrack) -> None:
        if self.closed or up.kind not in RECORDED_KINDS or up.closed:
            return
        if up.codec.mime_type.lower() not in RECORDED_CODECS:
            logger.warning("recording: %s is not recorded", up.codec.mime_type)
            return
        # keyed by identity: someone who leaves and comes back gets the next segment
        identity = self._name_of(up.participant_sid)
        who = self.participants.get(identity)
        if who is None:
            stems = {p.stem for p in self.participants.values()}
            stem = safe_stem(identity)
            while stem in stems:  # two identities that differ only in unsafe characters
                stem += "_"
            who = ParticipantRecording(self.folder, stem, self.write_manifest)
            self.participants[identity] = who
        participant = who
        tap = RecorderTap(up, participant.on_frame, participant.remove, participant.sender)
        participant.add(tap)

    def write_manifest(self) -> None:
        """Where each file sits in time; replaced atomically, so a crash leaves one."""
        segments = [asdict(s) for p in self.participants.values() for s in p.segments]
        temporary = self.folder / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps({"segments": segments}, indent=1))
        os.replace(temporary, self.folder / MANIFEST)

    @property
    def files(self) -> list[Path]:
        return [f for p in self.participants.values() for f in p.files]

    @property
    def bytes_written(self) -> int:
        return sum(p.bytes_written for p in self.participants.values())

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._add in self.router.listeners:
            self.router.listeners.remove(self._add)
        for participant in self.participants.values():
            participant.close()
