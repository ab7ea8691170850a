"""``make bench``: meetbox's forwarding cost beside the MediaRelay baseline and the SRTP
floor, join time, signalling fan-out beside a bare python-socketio server; writes
bench/results.json, bench/results.md and bench/*.png. The server runs pinned to core 0,
the load on core 1."""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import captions as speech_bench
import janus as janus_bench
import meeting as meeting_bench
import translation as s2s_bench
import workers as workers_bench
from common import HERE, LOAD_CPU, SERVER_CPU, event_loop, fanout_loop, log, machine
from forwarding import baseline, floor, forwarding, plot, top_step
from latency import latency
from recording import recording
from signalling import fanout, join_time


def section_only(name: str) -> None:
    """``run.py --captions`` / ``--translation`` / ``--meeting`` / ``--workers`` / ``--janus``: that
    again, into the committed results (the rest of the run stays as it was measured)."""
    results = json.loads((HERE / "results.json").read_text())
    if name == "captions":
        cap = speech_bench.captions()
        results.update(speech_bench.keys(cap), captions=cap)
    elif name == "janus":
        jan = janus_bench.janus()
        results.update(janus_bench.keys(jan), janus=jan)
    elif name == "workers":
        wrk = workers_bench.workers()
        results.update(workers_bench.keys(wrk), workers=wrk)
    elif name == "meeting":
        met = meeting_bench.meeting()
        results.update(meeting_bench.keys(met), meeting=met)
        meeting_bench.plot(met, HERE / "meeting.png")
    else:
        s2s = s2s_bench.translation()
        results.update(s2s_bench.keys(s2s), translation=s2s)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(markdown(results))
    log((HERE / "results.md").read_text())


def render() -> None:
    """Write bench/results.md again from bench/results.json (``run.py --render``), and the
    fields derived from the measures."""
    results = json.loads((HERE / "results.json").read_text())
    results["added_latency_fair"] = latency_fair(results["latency_levels"])
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "results.md").write_text(markdown(results))


def latency_fair(levels: list[dict[str, Any]]) -> bool:
    """Whether the load generator held the 50% level (every subscriber, 30 fps)."""
    half = next(level for level in levels if level["fraction"] == 0.5)
    return not half.get("load_errors")


def main() -> None:
    started = time.monotonic()
    log("1/12 forwarding cost and capacity")
    fwd = forwarding()
    top = top_step(fwd)
    per_downtrack = top["server_cores"] / top["subscribers"]
    log("2/12 added latency at 0, 25, 50 and 75% of that capacity")
    lat = latency(per_downtrack)
    half = next(level for level in lat["levels"] if level["fraction"] == 0.5)
    log("3/12 MediaRelay baseline")
    base = baseline()
    log("4/12 the SRTP floor")
    floor_us = floor(receivers=top["subscribers"])
    floor_local_us = floor()
    log("5/12 join time")
    joins = join_time()
    log("6/12 signalling fan-out")
    fan = fanout()
    log("7/12 recording cost beside aiortc's MediaRecorder")
    rec = recording()
    log("8/12 captions: engines, latency, CPU per speaker, forwarding beside them")
    cap = speech_bench.captions()
    log("9/12 speech translation: latency and CPU of a session")
    s2s = s2s_bench.translation()
    log("10/12 a large meeting: simulcast and tile sizes, layer switches")
    met = meeting_bench.meeting()
    log("11/12 every core: rooms on two workers beside one, joins through another worker")
    wrk = workers_bench.workers()
    log("12/12 beside Janus: the same load, the same core")
    jan = janus_bench.janus()

    base_top = max(base["steps"], key=lambda s: s["subscribers"])
    q = statistics.quantiles(joins, n=20, method="inclusive")
    results: dict[str, Any] = {
        "us_per_packet": top["us_per_packet"],
        "floor_us_per_packet": floor_us,
        "floor_local_sink_us_per_packet": floor_local_us,
        "baseline_cpu_per_substream": base_top["cpu_per_substream"],
        "meetbox_cpu_per_substream": per_downtrack,
        "max_downtracks_per_core": int(1 / per_downtrack),
        "max_downtracks_measured": top["subscribers"],
        "loss_at_max": top["loss"],
        "join_ms_p50": statistics.median(joins),
        "join_ms_p95": q[18],
        "added_latency_ms_p50": half["p50_ms"],
        "added_latency_ms_p99": half["p99_ms"],
        "added_latency_fair": latency_fair(lat["levels"]),
        "latency_levels": lat["levels"],
        "event_loop": event_loop(),
        "fanout_loop": fanout_loop(),
        "record_cpu_s_per_min": rec["record_cpu_s_per_min"],
        "baseline_record_cpu_s_per_min": rec["baseline_record_cpu_s_per_min"],
        "record_cost_ratio_vs_baseline": (
            rec["baseline_record_cpu_s_per_min"] / rec["record_cpu_s_per_min"]
            if rec["record_cpu_s_per_min"]
            else None
        ),
        "recording": rec,
        "fanout_ratio_vs_bare": fan["bare_msgs_per_s"] / fan["meetbox_msgs_per_s"],
        "fanout_msgs_per_s": fan["meetbox_msgs_per_s"],
        "fanout_bare_msgs_per_s": fan["bare_msgs_per_s"],
        "substream_cost_ratio_vs_baseline": base_top["cpu_per_substream"] / per_downtrack,
        "us_per_packet_ratio_vs_floor": top["us_per_packet"] / floor_us,
        "machine": machine(),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "forwarding_steps": fwd["steps"],
        "baseline_steps": base["steps"],
        "join_ms": joins,
        **speech_bench.keys(cap),
        "captions": cap,
        **s2s_bench.keys(s2s),
        "translation": s2s,
        **meeting_bench.keys(met),
        "meeting": met,
        **workers_bench.keys(wrk),
        "workers": wrk,
        **janus_bench.keys(jan),
        "janus": jan,
        "bench_seconds": time.monotonic() - started,
    }
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(fwd, base, HERE / "cpu-vs-subscribers.png")
    meeting_bench.plot(met, HERE / "meeting.png")
    (HERE / "results.md").write_text(markdown(results))
    log((HERE / "results.md").read_text())


def latency_row(
    levels: list[dict[str, Any]], idle: dict[str, Any]
) -> tuple[str, str, str, str, bool | None]:
    """The summary's latency line: the 50% level, unless the load generator could not
    hold it (then that says so, and the largest level it held is given beside)."""
    half = next(level for level in levels if level["fraction"] == 0.5)
    value = f"p50 {half['p50_ms']:.2f} ms, p99 {half['p99_ms']:.2f} ms"
    beside = f"idle server: p50 {idle['p50_ms']:.2f} ms, p99 {idle['p99_ms']:.2f} ms"
    good: bool | None = half["p99_ms"] < 10
    if half.get("load_errors"):
        held = [level for level in levels if level["fraction"] > 0 and not level.get("load_errors")]
        value = (
            f"not a fair test: {half['subscribers']} subscribers are past the load generator "
            f"({value} with {half['load_fps']:.1f} fps received)"
        )
        if held:
            top = held[-1]
            beside = (
                f"at {top['fraction'] * 100:.0f}% ({top['subscribers']} subscribers): "
                f"p50 {top['p50_ms']:.2f} ms, p99 {top['p99_ms']:.2f} ms; {beside}"
            )
        good = None
    return ("added latency at 50% of capacity", value, beside, "p99 < 10 ms at 50%", good)


def _s(value: float | None, unit: str = " s") -> str:
    return "n/a" if value is None else f"{value:.2f}{unit}"


def caption_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, bool | None]]:
    if "captions" not in r:
        return []
    p50, p95 = r["caption_final_latency_s_p50"], r["caption_final_latency_s_p95"]
    interim = r["caption_first_interim_s_p50"]
    ratio = r["captions_forwarding_ratio"]
    return [
        (
            "caption word error rate (espeak-ng, 8 sentences)",
            f"{r['caption_wer']:.3f} (Whisper tiny.en, RTF {r['caption_rtf']:.2f})",
            f"Whisper base {r['caption_wer_base']:.3f} (RTF {r['caption_rtf_base']:.2f})",
            "loosely bounded",
            None if r["caption_wer"] is None else r["caption_wer"] <= 0.3,
        ),
        (
            "final caption after the utterance ends",
            f"p50 {_s(p50)}, p95 {_s(p95)}",
            "1 speaker, at another participant",
            "p50 < 1.0 s",
            None if p50 is None else p50 < 1.0,
        ),
        (
            "first interim text after speech starts",
            f"p50 {_s(interim)}",
            "1 speaker",
            "p50 < 1.0 s",
            None if interim is None else interim < 1.0,
        ),
        (
            "speech worker CPU per concurrent speaker",
            f"{r['caption_cpu_per_speaker']:.2f} of a core",
            f"worker RSS {r['caption_worker_rss_mb']:.0f} MB (one model, one process)",
            "≤ 0.3",
            r["caption_cpu_per_speaker"] <= 0.3,
        ),
        (
            "forwarding cost with captions running",
            f"{_s(r['us_per_packet_with_captions'], ' µs')}",
            f"without {_s(r['us_per_packet_without_captions'], ' µs')} (ratio {_s(ratio, '')})",
            "unchanged within noise (≤ 1.1)",
            None if ratio is None else ratio <= 1.1,
        ),
    ]


def translation_rows(r: dict[str, Any]) -> list[tuple[str, str, str, str, bool | None]]:
    if "translation" not in r:
        return []
    t = r["translation"]
    p50 = r["s2s_latency_s_p50"]
    return [
        (
            "speech translation: end of a sentence to its translation heard",
            f"p50 {_s(p50)}, p95 {_s(r['s2s_latency_s_p95'])} "
            f"({t['heard']} of {t['utterances']} sentences)",
            f"{r['s2s_cpu_per_session']:.2f} of a core per session (server, speech and "
            "synthesis workers); a local LibreTranslate-speaking engine, espeak-ng's voice",
            "p50 < 2.5 s",
            None if p50 is None else p50 < 2.5,
        ),
        (
            "forwarding cost beside a speaking translation session",
            f"{_s(t.get('us_per_packet_speaking'), ' µs')}",
            f"the session silent {_s(t.get('us_per_packet_silent'), ' µs')} (200 subscribers)",
            "unchanged within noise (≤ 1.1)",
            None
            if not (t.get("us_per_packet_speaking") and t.get("us_per_packet_silent"))
            else t["us_per_packet_speaking"] / t["us_per_packet_silent"] <= 1.1,
        ),
    ]


def caption_section(r: dict[str, Any]) -> str:
    if "captions" not in r:
        return ""
    rows = "\n".join(
        f"| {lv['speakers']} | {lv['utterances']} | {lv['finals']} "
        f"| {_s(lv['final_latency_s_p50'])} | {_s(lv['final_latency_s_p95'])} "
        f"| {_s(lv['first_interim_s_p50'])} | {lv['worker_cpu_per_speaker']:.2f} "
        f"| {lv['server_cpu_cores']:.3f} | {', '.join(f'{m:.0f}' for m in lv['worker_rss_mb'])} |"
        for lv in r["captions"]["live"]
    )
    header = (
        "| speakers | utterances | finals | final p50 | final p95 | first interim p50 "
        "| worker CPU per speaker | server CPU (cores) | worker RSS (MB) |"
    )
    return f"""## Captions (espeak-ng speech through aiortc, the default engine, one worker)

{header}
|---|---|---|---|---|---|---|---|---|
{rows}

Each speaker says sentences with 1.2 s pauses; latencies are from the end (or start) of
the voice in the sentence as sent (espeak-ng's padding of silence left out) to the first
final (or any text) at another participant.
The speech worker runs on the load core (`speech.cpus`), off the forwarding core; its
CPU is the worker process's, the server's is the forwarding process's. The forwarding
cost beside captions is a 200-subscriber step while two speakers talk in another room,
measured with their captions off, on, and off again (the two "off" averaged).
"""


def markdown(r: dict[str, Any]) -> str:
    def ok(good: bool | str | None) -> str:
        if isinstance(good, str):
            return good  # a row without a goal
        if good is None:
            return "**not measured**"
        return "met" if good else "**not met**"

    rows = "\n".join(
        f"| {s['subscribers']} | {s['server_cores'] * 100:.0f}% | {s['packets_per_second']:.0f} "
        f"| {s['us_per_packet']:.1f} | {s['loss'] * 100:.2f}% | {s['fps']:.1f} "
        f"| {s['bitrate_bps'] / 1e6:.2f} |"
        for s in r["forwarding_steps"]
    )
    base_rows = "\n".join(
        f"| {s['subscribers']} | {s['server_cores'] * 100:.0f}% | {s['cpu_per_substream']:.4f} "
        f"| {s['fps']:.1f} |"
        for s in r["baseline_steps"]
    )

    def load_note(level: dict[str, Any]) -> str:
        if not level["subscribers"]:
            return "idle"
        note = f"{level['load_fps']:.1f} fps, loss {level['load_loss'] * 100:.2f}%"
        if level["subscribers"] > r["max_downtracks_measured"]:
            note += "; past the load generator's largest clean step"
        if any("did not settle" in e for e in level.get("load_errors", [])):
            note += "; the frame rate had not settled at 30 fps"
        lost = [e for e in level.get("load_errors", []) if "lost their connection" in e]
        return note + "".join(f"; {e}" for e in lost)

    lat_rows = "\n".join(
        f"| {lv['fraction'] * 100:.0f}% | {lv['subscribers']} | {lv['samples']} "
        f"| {lv['p50_ms']:.2f} ms | {lv['p99_ms']:.2f} ms | {load_note(lv)} |"
        for lv in r["latency_levels"]
    )
    times = "\u00d7"  # the multiplication sign
    lat0 = r["latency_levels"][0]
    measures = [
        (
            "CPU per forwarded RTP packet",
            f"{r['us_per_packet']:.1f} µs",
            f"floor {r['floor_us_per_packet']:.1f} µs "
            f"(ratio {r['us_per_packet_ratio_vs_floor']:.2f}; to a same-process sink "
            f"{r['floor_local_sink_us_per_packet']:.1f} µs); LiveKit ≈ 26 µs",
            f"≤ 15 µs, ≤ 2{times} floor",
            r["us_per_packet"] <= 15 and r["us_per_packet_ratio_vs_floor"] <= 2,
        ),
        (
            "CPU per subscriber-stream",
            f"{r['meetbox_cpu_per_substream']:.5f} CPU-s/s",
            f"MediaRelay {r['baseline_cpu_per_substream']:.4f} "
            f"({times}{r['substream_cost_ratio_vs_baseline']:.0f})",
            f"≥ 50{times} cheaper",
            r["substream_cost_ratio_vs_baseline"] >= 50,
        ),
        (
            "video down-tracks per core",
            f"{r['max_downtracks_per_core']} projected from the cost at "
            f"{r['max_downtracks_measured']} measured (loss {r['loss_at_max'] * 100:.2f}%)",
            "",
            "≥ 400",
            r["max_downtracks_per_core"] >= 400,
        ),
        (
            "join time (to first decoded frame)",
            f"p50 {r['join_ms_p50']:.0f} ms, p95 {r['join_ms_p95']:.0f} ms",
            "",
            "p50 < 300 ms",
            r["join_ms_p50"] < 300,
        ),
        (
            "recording a 1 Mbps VP8 + Opus participant",
            f"{r['record_cpu_s_per_min']:.2f} CPU-s per minute (remux; "
            f"measured on {r['recording']['meetbox_participants']} at once)",
            f"MediaRecorder {r['baseline_record_cpu_s_per_min']:.1f} CPU-s per minute "
            f"(decode + re-encode; {times}{(r['record_cost_ratio_vs_baseline'] or 0):.0f})",
            f"≥ 20{times} cheaper",
            (r["record_cost_ratio_vs_baseline"] or 0) >= 20,
        ),
        (
            "chat fan-out to 200 clients",
            f"{r['fanout_msgs_per_s']:.0f} msg/s",
            f"bare python-socketio {r['fanout_bare_msgs_per_s']:.0f} msg/s "
            f"(ratio {r['fanout_ratio_vs_bare']:.2f})",
            f"≤ 1.2{times}",
            r["fanout_ratio_vs_bare"] <= 1.2,
        ),
        latency_row(r["latency_levels"], lat0),
        *caption_rows(r),
        *translation_rows(r),
        *meeting_bench.rows(r),
        *workers_bench.rows(r),
        *janus_bench.rows(r),
    ]
    summary = "\n".join(
        f"| {name} | {value} | {beside} | {goal} | {ok(good)} |"
        for name, value, beside, goal, good in measures
    )
    return f"""# meetbox benchmark

{r["date"]} on {r["machine"]}. Server pinned to core {SERVER_CPU}, load on core {LOAD_CPU}.
Event loop of the server: {r["event_loop"]}; fan-out loop: {r["fanout_loop"]}.
Written by `make bench` (bench/run.py); plot: `bench/cpu-vs-subscribers.png`.

| measure | meetbox | beside it | goal | |
|---|---|---|---|---|
{summary}

## Forwarding steps (one publisher, 1 Mbps 640x480 VP8, no audio)

| subscribers | server CPU | packets/s out | µs/packet | loss | fps | Mbps/sub |
|---|---|---|---|---|---|---|
{rows}

The load generator runs on the other core: aiortc subscribers that count every SRTP
packet by its clear header as the datagram arrives (no decryption), the publisher in a
process of its own. The subscribers join hidden, as a livestream's viewers: nobody is
told of them, so the one load core does not also carry every viewer's news of every
other viewer joining (with 600 visible viewers that signalling alone saturated it and
three quarters of them lost their connection). Each step is measured once every
subscriber joined and the frame rate settled at 30 fps (a worker that fell behind during
the joins drains its sockets first). The capacity per core is projected from the
measured cost per down-track at the largest clean step (every subscriber joined, 30 fps
± 10%, loss ≤ 0.5%); past it the load side, not the server, is the limit.

The floor is a bare loop on the server core: receive a datagram, SRTP-protect it with
pylibsrtp (AES-256-GCM, the cipher two aiortc peers negotiate) and send it, from one
socket per subscriber to as many sockets of a process on the load core, as meetbox's
packets go. The same loop sending to a socket of its own process, drained between
batches (no delivery to another process), is the second figure.

## Added latency (publisher send → subscriber arrival, same process and clock)

| load | subscribers | packets timed | p50 | p99 | the load as received |
|---|---|---|---|---|---|
{lat_rows}

The probe (one publisher, one subscriber, a room of its own) shares the load core with
the load generator at a higher priority; its numbers include its own receive path. With
the load on a second server instead, the probe's p99 stays under 7 ms at 261 subscribers:
the tail is the loaded server's. Levels past the load generator's largest clean step
({r["max_downtracks_measured"]} subscribers in this run) are not a fair test.

{caption_section(r)}
{meeting_bench.section(r)}
## MediaRelay baseline (decode once, VP8 re-encode per subscriber)

| subscribers | server CPU | CPU-s/s per sub-stream | fps |
|---|---|---|---|
{base_rows}
"""


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:
        render()
    elif sys.argv[1:] in (
        ["--captions"],
        ["--translation"],
        ["--meeting"],
        ["--workers"],
        ["--janus"],
    ):
        section_only(sys.argv[1][2:])
    else:
        main()
