"""Receive-side statistics for RTCP receiver reports (RFC 3550 A.1, A.3, A.8) and NACKs."""

from __future__ import annotations

from meetbox.media.rtcp import ReportBlock

SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000


class ReceiveStatistics:
    """One incoming stream, as seen by the SFU."""

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.packets_received = 0
        self.bytes_received = 0
        self.base_seq = -1
        self.max_seq = -1
        self.cycles = 0
        self.jitter = 0.0
        self._last_transit: float | None = None
        self._expected_prior = 0
        self._received_prior = 0
        self.last_sr = 0  # middle 32 bits of the last SR's NTP time
        self.last_sr_time = 0.0

    def add(self, seq: int, timestamp: int, size: int, arrival: float) -> None:
        self.packets_received += 1
        self.bytes_received += size
        if self.max_seq < 0:
            self.base_seq = self.max_seq = seq
        else:
            delta = (seq - self.max_seq) % SEQ_MOD
            if 0 < delta < MAX_DROPOUT:
                if seq < self.max_seq:
                    self.cycles += SEQ_MOD
                self.max_seq = seq
        # interarrival jitter (RFC 3550 A.8), in timestamp units
        transit = arrival * self.clock_rate - timestamp
        if self._last_transit is not None:
            d = abs(transit - self._last_transit)
            if d < self.clock_rate * 10:  # ignore timestamp jumps
                self.jitter += (d - self.jitter) / 16.0
        self._last_transit = transit

    def on_sender_report(self, ntp_timestamp: int, now: float) -> None:
        self.last_sr = (ntp_timestamp >> 16) & 0xFFFFFFFF
        self.last_sr_time = now

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    def report_block(self, now: float) -> ReportBlock:
        expected = self.extended_max - self.base_seq + 1
        lost = expected - self.packets_received
        expected_interval = expected - self._expected_prior
        received_interval = self.packets_received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.packets_received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        dlsr = int((now - self.last_sr_time) * 65536) if self.last_sr else 0
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            packets_lost=lost,
            highest_sequence=self.extended_max,
            jitter=int(self.jitter),
            lsr=self.last_sr,
            dlsr=dlsr & 0xFFFFFFFF,
        )


class NackTracker:
    """Missing sequence numbers of one stream, to ask for with NACKs (RFC 4585 6.2.1).

    A number is asked for at most ``max_tries`` times and forgotten once it is more
    than ``max_age`` packets old.
    """

    def __init__(self, max_age: int = 256, max_tries: int = 3) -> None:
        self.max_age = max_age
        self.max_tries = max_tries
        self.highest = -1
        self.missing: dict[int, int] = {}

    def add(self, seq: int) -> None:
        if self.highest < 0:
            self.highest = seq
            return
        delta = (seq - self.highest) % SEQ_MOD
        if delta == 0:
            return
        if delta < SEQ_MOD // 2:
            if delta > self.max_age:
                self.missing.clear()
            else:
                for missing in range(1, delta):
                    self.missing[(self.highest + missing) % SEQ_MOD] = 0
            self.highest = seq
            for old in [s for s in self.missing if (self.highest - s) % SEQ_MOD > self.max_age]:
                del self.missing[old]
        else:
            self.missing.pop(seq, None)

    def due(self) -> list[int]:
        """Numbers to ask for now; each call counts as one try."""
        lost = []
        for seq, tries in list(self.missing.items()):
            if tries >= self.max_tries:
                del self.missing[seq]
                continue
            self.missing[seq] = tries + 1
            lost.append(seq)
        return lost
