"""12. Beside a C SFU: Janus's VideoRoom (Debian's ``janus``) under the same load as meetbox,
in the same run, each pinned to the server core: CPU per forwarded packet, the largest
clean step, the join to first frame, and the SRTP floor beside both."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import SERVER_CPU, free_port, log, meetbox_server, stop_process
from forwarding import clean, floor, measure_steps

PLUGINS = "/usr/lib/x86_64-linux-gnu/janus"
# Janus's media loops: by default a thread per handle (each subscriber); pinned to one
# core, one shared loop is its best case (its documentation's advice for many handles)
EVENT_LOOPS = int(os.environ.get("BENCH_JANUS_EVENT_LOOPS", "1"))
STEPS = [int(n) for n in os.environ.get("BENCH_JANUS_STEPS", "25,50,100,200").split(",")]

CONFIG = """general: {{
  configs_folder = "{folder}"
  plugins_folder = "{plugins}/plugins"
  transports_folder = "{plugins}/transports"
  events_folder = "{plugins}/events"
  loggers_folder = "{plugins}/loggers"
  debug_level = 2
  session_timeout = 120
  event_loops = {loops}
}}
media: {{
  rtp_port_range = "{low}-{high}"
  ipv6 = false
}}
nat: {{
  ice_enforce_list = "lo"
  ignore_mdns = true
}}
plugins: {{
  disable = "{plugins_off}"
}}
transports: {{
  disable = "{transports_off}"
}}
events: {{
  broadcast = false
}}
"""
HTTP = """general: {{
  json = "plain"
  base_path = "/janus"
  http = true
  port = {port}
  ip = "127.0.0.1"
  https = false
}}
admin: {{
  admin_http = false
}}
"""


def _others(kind: str, keep: str) -> str:
    """Every library of that kind but ``keep``: Janus runs the VideoRoom and HTTP only."""
    names = sorted(p.name for p in Path(PLUGINS, kind).glob("*.so"))
    return ",".join(n for n in names if n != keep)


@contextmanager
def janus_server() -> Iterator[tuple[str, int]]:
    """Janus on a free loopback port with a configuration of its own, pinned to the server
    core as meetbox is; its HTTP API's URL and its pid."""
    binary = shutil.which("janus")
    if binary is None:
        raise RuntimeError("janus is not installed (scripts/bench-deps.sh installs it)")
    port = free_port()
    low = 30000 + (port % 1000) * 20
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "janus.jcfg").write_text(
            CONFIG.format(
                folder=folder, plugins=PLUGINS, low=low, high=low + 9999, loops=EVENT_LOOPS,
                plugins_off=_others("plugins", "libjanus_videoroom.so"),
                transports_off=_others("transports", "libjanus_http.so"),
            )
        )  # fmt: skip
        Path(folder, "janus.transport.http.jcfg").write_text(HTTP.format(port=port))
        Path(folder, "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
        process = subprocess.Popen(
            [binary, "-C", f"{folder}/janus.jcfg", "-F", folder, "--disable-colors"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CPU}),
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_answers(url, process)
            yield url, process.pid
        finally:
            stop_process(process)


def _wait_answers(url: str, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"janus exited with {process.returncode}")
        try:
            request = urllib.request.Request(url + "/janus/info", method="GET")
            with urllib.request.urlopen(request, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)  # Janus is loading its plugins
    raise TimeoutError(f"janus did not answer on {url}")


def janus() -> dict[str, Any]:
    with janus_server() as (url, pid):
        # (the tokens the load generator mints are not used by Janus)
        janus_steps = measure_steps(url, "janus", "x" * 32, pid, backend="janus", counts=STEPS)
    with meetbox_server() as (url, key, secret, pid):
        meetbox_steps = measure_steps(url, key, secret, pid, counts=STEPS)
    both = [
        (m, j)
        for m, j in zip(meetbox_steps, janus_steps, strict=True)
        if clean(m) and clean(j) and m["us_per_packet"] and j["us_per_packet"]
    ]
    compared = max(both, key=lambda pair: pair[0]["subscribers"]) if both else None
    cores = os.sched_getaffinity(0)
    floor_us = floor(receivers=compared[0]["subscribers"]) if compared else None
    os.sched_setaffinity(0, cores)  # floor() pins this process to the server core
    result = {
        "steps": STEPS,
        "janus_steps": janus_steps,
        "meetbox_steps": meetbox_steps,
        "compared_at": compared[0]["subscribers"] if compared else None,
        "floor_us_per_packet": floor_us,
    }
    log(json.dumps({k: v for k, v in result.items() if not k.endswith("_steps")}))
    return result


def keys(j: dict[str, Any]) -> dict[str, Any]:
    at = j["compared_at"]
    m = next((s for s in j["meetbox_steps"] if s["subscribers"] == at), None)
    jj = next((s for s in j["janus_steps"] if s["subscribers"] == at), None)
    top = [s for s in j["janus_steps"] if clean(s)]
    return {
        "janus_us_per_packet": jj["us_per_packet"] if jj else None,
        "janus_max_downtracks_measured": max((s["subscribers"] for s in top), default=0),
        "us_per_packet_vs_janus": (m["us_per_packet"] / jj["us_per_packet"]) if m and jj else None,
        "janus_join_ms_p50": jj["join_ms_p50"] if jj else None,
        "meetbox_join_ms_p50_vs_janus_step": m["join_ms_p50"] if m else None,
        "janus_compared_at": at,
        "janus_floor_us_per_packet": j["floor_us_per_packet"],
    }


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, bool | str | None]]:
    if "janus" not in r or r.get("janus_us_per_packet") is None:
        return []
    j = r["janus"]
    at = r["janus_compared_at"]
    m = next(s for s in j["meetbox_steps"] if s["subscribers"] == at)
    floor_us = r["janus_floor_us_per_packet"]
    return [
        (
            f"CPU per forwarded packet beside Janus (same run, same core, {at} subscribers)",
            f"meetbox {m['us_per_packet']:.1f} µs, Janus {r['janus_us_per_packet']:.1f} µs "
            f"(ratio {r['us_per_packet_vs_janus']:.2f})",
            f"the floor {floor_us:.1f} µs" if floor_us else "",
            "≤ 1.0 (meetbox at or below Janus)",
            r["us_per_packet_vs_janus"] <= 1.0,
        ),
        (
            "CPU per forwarded packet against the SRTP floor, same run",
            f"{m['us_per_packet'] / floor_us:.2f} of the floor" if floor_us else "",
            f"Janus {r['janus_us_per_packet'] / floor_us:.2f}" if floor_us else "",
            "≤ 0.5 (one sendmmsg per slice: not built)",
            bool(floor_us) and m["us_per_packet"] / floor_us <= 0.5,
        ),
        (
            f"join to first frame beside Janus (load generator, p50, {at} subscribers)",
            f"meetbox {m['join_ms_p50']:.0f} ms",
            f"Janus {r['janus_join_ms_p50']:.0f} ms",
            "",
            "(no goal)",
        ),
    ]
