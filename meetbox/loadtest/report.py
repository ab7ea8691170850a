"""What ``meetbox loadtest`` prints: a progress line each second, a summary at the end."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from meetbox.loadtest.runner import LoadResult, LoadSpec, Second
from meetbox.progress import ProgressBar


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


class progress_printer:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.bar = ProgressBar(1.0, "loadtest")

    def second(self, sample: Second, done: float) -> None:
        self.bar.update(
            done,
            f"{sample.joined}/{self.spec.receivers} joined  "
            f"{sample.bitrate_bps / 1e6:.2f} Mbps/sub  {sample.fps:.1f} fps  "
            f"loss {sample.loss * 100:.2f}%  server CPU {_cores(sample.server_cpu)}",
        )

    def close(self) -> None:
        self.bar.close()


def summary(result: LoadResult) -> dict[str, object]:
    p50, p95 = result.percentile_join(50), result.percentile_join(95)
    return {
        "publishers": result.spec.publishers,
        "subscribers": result.spec.receivers,
        "meeting": result.spec.meeting,
        "simulcast": result.spec.simulcast,
        "joined": result.joined,
        "join_ms_p50": p50,
        "join_ms_p95": p95,
        "bitrate_bps_per_subscriber": result.bitrate_per_subscriber,
        "fps_per_subscriber": result.fps_per_subscriber,
        "loss": result.loss,
        "packets_per_second": result.packets_per_second,
        "server_cores": result.server_cores,
        "window_seconds": result.window_seconds,
        "errors": result.errors,
    }


def print_summary(result: LoadResult, out: TextIO) -> None:
    s = summary(result)
    join = (
        f"p50 {s['join_ms_p50']:.0f} ms, p95 {s['join_ms_p95']:.0f} ms (to first video packet)"
        if result.join_ms
        else "n/a"
    )
    lines = [
        f"subscribers joined   {result.joined}/{result.spec.receivers}",
        f"join time            {join}",
        f"received bitrate     {result.bitrate_per_subscriber / 1e6:.3f} Mbps per subscriber",
        f"frame rate           {result.fps_per_subscriber:.1f} fps per subscriber",
        f"packet loss          {result.loss * 100:.3f}%",
        f"packets received     {result.packets_per_second:.0f} per second (all subscribers)",
        f"server CPU           {_cores(result.server_cores)} of a core",
    ]
    lines += [f"error                {e}" for e in result.errors[:10]]
    out.write("\n".join(lines) + "\n")


def write_json(result: LoadResult, path: Path) -> None:
    body = {"summary": summary(result), "seconds": [asdict(s) for s in result.seconds]}
    path.write_text(json.dumps(body, indent=2) + "\n")
