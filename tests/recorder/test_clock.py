"""A publisher's tracks placed on the server's clock: arrival first, then its sender
reports, with one offset for all of its tracks (its NTP clock need not match ours)."""

from __future__ import annotations

from meetbox.media import rtcp
from meetbox.recorder.tap import NTP_UNIX_OFFSET, SenderClock, TrackClock


def report(ssrc: int, sender_seconds: float, rtp_timestamp: int) -> rtcp.SenderReport:
    whole = int(sender_seconds)
    ntp = (whole + NTP_UNIX_OFFSET) << 32 | int((sender_seconds - whole) * 2**32)
    return rtcp.SenderReport(
        ssrc=ssrc, ntp_timestamp=ntp, rtp_timestamp=rtp_timestamp % 2**32,
        packet_count=0, octet_count=0,
    )  # fmt: skip


def test_sender_reports_bring_audio_and_video_into_sync() -> None:
    skew = 5.0  # the publisher's clock runs 5 s ahead of the server's
    sender = SenderClock()
    video, audio = TrackClock(90_000, sender), TrackClock(48_000, sender)

    def v(t: float) -> int:
        return round(90_000 * t)

    def a(t: float) -> int:
        return round(48_000 * t)

    # first frames: video arrives 20 ms after capture, audio 80 ms (jitter): 60 ms apart
    assert video.time_of(v(100.0), 100.0 - skew + 0.020) == 95.020
    assert audio.time_of(a(100.0), 100.0 - skew + 0.080) == 95.080
    assert not video.synced
    video.on_sender_report(report(1, 101.0, v(101.0)))
    assert video.synced and sender.offset is not None
    # video keeps its times across the switch
    assert abs(video.time_of(v(101.0), 0.0) - 96.020) < 1e-6
    audio.on_sender_report(report(2, 101.0, a(101.0)))
    # one offset for both: the 60 ms between them is gone
    assert abs(audio.time_of(a(101.5), 0.0) - video.time_of(v(101.5), 0.0)) < 1e-4
    assert abs(audio.time_of(a(101.5), 0.0) - 96.520) < 1e-4


def test_a_report_before_any_frame_is_ignored() -> None:
    clock = TrackClock(48_000)
    clock.on_sender_report(report(1, 10.0, 480_000))
    assert not clock.synced and clock.sender.offset is None
    assert clock.time_of(480_000, 7.0) == 7.0


def test_a_late_first_frame_does_not_shift_the_ones_after_it() -> None:
    clock = TrackClock(48_000)
    assert clock.time_of(0, 10.100) == 10.100  # the first frame was held up 100 ms
    assert clock.time_of(960, 10.020) == 10.020  # the next came on time: re-anchored
    assert abs(clock.time_of(1920, 10.300) - 10.040) < 1e-9  # a late one keeps its place
