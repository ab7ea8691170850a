"""The README's embedding example runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from meetbox.server import EmbeddedServer

README = Path(__file__).resolve().parents[2] / "README.md"


async def test_readme_example_runs(meetbox_server: EmbeddedServer) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    await namespace["test_two_people_meet"](meetbox_server)
