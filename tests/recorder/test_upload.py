"""Browser-made recordings uploaded in chunks over the room's socket."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import pytest

from meetbox.client import ClientError
from meetbox.recorder.upload import MAX_CHUNK
from meetbox.server import EmbeddedServer
from tests.api.conftest import api_settings

pytestmark = pytest.mark.timeout(60)


def small_webm(seconds: float = 1.0) -> bytes:
    """A real VP8 WebM, as a browser's MediaRecorder would produce."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(int(30 * seconds)):
            frame = av.VideoFrame(320, 240, "yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def chunks(data: bytes, size: int = 16 * 1024) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def data_dir(server: EmbeddedServer) -> Path:
    assert server.server is not None
    return server.server.settings.server.data_dir


async def test_an_upload_in_order_is_checked_and_accepted(
    meetbox_server: EmbeddedServer,
) -> None:
    media = small_webm()
    # libvpx makes this file 20-40 KB depending on how busy the machine is: at least 3 parts
    parts = chunks(media, min(16 * 1024, len(media) // 3))
    assert len(parts) >= 3
    ann = meetbox_server.client("up", "ann")
    viewer = meetbox_server.client("up", "viewer", can_publish=False)
    async with ann, viewer:
        with pytest.raises(ClientError, match="permission_denied"):
            await viewer.send("create-file", {"recordingId": "1_up", "fileName": "v.webm"})
        with pytest.raises(ClientError, match="invalid_argument"):
            await ann.send("create-file", {"recordingId": "../x", "fileName": "a.webm"})
        with pytest.raises(ClientError, match="invalid_argument"):
            await ann.send("create-file", {"recordingId": "1_up", "fileName": "a.exe"})
        created = await ann.send(
            "create-file", {"recordingId": "1_up", "fileName": "../../../etc/cam.webm"}
        )
        file_id = created["fileId"]
        assert created["fileName"] == "cam.webm"  # never a path
        await ann.send("stream", {"fileId": file_id, "index": 0, "data": parts[0]})
        with pytest.raises(ClientError, match="out of order: expected chunk 1"):
            await ann.send("stream", {"fileId": file_id, "index": 2, "data": parts[2]})
        with pytest.raises(ClientError, match="at most"):
            await ann.send(
                "stream", {"fileId": file_id, "index": 1, "data": b"x" * (MAX_CHUNK + 1)}
            )
        with pytest.raises(ClientError, match="binary"):
            await ann.send("stream", {"fileId": file_id, "index": 1, "data": "text"})
        with pytest.raises(ClientError, match="not_found"):  # another connection's upload
            await viewer.send("stream", {"fileId": file_id, "index": 1, "data": parts[1]})
        for index, part in enumerate(parts[1:], start=1):
            reply = await ann.send("stream", {"fileId": file_id, "index": index, "data": part})
        assert reply["received"] == len(media)
        done = await ann.send("stop-writing", {"fileId": file_id})
        assert done == {
            "ok": True,
            "fileId": file_id,
            "fileName": "cam.webm",
            "fileSize": len(media),
        }
    stored = next(data_dir(meetbox_server).rglob("cam.webm"))
    assert stored.read_bytes() == media
    assert "recordings" in stored.parts and "etc" not in stored.parts
    assert not list(data_dir(meetbox_server).rglob("*.part"))
    assert meetbox_server.server is not None
    doc = await meetbox_server.server.store.recordings.find_one({"recordingId": "1_up"})
    assert doc is not None and doc["fileSize"] == len(media) and doc["state"] == "stopped"


async def test_junk_and_abandoned_uploads_leave_nothing(meetbox_server: EmbeddedServer) -> None:
    ann = meetbox_server.client("up", "ann")
    async with ann:
        created = await ann.send("create-file", {"recordingId": "1_junk", "fileName": "j.webm"})
        await ann.send("stream", {"fileId": created["fileId"], "index": 0, "data": b"\x1a" * 5000})
        with pytest.raises(ClientError, match="not playable media"):
            await ann.send("stop-writing", {"fileId": created["fileId"]})
        left = await ann.send("create-file", {"recordingId": "1_left", "fileName": "l.webm"})
        await ann.send("stream", {"fileId": left["fileId"], "index": 0, "data": b"partial"})
        assert list(data_dir(meetbox_server).rglob(".l.webm.part"))
    await ann.wait_for(lambda: not list(data_dir(meetbox_server).rglob("*.part")) or None)
    assert not list(data_dir(meetbox_server).rglob("j.webm"))


async def test_an_upload_over_its_limit_is_refused_and_dropped() -> None:
    async with EmbeddedServer(api=api_settings(max_recording_upload_bytes=40_000)) as server:
        ann = server.client("up", "ann")
        async with ann:
            created = await ann.send("create-file", {"recordingId": "1_big", "fileName": "b.webm"})
            assert created["limit"] == 40_000
            file_id = created["fileId"]
            await ann.send("stream", {"fileId": file_id, "index": 0, "data": b"x" * 30_000})
            with pytest.raises(ClientError, match="resource_exhausted"):
                await ann.send("stream", {"fileId": file_id, "index": 1, "data": b"x" * 30_000})
            with pytest.raises(ClientError, match="not_found"):  # thrown away
                await ann.send("stream", {"fileId": file_id, "index": 1, "data": b"x"})
        assert not list(data_dir(server).rglob("*b.webm*"))
