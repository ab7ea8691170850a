"""The forwarding tests run with each fan-out loop: compiled and Python."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meetbox.sfu import fanout


@pytest.fixture(params=["compiled", "python"])
def fanout_loop(request: pytest.FixtureRequest) -> Iterator[fanout.Implementation]:
    if request.param == "compiled" and fanout.COMPILED is None:
        pytest.skip("the compiled fan-out was not built here (no C compiler at install)")
    before = fanout.current().name
    try:
        yield fanout.use(request.param)
    finally:
        fanout.use(before)
