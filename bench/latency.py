"""3. Added latency at 0, 25, 50 and 75% of the measured capacity."""

from __future__ import annotations

import json
import multiprocessing
import statistics
import time
from typing import Any

from common import (
    LOAD_CPU,
    WINDOW,
    log,
    meetbox_server,
    video_load,
    wait_server_idle,
)

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.loadtest.clip import encode_video
from meetbox.loadtest.latency import ProbePlan, run_probe
from meetbox.loadtest.runner import run_load
from meetbox.progress import ProgressBar

# -- 3. added latency -------------------------------------------------------------------------

LATENCY_LEVELS = (0.0, 0.25, 0.5, 0.75)


def _latency_level(
    url: str, key: str, secret: str, pid: int, subscribers: int
) -> tuple[list[float], dict[str, Any]]:
    def token(identity: str, publish: bool) -> str:
        grant = VideoGrant(room="latency", room_join=True, can_publish=publish)
        return mint_token(key, secret, identity, grant, ttl=600)

    plan = ProbePlan(
        url=url,
        room="latency",
        publisher_token=token("probe-pub", True),
        subscriber_token=token("probe-sub", False),
        clip=encode_video(),
        cpus=(LOAD_CPU,),
        priority=-5,
    )
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    measure, stop = context.Event(), context.Event()
    probe = context.Process(target=run_probe, args=(plan, results, measure, stop), daemon=True)
    probe.start()
    load: dict[str, Any] = {}
    try:
        if subscribers:
            spec = video_load(url, key, secret, pid, f"lat-{subscribers}", subscribers)
            bar = ProgressBar(1.0, f"latency at {subscribers:>3} subscribers")

            def second(sample: Any, done: float) -> None:
                bar.update(done, f"loss {sample.loss:.2%}")

            def window(steady: bool) -> None:  # joined and settled, until they leave
                if steady:
                    measure.set()
                else:
                    measure.clear()

            result = run_load(spec, second, window)
            bar.close()
            load = {
                "load_loss": result.loss,
                "load_fps": result.fps_per_subscriber,
                "load_errors": result.errors,
            }
        else:
            time.sleep(3)  # the probe joins and its first keyframe gets through
            measure.set()
            time.sleep(WINDOW)  # idle server: the reference
        stop.set()
        samples = results.get(timeout=60)
    finally:
        probe.join(10)
        if probe.is_alive():
            probe.kill()
    if isinstance(samples, str):
        raise RuntimeError(samples)
    return [float(ms) for ms in samples], load


def latency(per_downtrack: float) -> dict[str, Any]:
    capacity = 1 / per_downtrack
    levels = []
    with meetbox_server() as (url, key, secret, pid):
        for fraction in LATENCY_LEVELS:
            n = round(capacity * fraction)
            wait_server_idle(pid)
            samples, load = _latency_level(url, key, secret, pid, n)
            q = (
                statistics.quantiles(samples, n=100, method="inclusive")
                if len(samples) > 1
                else [0.0] * 99
            )
            level = {
                "fraction": fraction,
                "subscribers": n,
                "samples": len(samples),
                "p50_ms": statistics.median(samples) if samples else None,
                "p99_ms": q[98] if samples else None,
                **load,
            }
            log(json.dumps(level))
            levels.append(level)
    return {"levels": levels}
