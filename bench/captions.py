"""8. Captions: word error rate and real-time factor of the offline engines, then live
captions in a pinned server (speech workers on the load core): caption latency, CPU and
RSS per concurrent speaker, and the forwarding cost with the agent running beside it."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from common import LOAD_CPU, log, meetbox_server, video_load, wait_server_idle

from meetbox.auth.tokens import VideoGrant, mint_token
from meetbox.client import Client
from meetbox.loadtest import procstat
from meetbox.loadtest.runner import run_load
from meetbox.progress import ProgressBar
from meetbox.speech.engines import WhisperEngine
from meetbox.speech.espeak import speech
from meetbox.speech.stream import to_float
from meetbox.speech.words import word_error_rate
from meetbox.tracks import SpeechAudioTrack

SENTENCES = [
    "the quarterly report is due on friday and maria will send it to the team",
    "we decided to move the launch to next month after the test pass",
    "please review the budget before the meeting on tuesday",
    "john will call the customer about the new contract tomorrow",
    "the server needs more memory and a faster disk",
    "our sales grew by ten percent in the last quarter",
    "can everyone see my screen now",
    "let us take a short break and continue at three",
]
SPEAKERS = [1, 2, 4]
LIVE_WINDOW = float(os.environ.get("BENCH_CAPTION_WINDOW", "24"))
GAP = 1.2  # seconds of silence between one speaker's sentences
VOICE_LEVEL = 300  # int16: quieter samples at a clip's ends are its padding
FORWARD_SUBSCRIBERS = 200


def offline() -> dict[str, Any]:
    """WER and real-time factor of each bundled model, one thread, in this process."""
    audio = [speech(s) for s in SENTENCES]
    seconds = sum(len(a) for a in audio) / 16000
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as cache:
        for model in ("tiny.en", "base"):
            engine = WhisperEngine(model, Path(cache))
            engine.prepare("en")
            errors, took = [], 0.0
            for sentence, samples in zip(SENTENCES, audio, strict=True):
                began = time.perf_counter()
                heard = engine.transcribe(to_float(samples), "en")
                took += time.perf_counter() - began
                errors.append(word_error_rate(sentence, heard.text))
            out[model] = {"wer": statistics.mean(errors), "rtf": took / seconds}
            log(f"captions: {model}: WER {out[model]['wer']:.3f}, RTF {out[model]['rtf']:.3f}")
    return out


def speech_workers(pid: int) -> list[int]:
    """The server's speech worker processes (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent == pid and b"resource_tracker" not in command:
                found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def voice_bounds(clip: Any) -> tuple[float, float]:
    """Seconds of silence before and after the voice in a clip (espeak-ng pads about
    0.05 s before and 0.4 s after): latencies count from the voice, not the clip."""
    loud = (abs(clip.astype("int32")) > VOICE_LEVEL).nonzero()[0]
    if not len(loud):
        return 0.0, 0.0
    return loud[0] / 48000, (len(clip) - loud[-1]) / 48000


async def _speak(
    track: SpeechAudioTrack, clips: list[Any], until: float, bounds: list[tuple[float, float]]
) -> None:
    """Sentence after sentence, a pause between, until the window ends."""
    i = 0
    while time.monotonic() < until:
        clip = clips[i % len(clips)]
        bounds.append(voice_bounds(clip))
        track.say(clip)
        i += 1
        await track.finished()
        await asyncio.sleep(GAP)


def _latencies(
    track: SpeechAudioTrack,
    bounds: list[tuple[float, float]],
    events: list[tuple[float, dict[str, Any]]],
) -> tuple[list[float], list[float]]:
    """Final: the end of the voice of an utterance to its final segment; interim: the
    start of its voice to its first text."""
    finals, interims = [], []
    for (sent, done), (lead, trail) in zip(track.said, bounds, strict=False):
        start, end = sent + lead, done - trail
        mine = [(at, e) for at, e in events if at >= sent]
        final = next((at for at, e in mine if e["final"] and at >= end), None)
        if final is not None and final - end < 10:
            finals.append(final - end)
        first = next((at for at, e in mine), None)
        if first is not None and first - start < 10:
            interims.append(first - start)
    return finals, interims


async def _live(url: str, key: str, secret: str, pid: int, speakers: int) -> dict[str, Any]:
    room = f"captions-{speakers}"

    def token(identity: str, host: bool = False) -> str:
        grant = VideoGrant(room=room, room_join=True, room_admin=host)
        return mint_token(key, secret, identity, grant, name=identity.title(), ttl=3600)

    listener = Client(url, token("listener", True), room=room)
    await listener.connect(timeout=30)
    talkers, tracks = [], []
    for i in range(speakers):
        client = Client(url, token(f"speaker-{i}"), room=room)
        await client.connect(timeout=30)
        track = SpeechAudioTrack()
        await client.publish(track)
        talkers.append(client)
        tracks.append(track)
    await listener.send("start-transcript", {"language": "en"})
    await listener.wait_for(lambda: listener.received("captions") or None, timeout=30)
    workers = speech_workers(pid)
    # warm: the model loaded and run once
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(procstat.cpu_seconds(w) for w in workers):  # noqa: ASYNC110
        await asyncio.sleep(0.2)  # another process's CPU time: nothing to await
    await asyncio.sleep(3)
    events: dict[str, list[tuple[float, dict[str, Any]]]] = {}

    def on_transcript(data: dict[str, Any]) -> None:
        events.setdefault(data["id"], []).append((time.time(), data))

    listener.sio.on("transcript", on_transcript)
    before = {w: procstat.cpu_seconds(w) or 0.0 for w in workers}
    server_before = procstat.cpu_seconds(pid) or 0.0
    began = time.monotonic()
    clips = [speech(s, 48000) for s in SENTENCES]
    until = began + LIVE_WINDOW
    bounds: list[list[tuple[float, float]]] = [[] for _ in tracks]
    await asyncio.gather(
        *(_speak(t, clips[i:] + clips[:i], until, bounds[i]) for i, t in enumerate(tracks))
    )
    await asyncio.sleep(3)  # the last finals
    elapsed = time.monotonic() - began
    worker_cpu = sum((procstat.cpu_seconds(w) or 0.0) - before[w] for w in workers)
    server_cpu = (procstat.cpu_seconds(pid) or 0.0) - server_before
    finals: list[float] = []
    interims: list[float] = []
    for i, track in enumerate(tracks):
        f, first = _latencies(track, bounds[i], events.get(f"speaker-{i}", []))
        finals += f
        interims += first
    result = {
        "speakers": speakers,
        "utterances": sum(len(t.said) for t in tracks),
        "finals": sum(1 for evs in events.values() for _, e in evs if e["final"]),
        "final_latency_s_p50": statistics.median(finals) if finals else None,
        "final_latency_s_p95": _p95(finals),
        "first_interim_s_p50": statistics.median(interims) if interims else None,
        "worker_cpu_per_speaker": worker_cpu / elapsed / speakers,
        "server_cpu_cores": server_cpu / elapsed,
        "worker_rss_mb": [round(rss_mb(w), 1) for w in workers],
        "workers": len(workers),
    }
    for client in (*talkers, listener):
        await client.close()
    return result


def _p95(values: list[float]) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _forwarding(url: str, key: str, secret: str, pid: int, room: str) -> float | None:
    spec = video_load(url, key, secret, pid, room, FORWARD_SUBSCRIBERS)
    bar = ProgressBar(1.0, f"forwarding {FORWARD_SUBSCRIBERS} ({room})")
    result = run_load(spec, lambda sample, done: bar.update(done, f"loss {sample.loss:.2%}"))
    bar.close()
    sent = result.window.expected
    return (result.server_cpu_s or 0) / sent * 1e6 if sent else None


class Talkers:
    """Two speakers in a room of their own, talking without a pause, captions on or off."""

    def __init__(self, url: str, key: str, secret: str) -> None:
        self.url, self.key, self.secret = url, key, secret
        self.clients: list[tuple[Client, SpeechAudioTrack]] = []
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        grant = partial(VideoGrant, room="captions-beside", room_join=True)
        for i in range(2):
            video = grant(room_admin=i == 0)
            token = mint_token(self.key, self.secret, f"talker-{i}", video, ttl=3600)
            client = Client(self.url, token, room="captions-beside")
            await client.connect(timeout=30)
            track = SpeechAudioTrack()
            await client.publish(track)
            self.clients.append((client, track))
        self.task = asyncio.create_task(self._talk())

    async def _talk(self) -> None:
        clips = [speech(s, 48000) for s in SENTENCES]
        while not self.stop.is_set():
            for _, track in self.clients:
                if not track.speaking:
                    track.say(clips[int(time.time()) % len(clips)])
            await asyncio.sleep(0.2)  # a sentence lasts seconds: looking 5 times a second

    async def captions(self, on: bool) -> None:
        host = self.clients[0][0]
        await host.send("start-transcript" if on else "stop-transcript", {})

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task
        for client, _ in self.clients:
            await client.close()


def captions() -> dict[str, Any]:
    results: dict[str, Any] = {"offline": offline()}
    env = {"MEETBOX_SPEECH_CPUS": str(LOAD_CPU)}
    with meetbox_server(env) as (url, key, secret, pid):
        live = []
        for n in SPEAKERS:
            log(f"captions: {n} speaker(s), {LIVE_WINDOW:.0f} s")
            live.append(asyncio.run(_live(url, key, secret, pid, n)))
            log(json.dumps(live[-1]))
        results["live"] = live
        wait_server_idle(pid)
        log("captions: forwarding cost beside two speakers in another room, captions off, on, off")

        async def beside() -> list[float | None]:
            talkers = Talkers(url, key, secret)
            await talkers.start()
            loop = asyncio.get_running_loop()
            measured: list[float | None] = []
            for on in (False, True, False):
                if on:
                    await talkers.captions(True)
                await asyncio.sleep(5)  # captions running (or gone), the model warm
                room = f"fwd-{'captions' if on else 'plain'}-{len(measured)}"
                measured.append(
                    await loop.run_in_executor(None, _forwarding, url, key, secret, pid, room)
                )
                if on:
                    await talkers.captions(False)
            await talkers.close()
            return measured

        off1, on, off2 = asyncio.run(beside())
        offs = [v for v in (off1, off2) if v is not None]
        results["us_per_packet_without"] = statistics.mean(offs) if offs else None
        results["us_per_packet_without_each"] = [off1, off2]
        results["us_per_packet_with"] = on
    return results


def keys(c: dict[str, Any]) -> dict[str, Any]:
    """The keys the issue names, from the section's measures."""
    one = c["live"][0]
    with_, without = c.get("us_per_packet_with"), c.get("us_per_packet_without")
    return {
        "caption_wer": c["offline"]["tiny.en"]["wer"],
        "caption_wer_base": c["offline"]["base"]["wer"],
        "caption_rtf": c["offline"]["tiny.en"]["rtf"],
        "caption_rtf_base": c["offline"]["base"]["rtf"],
        "caption_final_latency_s_p50": one["final_latency_s_p50"],
        "caption_final_latency_s_p95": one["final_latency_s_p95"],
        "caption_first_interim_s_p50": one["first_interim_s_p50"],
        "caption_cpu_per_speaker": one["worker_cpu_per_speaker"],
        "caption_worker_rss_mb": max(one["worker_rss_mb"] or [0]),
        "us_per_packet_with_captions": with_,
        "us_per_packet_without_captions": without,
        "captions_forwarding_ratio": with_ / without if with_ and without else None,
    }
