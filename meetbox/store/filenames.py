"""Uploaded names made safe (paths on disk come from ``meetbox.store.files``)."""

from __future__ import annotations

import re
import unicodedata

from meetbox.errors import InvalidArgument

MAX_NAME = 200
_UNSAFE = re.compile(r"[^\w .()+@,=-]", re.UNICODE)
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(10)),
    *(f"LPT{i}" for i in range(10)),
}


def sanitize(name: str) -> str:
    """A plain file name from what a client sent: no folders, separators, NUL or dot-only names.

    ``../../etc/passwd`` → ``passwd``; ``C:\\x\\a.txt`` → ``a.txt``; control characters are
    dropped and anything unusual becomes ``_``. Raises ``InvalidArgument`` when nothing is left.
    """
    text = unicodedata.normalize("NFC", name)
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = _UNSAFE.sub("_", text).strip(" .")
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        text = (
            (stem[: MAX_NAME - len(ext) - 1] + dot + ext)
            if dot and len(ext) < 16
            else text[:MAX_NAME]
        )
    if not text or set(text) <= {"."} or text.split(".")[0].upper() in _RESERVED:
        raise InvalidArgument("the file name is empty or not allowed once made safe")
    return text


def is_safe_name(name: str) -> bool:
    """Whether ``name`` is already a safe file name (what ``sanitize`` leaves unchanged)."""
    try:
        return sanitize(name) == name
    except InvalidArgument:
        return False
