"""A segment file takes encoded frames as they are: VP8 into WebM, H.264 into Matroska."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from meetbox.recorder.segment import SegmentFile, container_format
from tests.recorder.helpers import inspect

pytestmark = pytest.mark.timeout(60)


def h264_frames(count: int) -> list[tuple[bytes, bool]]:
    """Annex B access units with in-band SPS/PPS, as RTP depacketisation yields them."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "g": "15"}
    frames = []
    for i in range(count):
        picture = av.VideoFrame(320, 240, "yuv420p")
        picture.pts = i
        frames += [(bytes(p), p.is_keyframe) for p in codec.encode(picture)]
    frames += [(bytes(p), p.is_keyframe) for p in codec.encode(None)]
    return frames


def test_h264_is_remuxed_into_matroska(tmp_path: Path) -> None:
    assert container_format("video/H264") == ("matroska", "mkv")
    path = tmp_path / "ann-01.mkv"
    segment = SegmentFile(path, video_mime="video/H264", size=(320, 240), audio_mime=None)
    frames = h264_frames(60)
    assert frames[0][1] and frames[0][0].startswith(b"\x00\x00\x00\x01")
    for i, (data, key) in enumerate(frames):
        segment.write("video", round(i * 1000 / 30), data, key, 33)
    segment.write("audio", 0, b"ignored", True, 20)  # no audio stream: nothing happens
    segment.close()
    facts = inspect(path)
    assert facts.video_codec == "h264" and facts.audio_codec is None
    assert (facts.width, facts.height) == (320, 240)
    assert facts.decoded_frames == len(frames)
    assert abs(facts.duration - 2.0) < 0.1


def test_timestamps_only_move_forward(tmp_path: Path) -> None:
    segment = SegmentFile(tmp_path / "x.webm", video_mime=None, size=None, audio_mime="audio/opus")
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.time_base = Fraction(1, 48000)
    packets = []
    for i in range(10):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = 48000, i * 960
        packets += [bytes(p) for p in codec.encode(frame)]
    for n, data in enumerate(packets):
        segment.write("audio", 100 if n == 3 else n * 20, data, True, 20)  # one out of place
    segment.close()
    with av.open(str(tmp_path / "x.webm")) as container:
        times = [p.pts for p in container.demux() if p.pts is not None]
    assert times == sorted(times) and len(set(times)) == len(times)
