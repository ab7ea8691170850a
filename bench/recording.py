"""7. Recording cost: meetbox's recorder beside aiortc's MediaRecorder on the same stream."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    LOAD_CPU,
    log,
    meetbox_server,
)

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from meetbox.loadtest import procstat
from meetbox.loadtest.clip import encode_audio, encode_video
from meetbox.loadtest.cliptrack import publish_clip
from meetbox.media.rtpcount import RtpCounter

# -- 7. recording cost --------------------------------------------------------------------

RECORD_WINDOW = float(os.environ.get("BENCH_RECORD_WINDOW", "15"))
# meetbox's recorder costs about 1% of a core per participant: it is measured on several
# participants at once, in alternating windows, so that it stands above the noise
RECORD_PARTICIPANTS = 4
RECORD_ROUNDS = 2


async def _recording_client(url: str, token: str, mode: str, folder: str) -> float:
    """CPU seconds this process spends over the window: receiving (``count``: RTP only)
    or receiving, decoding and re-encoding with aiortc's MediaRecorder (``record``)."""
    from aiortc.contrib.media import MediaRecorder

    counter = RtpCounter()
    client = Client(url, token, room="record", rtp_sink=counter if mode == "count" else None)
    await client.connect(timeout=30)
    recorders = []
    if mode == "record":
        # one recorder per track: MediaRecorder writes its header at the first packet,
        # so audio arriving before the first video frame would leave the video stream empty
        for kind, name in (("video", "baseline.webm"), ("audio", "baseline.ogg")):
            remote = await client.wait_for_track(identity="speaker", kind=kind, timeout=20)
            recorder = MediaRecorder(str(Path(folder) / name))
            recorder.addTrack(remote.track)
            await recorder.start()
            recorders.append(recorder)
    await asyncio.sleep(3)  # warm-up: the first keyframe, the encoder's start
    started = time.process_time()
    await asyncio.sleep(RECORD_WINDOW)
    used = time.process_time() - started
    for recorder in recorders:
        await recorder.stop()
    await client.close()
    return used


def _recording_process(url: str, token: str, mode: str, folder: str, out: Any) -> None:
    os.sched_setaffinity(0, {LOAD_CPU})
    out.put(asyncio.run(_recording_client(url, token, mode, folder)))


def _baseline_record(url: str, token: str, mode: str, folder: str) -> float:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=_recording_process, args=(url, token, mode, folder, out))
    process.start()
    try:
        used: float = out.get(timeout=RECORD_WINDOW + 60)
    finally:
        process.join(10)
    return used


async def _meetbox_record(host: Client, pid: int) -> tuple[float, float]:
    """Server CPU seconds over RECORD_ROUNDS windows without, and as many with, the room
    being recorded (alternating, so a drift of the machine falls on both)."""

    async def window() -> float:
        before = procstat.cpu_seconds(pid) or 0.0
        await asyncio.sleep(RECORD_WINDOW)
        return (procstat.cpu_seconds(pid) or 0.0) - before

    idle = recording = 0.0
    for _ in range(RECORD_ROUNDS):
        idle += await window()
        await host.send("recording", {"recording": True})
        await asyncio.sleep(3)  # the first keyframes, the files opened
        recording += await window()
        await host.send("recording", {"recording": False})
        await asyncio.sleep(2)  # the files closed
    return idle, recording


def recording() -> dict[str, Any]:
    with meetbox_server() as (url, key, secret, pid), tempfile.TemporaryDirectory() as folder:
        os.sched_setaffinity(0, {LOAD_CPU})

        def token(identity: str, host: bool) -> str:
            grant = VideoGrant(room="record", room_join=True, room_admin=host)
            return mint_token(key, secret, identity, grant, ttl=3600)

        async def run() -> dict[str, Any]:
            video, audio = encode_video(), encode_audio()
            host = Client(url, token("speaker", True), room="record")
            others = [
                Client(url, token(f"speaker-{i}", False), room="record")
                for i in range(1, RECORD_PARTICIPANTS)
            ]
            for client in (host, *others):
                await client.connect(timeout=30)
                await publish_clip(client, video)
                await publish_clip(client, audio)
            await asyncio.sleep(2)
            log(f"recording: meetbox's recorder, {RECORD_PARTICIPANTS} participants")
            idle, busy = await _meetbox_record(host, pid)
            for client in others:
                await client.close()
            log("recording: aiortc receiving only, then with MediaRecorder")
            loop = asyncio.get_running_loop()
            count = await loop.run_in_executor(
                None, _baseline_record, url, token("counter", False), "count", folder
            )
            record = await loop.run_in_executor(
                None, _baseline_record, url, token("recorder", False), "record", folder
            )
            await host.close()
            per_min = 60 / RECORD_WINDOW
            recorded_minutes = RECORD_ROUNDS * RECORD_WINDOW * RECORD_PARTICIPANTS / 60
            return {
                "meetbox_idle_cpu_s": idle,
                "meetbox_recording_cpu_s": busy,
                "meetbox_participants": RECORD_PARTICIPANTS,
                "meetbox_rounds": RECORD_ROUNDS,
                "baseline_receive_cpu_s": count,
                "baseline_record_cpu_s": record,
                # CPU seconds per minute of one participant recorded
                "record_cpu_s_per_min": max(0.0, busy - idle) / recorded_minutes,
                "baseline_record_cpu_s_per_min": max(0.0, record - count) * per_min,
                "window_s": RECORD_WINDOW,
            }

        result = asyncio.run(run())
        log(json.dumps(result))
        return result
