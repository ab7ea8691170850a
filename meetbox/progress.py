"""A one-line progress bar for long CLI work (load tests, recording processing)."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    def __init__(
        self, total: float, label: str = "", stream: TextIO | None = None, width: int = 24
    ) -> None:
        self.total = max(total, 1e-9)
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._live = self.stream.isatty()
        self._last = ""

    def update(self, done: float, detail: str = "") -> None:
        share = min(max(done / self.total, 0.0), 1.0)
        filled = round(share * self.width)
        line = f"{self.label} [{'#' * filled}{'-' * (self.width - filled)}] {share:4.0%} {detail}"
        if self._live:
            self.stream.write("\r" + line.ljust(len(self._last)))
        else:
            self.stream.write(line + "\n")  # logs and pipes get one line per update
        self.stream.flush()
        self._last = line

    def close(self) -> None:
        if self._live:
            self.stream.write("\n")
            self.stream.flush()
