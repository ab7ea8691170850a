"""Where files live on disk: one folder per owner, and paths that cannot leave it.

- a user's recordings: ``<data>/recordings/<userId>/<roomId>/<recordingId>/<fileName>``
- a room's shared files: ``<data>/documents/<roomId>/<fileName>``

Every handler and the recording engine reach the disk through :class:`DataFiles`. Each
part of a path is checked as one safe segment (not ``.`` or ``..``, no separator, NUL or
control character), and the resolved path must lie inside its owner's folder, so a
schema that lets a bad name through still cannot write into another owner's folder.
"""

from __future__ import annotations

from pathlib import Path

from meetbox.errors import InvalidArgument

MAX_SEGMENT_BYTES = 255
RECORDINGS = "recordings"
DOCUMENTS = "documents"


def segment(value: str, what: str) -> str:
    """``value`` if it is one safe path segment, else ``InvalidArgument`` naming ``what``."""
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{what} must be a non-empty name")
    if value in (".", ".."):
        raise InvalidArgument(f"{what} must not be '.' or '..'")
    if "/" in value or "\\" in value:
        raise InvalidArgument(f"{what} must not contain a path separator")
    if any(ord(ch) < 32 or ord(ch) == 0x7F for ch in value):
        raise InvalidArgument(f"{what} must not contain NUL or control characters")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} is not valid Unicode") from None
    if size > MAX_SEGMENT_BYTES:
        raise InvalidArgument(f"{what} must be at most {MAX_SEGMENT_BYTES} bytes")
    return value


def contained(owner: Path, *parts: str) -> Path:
    """``owner/parts...`` resolved, refused if it lands outside ``owner``."""
    base = owner.resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise InvalidArgument("the path leaves its owner's folder")
    return target


class DataFiles:
    """The data directory's files, by owner."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def user_folder(self, user_id: str) -> Path:
        return contained(self.data_dir / RECORDINGS, segment(user_id, "userId"))

    def recording_folder(self, user_id: str, room_id: str, recording_id: str) -> Path:
        """``recordings/<user>/<room>/<recording>``, inside the user's own folder."""
        return contained(
            self.user_folder(user_id),
            segment(room_id, "roomId"),
            segment(recording_id, "recordingId"),
        )

    def recording(self, user_id: str, room_id: str, recording_id: str, name: str) -> Path:
        folder = self.recording_folder(user_id, room_id, recording_id)
        return contained(folder, segment(name, "fileName"))

    def room_folder(self, room_id: str) -> Path:
        return contained(self.data_dir / DOCUMENTS, segment(room_id, "roomId"))

    def room_file(self, room_id: str, name: str) -> Path:
        return contained(self.room_folder(room_id), segment(name, "filename"))
