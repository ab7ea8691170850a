"""Synthetic sources: counters survive coding, tones have the asked loudness."""

from __future__ import annotations

import time

import numpy as np
import pytest

from meetbox.media.audiolevel import ActiveSpeakerDetector, audio_level_from_extension
from meetbox.media.synthetic import counter_frame, read_counter, tone
from meetbox.tracks import Pacer


@pytest.mark.parametrize("counter", [0, 1, 4097, 65535])
def test_counter_reads_back(counter: int) -> None:
    frame = counter_frame(counter, 320, 240)
    assert read_counter(frame[:240]) == counter


def test_unreadable_frame_gives_none() -> None:
    assert read_counter(np.full((240, 320), 128, dtype=np.uint8)) is None


def test_tone_amplitude() -> None:
    samples = tone(1000, 0.5, 48000, 0, 4800)
    assert samples.shape == (1, 4800)
    assert abs(int(np.abs(samples).max()) - 16383) < 10


def test_detector_ranks_loudest_and_drops_the_silent() -> None:
    detector = ActiveSpeakerDetector(threshold_dbov=35, window=0.4)
    for i in range(20):
        now = i * 0.02
        detector.observe("loud", 10, now)
        detector.observe("soft", 30, now)
        detector.observe("silent", 90, now)
    ranked = detector.speakers(now=0.4)
    assert [s.key for s in ranked] == ["loud", "soft"]
    assert detector.speakers(now=5.0) == []  # all old


def test_audio_level_extension() -> None:
    assert audio_level_from_extension(b"\x8a") == (True, 10)


@pytest.mark.timeout(10)
async def test_a_stalled_source_catches_up_or_drops_the_frames_it_missed() -> None:
    catch_up, drop = Pacer(0.01), Pacer(0.01, drop_late=True)
    assert (await catch_up.next(), await drop.next()) == (0, 0)
    time.sleep(0.055)  # noqa: ASYNC251 (the point: the caller stalls for 5.5 intervals)
    assert await catch_up.next() == 1  # every frame, in a burst
    assert await drop.next() >= 5  # the missed slots are skipped
    assert await catch_up.next() == 2
