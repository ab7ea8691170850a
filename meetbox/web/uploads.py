"""Files in and out: multipart uploads streamed to disk with a size limit and published
atomically; downloads served as attachments that a browser never renders."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader

from meetbox.errors import InvalidArgument, NotFound, TooLarge

CHUNK = 256 * 1024


@dataclass(frozen=True)
class Upload:
    original_name: str
    size: int
    temp: Path

    def publish(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.temp, target)

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


async def receive(request: web.Request, folder: Path, limit: int, field: str = "file") -> Upload:
    """Reads the part named ``field`` into a temporary file in ``folder``."""
    if not request.content_type.startswith("multipart/form-data"):
        raise InvalidArgument(f"send the file as multipart/form-data in a part named {field!r}")
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes")
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                raise InvalidArgument(f"the form has no part named {field!r}")
            if isinstance(part, BodyPartReader) and part.name == field:
                break
        if not part.filename:
            raise InvalidArgument(f"the {field!r} part needs a filename")
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".upload-{secrets.token_hex(8)}"
        size = 0
        try:
            with temp.open("wb") as out:
                while chunk := await part.read_chunk(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise TooLarge(f"the file is larger than the limit of {limit} bytes")
                    out.write(chunk)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
    except BadContentDispositionHeader:  # a warning; raised where warnings are errors
        raise InvalidArgument(
            "the multipart body is malformed: a part's Content-Disposition cannot be read"
        ) from None
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        reason = exc.message if isinstance(exc, HttpProcessingError) else str(exc)
        raise InvalidArgument(f"the multipart body is malformed: {reason}") from None
    # browsers and aiohttp percent-encode some characters of the name (", CR, LF, ...)
    return Upload(unquote(part.filename), size, temp)


def attachment(path: Path, name: str, missing: str) -> web.FileResponse:
    """``path`` as a download named ``name``; ``NotFound(missing)`` when it is not there."""
    if not path.is_file():
        raise NotFound(missing)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


MULTIPART_SCHEMA = {
    "type": "object",
    "properties": {"file": {"type": "string", "format": "binary"}},
    "required": ["file"],
}
