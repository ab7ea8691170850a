"""The cluster tests' fixture: a ``meetbox serve --workers 2`` box, checked for
tracebacks in its log when it stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster.nodes import Node


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[Node]:
    node = Node(tmp_path, "box", workers=2)
    await node.start()
    try:
        yield node
    finally:
        await node.close()
        assert node.tracebacks() == []
