"""After the meeting: the composite MP4 and the audio-only mix of a real recording."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import av
import pytest

from meetbox.client import ClientError
from meetbox.recorder.compose import ComposeSpec, compose
from meetbox.recorder.roomrecording import read_manifest
from meetbox.server import EmbeddedServer
from tests.recorder.helpers import publish_av

pytestmark = pytest.mark.timeout(120)


async def record_meeting(server: EmbeddedServer, room: str) -> Path:
    """ann records 3 s; ben is there for the first second, leaves, comes back for 1 s."""
    ann = server.client(room, "ann", room_admin=True)
    async with ann:
        await publish_av(ann)
        ben = server.client(room, "ben")
        async with ben:
            await publish_av(ben)
            live = server.room(room)
            assert live is not None
            await ann.wait_for(lambda: len(live.router.uptracks) == 4 or None, timeout=20)
            await ann.send("recording", {"recording": True})
            await asyncio.sleep(1.2)  # ben's first segment
        await asyncio.sleep(0.8)  # ann alone
        again = server.client(room, "ben")
        async with again:
            await publish_av(again)
            await asyncio.sleep(1.2)  # ben's second segment
        await ann.send("recording", {"recording": False})
    assert server.server is not None
    return next(server.server.settings.server.data_dir.rglob("manifest.json")).parent


def stream_extent(path: Path, kind: str) -> tuple[float, int, Any]:
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        end, start = 0.0, None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base)
            start = t if start is None else min(start, t)
            end = max(end, t + float((packet.duration or 0) * packet.time_base))
        context: Any = stream.codec_context
        size = (context.width, context.height) if kind == "video" else context.name
    with av.open(str(path)) as container:  # decoded to the end, the decoder flushed
        stream = next(s for s in container.streams if s.type == kind)
        frames = sum(1 for _ in container.decode(stream))
    return end - (start or 0.0), frames, size


async def test_composite_and_audio_mix(meetbox_server: EmbeddedServer, tmp_path: Path) -> None:
    folder = await record_meeting(meetbox_server, "compose")
    segments = read_manifest(folder)
    assert sorted(s.file for s in segments) == ["ann-01.webm", "ben-01.webm", "ben-02.webm"]
    assert all(s.end is not None and s.video and s.audio for s in segments)
    progress: list[float] = []
    spec = ComposeSpec(width=640, height=360, fps=15, layout="grid")
    result = await asyncio.to_thread(
        compose, folder, tmp_path / "out.mp4", tmp_path / "out.ogg", spec, progress.append
    )
    origin = min(s.start for s in segments)
    assert result.participants == 2
    span = result.duration
    assert abs(span - (max(s.end or 0 for s in segments) - origin)) < 0.3
    duration, frames, size = stream_extent(tmp_path / "out.mp4", "video")
    assert size == (640, 360)
    assert abs(duration - span) < 0.05 * span, (duration, span)
    assert frames >= 0.95 * span * 15
    audio_duration, _, codec = stream_extent(tmp_path / "out.mp4", "audio")
    assert codec == "aac" and abs(audio_duration - span) < 0.05 * span + 0.05
    ogg_duration, ogg_frames, ogg_codec = stream_extent(tmp_path / "out.ogg", "audio")
    assert ogg_codec == "opus" and abs(ogg_duration - span) < 0.05 * span + 0.05
    assert ogg_frames > 0
    assert progress == sorted(progress) and progress[-1] == 1.0


async def test_bad_specs_are_refused(tmp_path: Path) -> None:
    for spec, message in [
        (ComposeSpec(width=641), "even"),
        (ComposeSpec(width=10), "between"),
        (ComposeSpec(fps=0), "fps"),
        (ComposeSpec(layout="mosaic"), "layout"),
    ]:
        with pytest.raises(ValueError, match=message):
            compose(tmp_path, tmp_path / "a.mp4", tmp_path / "a.ogg", spec)


async def test_active_speaker_layout(meetbox_server: EmbeddedServer, tmp_path: Path) -> None:
    folder = await record_meeting(meetbox_server, "speaker")
    spec = ComposeSpec(width=320, height=240, fps=10, layout="speaker")
    result = await asyncio.to_thread(compose, folder, tmp_path / "s.mp4", tmp_path / "s.ogg", spec)
    duration, frames, size = stream_extent(tmp_path / "s.mp4", "video")
    assert size == (320, 240) and abs(duration - result.duration) < 0.05 * result.duration
    assert frames >= 0.95 * result.duration * 10


async def test_the_host_processes_a_recording_in_a_worker_process(
    meetbox_server: EmbeddedServer,
) -> None:
    host = meetbox_server.client("proc", "host", room_admin=True)
    async with host:
        await publish_av(host)
        started = await host.send("recording", {"recording": True})
        rec_id = started["recording"]["recordingId"]
        with pytest.raises(ClientError, match="failed_precondition"):
            await host.send("process-recording", {"recordingId": rec_id})  # still recording
        await asyncio.sleep(2)
        await host.send("recording", {"recording": False})
        with pytest.raises(ClientError, match="not_found"):
            await host.send("process-recording", {"recordingId": "1_404"})
        with pytest.raises(ClientError, match="invalid_argument"):
            await host.send("process-recording", {"recordingId": rec_id, "width": 100000})
        with pytest.raises(ClientError, match="invalid_argument"):
            await host.send("process-recording", {"recordingId": rec_id, "width": 641})
        ack = await host.send(
            "process-recording", {"recordingId": rec_id, "width": 320, "height": 180}
        )
        assert ack["processing"] is True
        done = await host.wait_for(lambda: host.received("recording-processed") or None, 60)
        assert "error" not in done[0], done
        names = {f["fileName"] for f in done[0]["files"]}
        assert names == {"composite-grid-320x180.mp4", "audio-mix.ogg"}
        steps = [e["progress"] for e in host.received("recording-progress")]
        assert steps == sorted(steps) and steps[-1] == 1.0 and len(steps) >= 3
    assert meetbox_server.server is not None
    doc = await meetbox_server.server.store.recordings.find_one({"recordingId": rec_id})
    assert doc is not None
    recorded = {f["fileName"]: f["fileSize"] for f in doc["files"]}
    assert names < set(recorded) and "host-01.webm" in recorded
    assert doc["fileSize"] == sum(recorded.values())


async def test_the_command_line_processes_a_recording(meetbox_server: EmbeddedServer) -> None:
    folder = await record_meeting(meetbox_server, "cli")
    assert meetbox_server.server is not None
    data_dir = meetbox_server.server.settings.server.data_dir
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meetbox", "recording", "process", folder.name,
        "--data-dir", str(data_dir), "--size", "320x240", "--layout", "speaker",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()
    assert "2 participants" in out.decode()
    assert "processing " in err.decode() and "100%" in err.decode()  # the progress bar
    assert (folder / "composite-speaker-320x240.mp4").stat().st_size > 0
    doc = await meetbox_server.server.store.recordings.find_one({"recordingId": folder.name})
    assert doc is not None and "audio-mix.ogg" in {f["fileName"] for f in doc["files"]}
    missing = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "meetbox", "recording", "process", "1_404",
        "--data-dir", str(data_dir), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(missing.communicate(), 30)
    assert missing.returncode == 2 and "no recorded files" in err.decode()
