"""Sequence number and timestamp rewriting for one outgoing RTP stream.

An SFU sends one stream to a subscriber while its source may change (the publisher
restarts with a new SSRC, forwarding pauses and resumes). The subscriber must see
sequence numbers without gaps and timestamps that keep advancing; ``RtpMunger`` keeps
the offsets that make that so (the rtpmunger of LiveKit's pkg/sfu plays this role).
"""

from __future__ import annotations

import random

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


class RtpMunger:
    def __init__(self, clock_rate: int) -> None:
        self.clock_rate = clock_rate
        self.seq_offset = random.randrange(SEQ_MOD)
        self.ts_offset = random.randrange(TS_MOD)
        self.last_seq = -1  # last outgoing sequence number, -1 before the first
        self.last_ts = 0
        self.last_time = 0.0
        self.highest_in_seq = -1
        self._resync = True

    def resync(self) -> None:
        """The next packet starts a new run: continue after the last one sent."""
        self._resync = True

    def translate(self, seq: int, ts: int, now: float) -> tuple[int, int] | None:
        """Outgoing (seq, ts) for an incoming packet, or None for one too old to send."""
        if self._resync:
            self._resync = False
            if self.last_seq >= 0:
                elapsed = max(1, int((now - self.last_time) * self.clock_rate))
                self.seq_offset = (self.last_seq + 1 - seq) % SEQ_MOD
                self.ts_offset = (self.last_ts + elapsed - ts) % TS_MOD
            self.highest_in_seq = seq
        else:
            diff = (seq - self.highest_in_seq) % SEQ_MOD
            if diff >= SEQ_MOD // 2:
                # out of order: translate with the current offsets, unless it is older
                # than the start of this run
                if (self.highest_in_seq - seq) % SEQ_MOD > 1000:
                    return None
                return (seq + self.seq_offset) % SEQ_MOD, (ts + self.ts_offset) % TS_MOD
            self.highest_in_seq = seq
        out_seq = (seq + self.seq_offset) % SEQ_MOD
        out_ts = (ts + self.ts_offset) % TS_MOD
        self.last_seq = out_seq
        self.last_ts = out_ts
        self.last_time = now
        return out_seq, out_ts

    def incoming_seq(self, out_seq: int) -> int:
        """The incoming sequence number an outgoing one was made from (current run)."""
        return (out_seq - self.seq_offset) % SEQ_MOD
