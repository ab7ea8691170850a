"""9. Speech translation: one session in a pinned server, a local LibreTranslate-speaking
engine (answers at once), espeak-ng's voice; the latency from the end of a publisher's
sentence to the start of its translated audio at a subscriber, and the CPU the session
costs (server, speech worker and synthesis worker together)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web
from captions import SENTENCES, voice_bounds
from common import LOAD_CPU, free_port, log, meetbox_server

from meetbox.client import Client
from meetbox.loadtest import procstat
from meetbox.speech.espeak import speech
from meetbox.tracks import SpeechAudioTrack

FRENCH = "nous avons décidé de reporter le lancement au mois prochain"
UTTERANCES = int(os.environ.get("BENCH_S2S_UTTERANCES", "8"))
GAP = 2.5  # seconds between sentences: each translation is heard before the next
LOUD = 1000  # int16: a received frame this loud is speech


async def _engine(port: int) -> web.AppRunner:
    """LibreTranslate's POST /translate, answering a fixed French sentence at once."""

    async def translate(request: web.Request) -> web.Response:
        await request.json()
        return web.json_response({"translatedText": FRENCH})

    app = web.Application()
    app.router.add_post("/translate", translate)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _api_client(data: Path) -> tuple[str, str]:
    exe = str(Path(sys.executable).with_name("meetbox"))
    done = subprocess.run(
        [exe, "client", "create", "--name", "bench", "--data-dir", str(data)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    out = done.stdout + done.stderr
    client_id = re.search(r"ClientID:\s+(\S+)", out)
    secret = re.search(r"ClientSecret:\s+(\S+)", out)
    assert client_id and secret, out
    return client_id.group(1), secret.group(1)


def _workers(pid: int) -> list[int]:
    from captions import speech_workers

    return speech_workers(pid)


async def _onsets(track: Any, onsets: list[float], stop: asyncio.Event) -> None:
    """Arrival times of each silence-to-speech change of a received track."""
    loud = False
    quiet_frames = 0
    while not stop.is_set():
        frame = await track.recv()
        samples = frame.to_ndarray().reshape(-1)
        now_loud = bool(np.abs(samples.astype(np.int32)).max() > LOUD)
        if now_loud and not loud:
            onsets.append(time.time())
        quiet_frames = 0 if now_loud else quiet_frames + 1
        loud = now_loud or (loud and quiet_frames < 15)  # 300 ms of quiet ends a stretch


async def _forwarding_beside(
    url: str, key: str, secret: str, pid: int, voice: SpeechAudioTrack, clips: list[Any]
) -> tuple[float | None, float | None]:
    """The forwarding cost (200 subscribers in another room) with the session's publisher
    silent, then speaking without a pause (recognised, translated, spoken)."""
    from captions import _forwarding

    loop = asyncio.get_running_loop()
    silent = await loop.run_in_executor(None, _forwarding, url, key, secret, pid, "s2s-off")
    stop = asyncio.Event()

    async def talk() -> None:
        i = 0
        while not stop.is_set():
            voice.say(clips[i % len(clips)])
            i += 1
            await voice.finished()
            await asyncio.sleep(0.5)

    talking = asyncio.create_task(talk())
    await asyncio.sleep(3)
    speaking = await loop.run_in_executor(None, _forwarding, url, key, secret, pid, "s2s-on")
    stop.set()
    await talking
    return silent, speaking


async def _session(
    url: str, key: str, secret: str, client_id: str, client_secret: str, pid: int
) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        reply = await http.post(
            url + "/session-storage/sessions",
            json={"data": {"publisher_count": 1, "subscriber_count": 1, "source_language": "en"}},
            headers={"ClientID": client_id, "ClientSecret": client_secret},
        )
        made = (await reply.json())["data"]
        control = await http.ws_connect(f"{made['control_url']}?token={made['subscriber'][0]}")
        await control.send_str(json.dumps({"type": "choose", "language": "fr"}))
        publisher = Client(url, made["publisher"][0])
        listener = Client(url, made["subscriber"][0])
        await publisher.connect(timeout=30)
        await listener.connect(timeout=30)
        voice = SpeechAudioTrack()
        await publisher.publish(voice)
        clips = [speech(s, 48000) for s in SENTENCES]
        # a first sentence to warm the models and publish the French track
        voice.say(clips[-1])
        remote = await listener.wait_for_track(identity="interpreter-fr", kind="audio", timeout=60)
        onsets: list[float] = []
        stop = asyncio.Event()
        reader = asyncio.create_task(_onsets(remote.track, onsets, stop))
        await asyncio.sleep(GAP * 2)
        workers = _workers(pid)
        cpu_before = sum(procstat.cpu_seconds(p) or 0.0 for p in (pid, *workers))
        began = time.monotonic()
        ends = []
        for i in range(UTTERANCES):
            clip = clips[i % len(clips)]
            _, trail = voice_bounds(clip)
            voice.say(clip)
            await voice.finished()
            ends.append(time.time() - trail)
            await asyncio.sleep(GAP)
        await asyncio.sleep(2)
        elapsed = time.monotonic() - began
        cpu = sum(procstat.cpu_seconds(p) or 0.0 for p in (pid, *workers)) - cpu_before
        stop.set()
        reader.cancel()
        silent, speaking = await _forwarding_beside(url, key, secret, pid, voice, clips)
        latencies = []
        for end in ends:
            later = [t for t in onsets if t > end]
            if later and later[0] - end < GAP + 2:
                latencies.append(later[0] - end)
        await control.close()
        await publisher.close()
        await listener.close()
    return {
        "utterances": UTTERANCES,
        "heard": len(latencies),
        "latencies_s": latencies,
        "cpu_cores": cpu / elapsed,
        "processes": 1 + len(workers),
        "us_per_packet_silent": silent,
        "us_per_packet_speaking": speaking,
    }


def translation() -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        client_id, secret = _api_client(Path(data))
        env = {
            "MEETBOX_SPEECH_CPUS": str(LOAD_CPU),
            "MEETBOX_SPEECH_TRANSLATION_ENGINE": "libretranslate",
            "MEETBOX_SPEECH_TRANSLATION_URL": f"http://127.0.0.1:{port}",
        }
        with meetbox_server(env, Path(data)) as (url, key, api_secret, pid):

            async def run() -> dict[str, Any]:
                engine = await _engine(port)
                try:
                    return await _session(url, key, api_secret, client_id, secret, pid)
                finally:
                    await engine.cleanup()

            result = asyncio.run(run())
    log(json.dumps(result))
    return result


def keys(t: dict[str, Any]) -> dict[str, Any]:
    values = t["latencies_s"]
    p95 = statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else None
    return {
        "s2s_latency_s_p50": statistics.median(values) if values else None,
        "s2s_latency_s_p95": p95,
        "s2s_cpu_per_session": t["cpu_cores"],
        "us_per_packet_with_translation": t.get("us_per_packet_speaking"),
        "us_per_packet_beside_silent_session": t.get("us_per_packet_silent"),
    }
