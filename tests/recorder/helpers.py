"""Shared by the recorder tests: publishers of synthetic VP8 + Opus, file inspection."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from meetbox.client import Client
from meetbox.loadtest.clip import Clip, encode_audio, encode_video
from meetbox.loadtest.cliptrack import publish_clip

_CLIPS: dict[str, Clip] = {}


def clips() -> tuple[Clip, Clip]:
    if not _CLIPS:
        _CLIPS["video"] = encode_video(320, 240, 300_000, 30, seconds=2)
        _CLIPS["audio"] = encode_audio()
    return _CLIPS["video"], _CLIPS["audio"]


async def publish_av(client: Client) -> None:
    video, audio = clips()
    await publish_clip(client, video)
    await publish_clip(client, audio)


@dataclass
class FileFacts:
    video_codec: str | None
    audio_codec: str | None
    width: int
    height: int
    duration: float  # seconds, from the last packet's end
    video_start: float
    audio_start: float
    decoded_frames: int


def inspect(path: Path) -> FileFacts:
    """Reopen a file with PyAV: its streams, extent and how many video frames decode."""
    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        starts: dict[str, float] = {}
        end = 0.0
        decoded = 0
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            t = float(packet.pts * packet.time_base)
            kind = packet.stream.type
            starts.setdefault(kind, t)
            end = max(end, t + float((packet.duration or 0) * packet.time_base))
            if kind == "video":
                decoded += len(packet.decode())
        return FileFacts(
            video_codec=video.codec_context.name if video else None,
            audio_codec=audio.codec_context.name if audio else None,
            width=video.codec_context.width if video else 0,
            height=video.codec_context.height if video else 0,
            duration=end - min(starts.values(), default=0.0),
            video_start=starts.get("video", -1.0),
            audio_start=starts.get("audio", -1.0),
            decoded_frames=decoded,
        )
