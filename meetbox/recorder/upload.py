"""Recordings made in the browser and uploaded in chunks (the seed's recording server:
``create-file``, ``stream``, ``stop-writing``): chunks must come in order and within
their limits, and the finished file must open as media before it is accepted."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import av

MAX_CHUNK = 192 * 1024  # below the Socket.IO message limit, with room for the envelope
EXTENSIONS = (".webm", ".mkv", ".mp4", ".ogg")
CHECKED_PACKETS = 50


class UploadError(ValueError):
    """Refused: the message says why; ``aborted`` when the upload was thrown away."""

    def __init__(self, message: str, aborted: bool = False, exhausted: bool = False) -> None:
        super().__init__(message)
        self.aborted = aborted
        self.exhausted = exhausted  # a size limit, not a malformed request


@dataclass
class ChunkedUpload:
    final: Path
    limit: int  # bytes: the upload limit or what is left of the quota, the smaller
    size: int = 0
    next_index: int = 0
    closed: bool = False
    part: Path = field(init=False)

    def __post_init__(self) -> None:
        if self.final.suffix.lower() not in EXTENSIONS:
            raise UploadError(f"the file must be one of {', '.join(EXTENSIONS)}")
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.part = self.final.with_name(f".{self.final.name}.part")
        self.part.write_bytes(b"")

    def write(self, index: int, data: bytes) -> None:
        """Append chunk ``index`` (0, 1, 2, ...). Blocking: run it in a thread."""
        if self.closed:
            raise UploadError("this upload is finished")
        if index != self.next_index:
            raise UploadError(f"chunk {index} is out of order: expected chunk {self.next_index}")
        if not data:
            raise UploadError("a chunk must not be empty")
        if len(data) > MAX_CHUNK:
            raise UploadError(f"a chunk is at most {MAX_CHUNK} bytes, not {len(data)}")
        if self.size + len(data) > self.limit:
            self.abort()
            raise UploadError(
                f"the file would exceed its limit of {self.limit} bytes (upload or storage)",
                aborted=True,
                exhausted=True,
            )
        with self.part.open("ab") as out:
            out.write(data)
        self.size += len(data)
        self.next_index += 1

    def finish(self) -> int:
        """Check the file opens as media and decodes its first packets; then publish it."""
        if self.closed:
            raise UploadError("this upload is finished")
        self.closed = True
        try:
            with av.open(str(self.part)) as container:
                if not container.streams.video and not container.streams.audio:
                    raise UploadError("the file has no audio or video stream")
                for n, packet in enumerate(container.demux()):
                    if n >= CHECKED_PACKETS:
                        break
                    if packet.size:
                        packet.decode()
        except (av.FFmpegError, UnicodeDecodeError) as exc:
            self.part.unlink(missing_ok=True)
            raise UploadError(f"the file is not playable media: {exc}", aborted=True) from None
        except UploadError:
            self.part.unlink(missing_ok=True)
            raise
        os.replace(self.part, self.final)
        return self.size

    def abort(self) -> None:
        self.closed = True
        self.part.unlink(missing_ok=True)
