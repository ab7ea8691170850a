"""Receiver statistics (RFC 3550 A.3) and NACK bookkeeping."""

from __future__ import annotations

from meetbox.media.packetcache import PacketCache
from meetbox.media.stats import NackTracker, ReceiveStatistics


def test_report_block_counts_losses_and_wraps() -> None:
    stats = ReceiveStatistics(ssrc=7, clock_rate=90000)
    for i, seq in enumerate([65533, 65534, 0, 1, 3]):  # 65535 and 2 lost
        stats.add(seq, i * 3000, 100, i / 30)
    block = stats.report_block(now=1.0)
    assert block.ssrc == 7
    assert block.packets_lost == 2
    assert block.highest_sequence == 65536 + 3
    assert block.fraction_lost == (2 << 8) // 7
    stats.on_sender_report(0x0001_2345_6789_0000, now=1.0)
    later = stats.report_block(now=1.5)
    assert later.lsr == 0x2345_6789
    assert later.dlsr == 32768  # half a second in 1/65536 s
    assert later.fraction_lost == 0


def test_nack_tracker_asks_a_few_times_then_gives_up() -> None:
    nacks = NackTracker(max_tries=2)
    for seq in (10, 11, 14):
        nacks.add(seq)
    assert sorted(nacks.due()) == [12, 13]
    nacks.add(13)  # repaired
    assert nacks.due() == [12]
    assert nacks.due() == []


def test_packet_cache_returns_only_the_same_sequence() -> None:
    cache = PacketCache(size=4)
    cache.put(1, b"a")
    cache.put(5, b"b")  # same slot, newer
    assert cache.get(1) is None
    assert cache.get(5) == b"b"
