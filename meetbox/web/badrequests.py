"""A malformed HTTP request is the client's fault: one warning line, not a traceback.

aiohttp's protocol handler logs a request it cannot parse (a NUL in a header, a broken
request line) with ``logger.exception`` on ``aiohttp.server``, and answers 400 itself.
This filter rewrites those records into one line at WARNING without the traceback;
every other record passes unchanged.
"""

from __future__ import annotations

import logging

from aiohttp import http_exceptions

LOGGER = "aiohttp.server"


class BadRequestFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, http_exceptions.HttpProcessingError):
            reason = " ".join(str(exc.message or type(exc).__name__).split())[:160]
            original = record.getMessage()
            record.msg = "%s (answered %s: %s)"
            record.args = (original, exc.code or 400, reason)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


def install() -> None:
    """Adds the filter to aiohttp's server logger once."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(f, BadRequestFilter) for f in logger.filters):
        logger.addFilter(BadRequestFilter())
