"""Sequence numbers and timestamps stay continuous across source changes."""

from __future__ import annotations

from meetbox.media.munger import RtpMunger


def test_continuous_across_resync_with_elapsed_time() -> None:
    munger = RtpMunger(clock_rate=90000)
    first = munger.translate(1000, 5000, now=10.0)
    second = munger.translate(1001, 8000, now=10.033)
    assert first is not None and second is not None
    assert (second[0] - first[0]) % 65536 == 1
    assert (second[1] - first[1]) % (1 << 32) == 3000
    # a new source with unrelated numbers, one second later
    munger.resync()
    third = munger.translate(40000, 123, now=11.033)
    assert third is not None
    assert (third[0] - second[0]) % 65536 == 1
    assert (third[1] - second[1]) % (1 << 32) == 90000
    # and it continues from there
    fourth = munger.translate(40001, 3123, now=11.066)
    assert fourth == ((third[0] + 1) % 65536, (third[1] + 3000) % (1 << 32))


def test_wraparound_and_out_of_order() -> None:
    munger = RtpMunger(clock_rate=48000)
    a = munger.translate(65535, 0, now=0.0)
    b = munger.translate(1, 1920, now=0.04)
    late = munger.translate(0, 960, now=0.05)  # arrives after 1
    assert a is not None and b is not None and late is not None
    assert (b[0] - a[0]) % 65536 == 2
    assert (late[0] - a[0]) % 65536 == 1
    assert munger.last_seq == b[0]  # a late packet does not move the end of the run
    assert munger.incoming_seq(late[0]) == 0
    # far older than the run: dropped
    assert munger.translate(40000, 0, now=0.06) is None
