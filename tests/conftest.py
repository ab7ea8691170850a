from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

logging.getLogger("aioice").setLevel(logging.WARNING)
logging.getLogger("aiortc").setLevel(logging.WARNING)

# what a server log must never hold after a test: a traceback, a task whose exception
# nobody read, or an event that ended in an internal error
NEVER = ("Traceback (most recent call last)", "exception was never retrieved")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-examples",
        default="300",
        help="examples per property-based fuzz test (bounded in make test; raise it to "
        "fuzz longer)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tracebacks_expected(reason): the test makes the server fail on purpose; its log "
        "may hold tracebacks",
    )


def _offending(record: logging.LogRecord) -> bool:
    if record.exc_info or record.exc_text:
        return True
    message = record.getMessage()
    if any(text in message for text in NEVER):
        return True
    return record.name == "meetbox.signalling.dispatch" and record.levelno >= logging.ERROR


@pytest.fixture(autouse=True)
def _no_traceback_in_the_log(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Fails a test whose run left a traceback (or an internal error) in the log."""
    yield
    if request.node.get_closest_marker("tracebacks_expected"):
        return
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    bad = [r for r in records if _offending(r)]
    if bad:
        shown = "\n".join(f"{r.name}: {r.getMessage()[:300]}" for r in bad[:5])
        pytest.fail(f"the log holds {len(bad)} traceback(s) or internal error(s):\n{shown}")
