"""Dependencies point down the layers (DESIGN.md); media/ stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "meetbox"
# what each layer may import from meetbox (leaf modules ids/errors are shared)
ALLOWED = {
    "media": {"media"},
    "config": {"config"},
    "sfu": {"media", "config", "sfu", "ids", "errors"},
    "signalling": {"media", "config", "sfu", "signalling", "ids", "errors", "jsonbounds"},
    "recorder": {"media", "config", "sfu", "recorder", "ids", "errors"},
    "store": {"store", "errors", "config", "ids"},
    "web": {"web", "errors", "config", "ids", "store", "signalling", "jsonbounds"},
}
PURE_FORBIDDEN = {"asyncio", "aiohttp", "socketio", "aiortc", "aioice", "sqlite3", "pymongo"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_point_down(layer: str) -> None:
    for path in (ROOT / layer).rglob("*.py"):
        for name in imports(path):
            parts = name.split(".")
            if parts[0] == "meetbox" and len(parts) > 1:
                assert parts[1] in ALLOWED[layer], f"{path.relative_to(ROOT)} imports {name}"


def test_media_is_pure() -> None:
    for path in (ROOT / "media").rglob("*.py"):
        for name in imports(path):
            assert name.split(".")[0] not in PURE_FORBIDDEN, f"{path.name} imports {name}"


def test_aiortc_internals_stay_in_hooks() -> None:
    for path in ROOT.rglob("*.py"):
        if path.name == "hooks.py":
            continue
        text = path.read_text()
        for private in ("._handle_rtp_data", "._send_rtp", "._ssrc", "._nominated", "_RTCRtp"):
            assert private not in text, f"{path.relative_to(ROOT)} uses {private}"


def test_no_module_past_600_lines() -> None:
    for path in ROOT.rglob("*.py"):
        assert len(path.read_text().splitlines()) < 600, path
