"""How ``meetbox serve`` logs: text lines, or one JSON object a line (``cluster.log_format
= "json"``) with the worker, and the room and participant whose work wrote it."""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar

# (room, participant identity) of the connection or event being handled; tasks started
# while handling it carry it too
current: ContextVar[tuple[str, str]] = ContextVar("meetbox_log_context", default=("", ""))


def set_context(room: str, participant: str) -> None:
    current.set((room, participant))


class JsonFormatter(logging.Formatter):
    def __init__(self, worker: str) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        room, participant = current.get()
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "worker": self.worker,
            "room": room,
            "participant": participant,
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line)


class TextFormatter(logging.Formatter):
    def __init__(self, worker: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        room, participant = current.get()
        where = " ".join(
            f"{k}={v}" for k, v in (("worker", self.worker), ("room", room),
                                    ("participant", participant)) if v
        )  # fmt: skip
        return f"{text} [{where}]" if where else text


def configure(level: str, log_format: str, worker: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(worker) if log_format == "json" else TextFormatter(worker))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aioice logs every candidate pair's check at INFO: one line per pair per connection
    logging.getLogger("aioice").setLevel(max(logging.WARNING, root.level))
