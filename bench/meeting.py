"""10. A large meeting: everyone publishes simulcast video and receives everyone, in a
gallery (small tiles) and a speaker view (one large tile), beside the same meeting without
simulcast; and how long a layer switch takes after a tile changes size."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
from functools import partial
from pathlib import Path
from typing import Any

from common import FPS, LOAD_CPU, MAX_LOSS, cpu_axes, log, meetbox_server, wait_server_idle

from meetbox.loadtest import procstat
from meetbox.loadtest.layerprobe import SWITCH_TIMEOUT, layer_switches
from meetbox.loadtest.runner import LoadResult, LoadSpec, run_load, simulcast_layers
from meetbox.progress import ProgressBar

GALLERY_STEPS = [int(n) for n in os.environ.get("BENCH_MEETING_STEPS", "10,20,30,40").split(",")]
COMPARED_AT = 10  # participants: the meeting with and without simulcast
# the layer switches are timed under the meeting of COMPARED_AT (under the larger ones the
# probe's own 1.5 Mbit/s viewer, on the load core, made the load generator drop packets)
PROBE_AT = COMPARED_AT if COMPARED_AT in GALLERY_STEPS else GALLERY_STEPS[0]
WINDOW = 12.0
TOP = (1280, 720, 1_500_000)  # the camera's top layer: size and bitrate
SWITCHES = 10  # tile size changes the probe makes (half up, half down)


def _spec(url: str, key: str, secret: str, pid: int, room: str, n: int, **kw: Any) -> LoadSpec:
    width, height, bitrate = TOP
    return LoadSpec(
        url=url, api_key=key, api_secret=secret, room=room, meeting=n, width=width,
        height=height, bitrate=bitrate, fps=FPS, duration=WINDOW, join_timeout=150,
        server_pid=pid, worker_cpus=(LOAD_CPU,), **kw,
    )  # fmt: skip


def downtracks(spec: LoadSpec) -> int:
    """Videos, and the talkers' audio to the others."""
    n = spec.meeting
    return n * (n - 1) + spec.talkers * (n - 1)


def _step(result: LoadResult, before: tuple[int, int] | None, rss: int | None) -> dict[str, Any]:
    """``before``: (server RSS, down-tracks) of the smaller meeting before this one, for
    the memory each added down-track takes (the server keeps what it once held)."""
    spec = result.spec
    n = spec.meeting
    added = downtracks(spec) - before[1] if before else 0
    seconds = result.window_seconds or 1.0
    return {
        "participants": n,
        "view": spec.view,
        "simulcast": spec.simulcast,
        "joined": result.joined,
        "server_cores": result.server_cores,
        "loss": result.loss,
        "fps_per_video": result.fps_per_subscriber / max(n - 1, 1),
        "downstream_bps_per_participant": result.bitrate_per_subscriber,
        "downstream_bytes_per_s": result.window.bytes / seconds,
        "packets_per_second": result.window.expected / seconds,
        "us_per_packet": (result.server_cpu_s or 0) / result.window.expected * 1e6
        if result.window.expected
        else None,
        "server_rss_mb": rss / 2**20 if rss else None,
        "rss_kb_per_downtrack": (rss - before[0]) / 1024 / added
        if rss and before and added > 0
        else None,
        "join_ms_p50": result.percentile_join(50),
        "errors": result.errors[:3],
    }


def _clean(step: dict[str, Any]) -> bool:
    return (
        step["joined"] == step["participants"]
        and step["loss"] <= MAX_LOSS
        and abs(step["fps_per_video"] - FPS) <= 0.1 * FPS
        and not step["errors"]
    )


def _probe_thread(url: str, key: str, secret: str, out: list[float]) -> threading.Thread:
    def run() -> None:
        os.sched_setaffinity(0, {LOAD_CPU})  # this thread only: off the server's core
        width, height, bitrate = TOP
        spec = LoadSpec(url=url, api_key=key, api_secret=secret, width=width, height=height,
                        bitrate=bitrate, fps=FPS)  # fmt: skip
        layers = list(simulcast_layers(spec))
        out.extend(asyncio.run(layer_switches(url, key, secret, "switch", layers, SWITCHES)))

    return threading.Thread(target=run, name="layer-switch-probe", daemon=True)


# -- the runs -----------------------------------------------------------------------------


def _run(
    spec: LoadSpec, label: str, before: tuple[int, int] | None = None, on_window: Any = None
) -> dict[str, Any]:
    bar = ProgressBar(1.0, label)
    result = run_load(spec, partial(_show, bar), on_window)
    bar.close()
    step = _step(result, before, procstat.rss_bytes(spec.server_pid or 0))
    log(json.dumps(step))
    return step


def _show(bar: ProgressBar, sample: Any, done: float) -> None:
    bar.update(done, f"loss {sample.loss:.2%}")


def meeting() -> dict[str, Any]:
    gallery: list[dict[str, Any]] = []
    switch_ms: list[float] = []
    with meetbox_server() as (url, key, secret, pid):
        idle = procstat.rss_bytes(pid)
        before = (idle, 0) if idle else None
        spec = partial(_spec, url, key, secret, pid)
        for n in GALLERY_STEPS:
            wait_server_idle(pid)
            probe: threading.Thread | None = None

            def start_probe(started: bool, n: int = n) -> None:
                nonlocal probe
                if started and n == PROBE_AT and probe is None:
                    probe = _probe_thread(url, key, secret, switch_ms)
                    probe.start()

            step_spec = spec(f"gallery-{n}", n, simulcast=True)
            step = _run(step_spec, f"meeting {n:>2}, gallery, simulcast", before, start_probe)
            rss = procstat.rss_bytes(pid)
            before = (rss, downtracks(step_spec)) if rss else None
            if probe is not None:
                probe.join(SWITCHES * (1.5 + SWITCH_TIMEOUT) + 60)
            gallery.append(step)
            if not _clean(step):
                break
        top = max((s for s in gallery if _clean(s)), key=lambda s: s["participants"], default=None)
        speaker_n = top["participants"] if top else COMPARED_AT
        wait_server_idle(pid)
        speaker = _run(
            spec(f"speaker-{speaker_n}", speaker_n, simulcast=True, view="speaker"),
            f"meeting {speaker_n:>2}, speaker, simulcast",
        )
        compared: dict[str, Any] = {}
        for view in ("gallery", "speaker"):
            wait_server_idle(pid)
            compared[f"{view}_simulcast"] = (
                next(s for s in gallery if s["participants"] == COMPARED_AT)
                if view == "gallery" and COMPARED_AT in GALLERY_STEPS
                else _run(
                    spec(f"{view}-sim-{COMPARED_AT}", COMPARED_AT, simulcast=True, view=view),
                    f"meeting {COMPARED_AT}, {view}, simulcast",
                )
            )
            wait_server_idle(pid)
            compared[f"{view}_plain"] = _run(
                spec(f"{view}-plain-{COMPARED_AT}", COMPARED_AT, view=view),
                f"meeting {COMPARED_AT}, {view}, no simulcast",
            )
    return {
        "gallery_steps": gallery,
        "speaker": speaker,
        "compared": compared,
        "switch_ms": switch_ms,
        "top": top,
    }


def keys(m: dict[str, Any]) -> dict[str, Any]:
    top = m["top"]
    c = m["compared"]

    def ratio(view: str) -> float | None:
        plain = c[f"{view}_plain"]["downstream_bytes_per_s"]
        simulcast = c[f"{view}_simulcast"]["downstream_bytes_per_s"]
        return plain / simulcast if simulcast else None

    projected = None
    if top and top["server_cores"]:
        # down-tracks grow as n^2: the n at which the server would use the whole core
        projected = int(top["participants"] * (1 / top["server_cores"]) ** 0.5)
    return {
        "meeting_max_participants_per_core": top["participants"] if top else 0,
        "meeting_participants_projected_per_core": projected,
        "meeting_downstream_ratio_gallery": ratio("gallery"),
        "meeting_downstream_ratio_speaker": ratio("speaker"),
        "meeting_server_cores_ratio_gallery": (
            c["gallery_plain"]["server_cores"] / c["gallery_simulcast"]["server_cores"]
            if c["gallery_simulcast"]["server_cores"]
            else None
        ),
        "layer_switch_ms_p50": statistics.median(m["switch_ms"]) if m["switch_ms"] else None,
        "layer_switch_ms_max": max(m["switch_ms"]) if m["switch_ms"] else None,
    }


def plot(m: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = m["gallery_steps"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=120)
    left.plot(
        [s["participants"] for s in steps],
        [(s["server_cores"] or 0) * 100 for s in steps],
        "o-",
        label="server CPU (gallery, simulcast)",
    )
    xlabel = "participants, all publishing and receiving all"
    cpu_axes(left, xlabel, "A meeting on one core", "upper left")
    c = m["compared"]
    labels = ["gallery", "speaker"]
    plain = [c[f"{v}_plain"]["downstream_bps_per_participant"] / 1e6 for v in labels]
    simulcast = [c[f"{v}_simulcast"]["downstream_bps_per_participant"] / 1e6 for v in labels]
    x = range(len(labels))
    right.bar([i - 0.2 for i in x], plain, 0.4, label="one 1280x720 stream", color="tab:red")
    right.bar([i + 0.2 for i in x], simulcast, 0.4, label="simulcast + tile sizes")
    right.set_xticks(list(x), labels)
    right.set_ylabel(f"Mbit/s received per participant ({COMPARED_AT} people)")
    right.legend(fontsize=8)
    right.grid(alpha=0.3, axis="y")
    right.set_title("Downstream per participant")
    fig.tight_layout()
    fig.savefig(path)


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, bool | None]]:
    """The summary table's rows (none before the meeting was measured)."""
    m = r.get("meeting")
    if not m:
        return []
    top = m["top"] or {}
    c = m["compared"]
    gallery = r["meeting_downstream_ratio_gallery"]
    switch = r["layer_switch_ms_p50"]
    return [
        (
            "large meeting on one core (all publish simulcast, all receive all, gallery)",
            f"{r['meeting_max_participants_per_core']} participants measured "
            f"({(top.get('server_cores') or 0) * 100:.0f}% of the core, loss "
            f"{(top.get('loss') or 0) * 100:.2f}%); "
            f"{r['meeting_participants_projected_per_core']} projected",
            f"{top.get('participants', 0) * (top.get('participants', 1) - 1)} video down-tracks",
            "≥ 30, loss ≤ 0.5%",
            r["meeting_max_participants_per_core"] >= 30,
        ),
        (
            f"downstream, gallery of {COMPARED_AT}, simulcast against one stream",
            f"{c['gallery_simulcast']['downstream_bps_per_participant'] / 1e6:.2f} Mbit/s "
            f"per participant",
            f"{c['gallery_plain']['downstream_bps_per_participant'] / 1e6:.2f} Mbit/s "
            f"without ({gallery:.1f}{chr(0xD7)} lower; speaker view "
            f"{r['meeting_downstream_ratio_speaker']:.1f}{chr(0xD7)})",
            f"≥ 3{chr(0xD7)} lower",
            gallery is not None and gallery >= 3,
        ),
        (
            "layer switch after a tile's size changes",
            f"p50 {switch:.0f} ms, max {r['layer_switch_ms_max']:.0f} ms"
            if switch is not None
            else "not measured",
            f"{len(m['switch_ms'])} switches under the {PROBE_AT}-person meeting",
            "≤ 500 ms",
            None if switch is None else switch <= 500,
        ),
    ]


def section(r: dict[str, Any]) -> str:
    m = r.get("meeting")
    if not m:
        return ""

    def row(s: dict[str, Any]) -> str:
        cores = (s["server_cores"] or 0) * 100
        per_packet = s["us_per_packet"]
        per_kb = s["rss_kb_per_downtrack"]
        return (
            f"| {s['participants']} | {s['view']} | {'yes' if s['simulcast'] else 'no'} "
            f"| {s['joined']} | {cores:.0f}% | {s['packets_per_second']:.0f} "
            f"| {per_packet:.1f} | {s['loss'] * 100:.2f}% | {s['fps_per_video']:.1f} "
            f"| {s['downstream_bps_per_participant'] / 1e6:.2f} "
            f"| {s['server_rss_mb'] or 0:.0f} | {'' if per_kb is None else f'{per_kb:.0f}'} |"
            if per_packet is not None
            else f"| {s['participants']} | {s['view']} | | {s['joined']} | | | | | | | | |"
        )

    c = m["compared"]
    runs = [*m["gallery_steps"], m["speaker"], *(c[k] for k in sorted(c))]
    seen: list[dict[str, Any]] = []
    for s in runs:
        if s not in seen:
            seen.append(s)
    table = "\n".join(row(s) for s in seen)
    head = (
        "| participants | view | simulcast | joined | server CPU | packets/s out | µs/packet "
        "| loss | fps per video | Mbit/s in per participant | server RSS MB "
        "| RSS KB per down-track |\n|" + "---|" * 12
    )
    switches = ", ".join(f"{t:.0f}" for t in m["switch_ms"])
    return f"""## A large meeting (`bench/meeting.py`; plot `bench/meeting.png`)

Every participant publishes video and receives everyone else's; two of them talk (publish
Opus), the others' microphones are off. With simulcast each camera is three VP8 layers
sent as Chrome sends them (RIDs q, h, f: 320x180 at 150 kbit/s, 640x360 at 500 kbit/s,
1280x720 at 1.5 Mbit/s), without it the 1280x720 one alone. Each participant tells the
server its tiles' sizes as the page does (`track_settings`): the gallery shows everyone
at 320x180, the speaker view one participant at 1280x720 and the others at 160x90.
Layers nobody receives are paused at the publisher (dynacast). The load generator's
participants all run in one process on the load core; the largest meeting it measures is
the load side's limit, and the projection (down-tracks grow as the square of the
participants) is where the server's own core would be full.

{head}
{table}

Layer switches: a viewer's tile goes from 320x180 to 1280x720 and back, every 1.5 s, in a
room of its own on the server while the {PROBE_AT}-person meeting runs; timed from the
`track_settings` sent to the new layer's first keyframe received: {switches} ms.
"""
