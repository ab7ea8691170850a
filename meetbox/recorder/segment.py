"""One recorded file: encoded frames muxed by PyAV without decoding.

VP8, VP9 or AV1 + Opus go into WebM, H.264 + Opus into Matroska. Clusters are closed every second
and every packet is flushed to the file, so a process killed mid-recording leaves a file
that plays up to its last closed cluster.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

logger = logging.getLogger(__name__)
# SVT-AV1 writes its banner to stderr when opened: errors only
os.environ.setdefault("SVT_LOG", "1")


def drop_realtime() -> None:
    """Every thread of this process back on the normal scheduler. SVT-AV1, opened as
    root, puts the threads it makes (and the one that opened it) on SCHED_FIFO 99: a
    server, and every process it starts, would then run ahead of everything else."""
    normal = os.sched_param(0)
    try:
        tasks = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        tasks = [0]
    for tid in tasks:
        try:
            if os.sched_getscheduler(tid) != os.SCHED_OTHER:
                os.sched_setscheduler(tid, os.SCHED_OTHER, normal)
        except OSError:
            pass  # a thread that ended meanwhile


MS = Fraction(1, 1000)
MUXER_OPTIONS = {"cluster_time_limit": "1000", "flush_packets": "1"}
ENCODERS = {
    "video/vp8": "libvpx",
    "video/vp9": "libvpx-vp9",
    "video/av1": "libsvtav1",  # PyAV opens it (about 30 MB) though nothing is encoded
    "video/h264": "libx264",
    "audio/opus": "libopus",
}


def container_format(video_mime: str | None) -> tuple[str, str]:
    """(PyAV format, file extension) for a segment holding this video codec."""
    if video_mime is not None and video_mime.lower() == "video/h264":
        return "matroska", "mkv"
    return "webm", "webm"


class SegmentFile:
    """A file with at most one video and one audio stream; times are milliseconds."""

    def __init__(
        self,
        path: Path,
        *,
        video_mime: str | None,
        size: tuple[int, int] | None,
        audio_mime: str | None,
        codec_private: bytes | None = None,
    ) -> None:
        """``codec_private``: what the video track's header needs of the stream (AV1: its
        sequence header OBU, from which the muxer writes the ``av1C`` record)."""
        self.path = path
        fmt, _ = container_format(video_mime)
        self._container: Any = av.open(str(path), "w", format=fmt, options=MUXER_OPTIONS)
        self._streams: dict[str, Any] = {}
        self._last_pts: dict[str, int] = {}
        self.frames = 0
        self.written: dict[str, int] = {}  # frames by kind
        self.closed = False
        if video_mime is not None:
            stream: Any = self._container.add_stream(ENCODERS[video_mime.lower()], rate=30)
            stream.width, stream.height = size or (640, 480)
            stream.pix_fmt = "yuv420p"
            stream.time_base = MS
            if codec_private:
                stream.codec_context.extradata = codec_private
            self._streams["video"] = stream
        if audio_mime is not None:
            stream = self._container.add_stream(ENCODERS[audio_mime.lower()], rate=48000)
            stream.layout = "stereo"
            stream.time_base = MS
            self._streams["audio"] = stream
        if video_mime is not None and video_mime.lower() == "video/av1":
            self._container.start_encoding()  # opens SVT-AV1 now, to undo what it does
            drop_realtime()

    def has(self, kind: str) -> bool:
        return kind in self._streams

    def write(self, kind: str, pts_ms: int, data: bytes, keyframe: bool, duration_ms: int) -> None:
        stream = self._streams.get(kind)
        if stream is None or self.closed:
            return
        last = self._last_pts.get(kind, -1)
        pts_ms = max(pts_ms, last + 1)  # strictly increasing per stream
        self._last_pts[kind] = pts_ms
        packet = av.Packet(data)
        packet.stream = stream
        packet.time_base = MS
        packet.pts = packet.dts = pts_ms
        packet.duration = duration_ms
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        self.frames += 1
        self.written[kind] = self.written.get(kind, 0) + 1

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._container.close()  # the trailer: duration and cues
        except (av.FFmpegError, OSError) as exc:
            logger.warning("closing %s: %s", self.path, exc)
