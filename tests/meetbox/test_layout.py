"""Dependencies point down the layers (DESIGN.md), read from every module's imports.

Every ``import`` and ``from ... import`` of every module in the package counts, those
under ``if TYPE_CHECKING:`` and inside functions included.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "meetbox"
LEAVES = {"errors", "ids", "text", "jsonbounds", "logs"}  # shared by every layer
# what each layer may import from meetbox, beside itself and the leaves
ALLOWED: dict[str, set[str]] = {
    "media": set(),
    "config": set(),
    "errors": set(),
    "ids": set(),
    "text": set(),
    "jsonbounds": set(),
    "logs": set(),
    "sfu": {"media", "config"},
    "recorder": {"media", "config", "sfu"},
    # engines and their worker processes: nothing of the rooms, the SFU or the web
    "speech": set(),
    "store": {"config"},
    "auth": {"config"},
    "rtc": {"media", "config", "sfu", "auth"},
    "services": {"media", "config", "sfu", "recorder", "store", "auth", "rtc", "speech"},
    "signalling": {"media", "config", "sfu", "auth", "rtc"},
    "web": {
        "config",
        "store",
        "auth",
        "rtc",
        "services",
        "signalling",
        "recorder",
        "speech",
        "cluster",
    },
    # placement, the gateway and the workers' protocol: nothing of the rooms or the web
    "cluster": {"config", "auth"},
    "tracks": {"media"},
    "client": {"media", "sfu", "config"},
    "loadtest": {"media", "sfu", "auth", "client", "tracks", "progress", "runtime"},
    "progress": set(),
    "runtime": set(),
}
WIRING = {
    "__init__",
    "__main__",
    "app",
    "cli",
    "server",
    "pytest_plugin",
    "serving",
    "supervisor",
}
PURE_FORBIDDEN = {"asyncio", "aiohttp", "socketio", "aiortc", "aioice", "sqlite3", "pymongo"}
# the one cycle allowed: a down-track knows its up-track and the up-track its down-tracks
ALLOWED_CYCLES = {frozenset({"meetbox.sfu.downtrack", "meetbox.sfu.uptrack"})}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> set[str]:
    """Every meetbox module ``path`` imports (``from meetbox.x import y`` names ``y`` when
    it is a module, else ``meetbox.x``)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name == "meetbox" or name.startswith("meetbox.")}


MODULES = {module_name(p) for p in ROOT.rglob("*.py")}
GRAPH = {module_name(p): imported(p) for p in ROOT.rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = {layer(m) for m in MODULES} - set(ALLOWED) - WIRING
    assert not unknown, f"add these to the layer map: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_layer_imports_point_down(name: str) -> None:
    allowed = {name, *ALLOWED[name], *LEAVES}
    for module, targets in GRAPH.items():
        if layer(module) != name:
            continue
        for target in targets:
            assert target != "meetbox" or name in WIRING, f"{module} imports the package"
            assert layer(target) in allowed, f"{module} imports {target}"


def test_only_the_wiring_imports_web() -> None:
    for module, targets in GRAPH.items():
        if any(layer(t) == "web" for t in targets):
            assert layer(module) in WIRING | {"web"}, f"{module} imports web"


def test_no_import_cycle_but_a_down_track_knowing_its_up_track() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in GRAPH.items():
        edges[module] |= {t for t in targets if t in MODULES and t != module}
    # Tarjan's strongly connected components: each one of more than a module is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(frozenset(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert not [c for c in cycles if c not in ALLOWED_CYCLES], cycles


def test_media_is_pure() -> None:
    for path in (ROOT / "media").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in PURE_FORBIDDEN, f"{path.name} imports {name}"


PRIVATE = (
    "._handle_rtp_data",
    "._handle_rtcp_data",
    "._send_rtp",
    "._send_rtcp",
    "._send_keyframe =",
    "._ssrc",
    "._codecs",
    ".transport._connection",
    "._nominated",
    "_RTCRtp",
    "pylibsrtp._binding",
)


def test_aiortc_internals_stay_in_their_package() -> None:
    """Only meetbox/sfu/aiortc/ touches aiortc's private API: no other module, no test."""
    boundary = ROOT / "sfu" / "aiortc"
    for path in [*ROOT.rglob("*.py"), *(ROOT.parent / "tests").rglob("*.py")]:
        if boundary in path.parents or path == Path(__file__).resolve():
            continue
        text = path.read_text()
        for private in PRIVATE:
            assert private not in text, f"{path.relative_to(ROOT.parent)} uses {private}"


def test_no_module_past_500_lines() -> None:
    for path in ROOT.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_LINES, f"{path.relative_to(ROOT)}: {lines} lines"
