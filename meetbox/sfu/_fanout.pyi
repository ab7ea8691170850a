from typing import Any

class Route:
    def _set_session(self, address: int) -> None: ...
    def _set_nominated(self, nominated: dict[int, Any]) -> None: ...
    def _set_target(self, pair: object, sendto: object, addr: object, fd: int) -> None: ...

class Forwarder:
    route: Route | None
    layout: object
    clock_rate: int
    seq_offset: int
    ts_offset: int
    last_seq: int
    last_ts: int
    last_time: float
    highest_in_seq: int
    waiting_for_keyframe: bool
    closed: bool
    payload_type: int
    ssrc: int
    packets_sent: int
    octets_sent: int
    def __init__(self, clock_rate: int, ssrc: int, seq_offset: int, ts_offset: int) -> None: ...
    def translate(self, seq: int, ts: int, now: float) -> tuple[int, int] | None: ...
    def resync(self) -> None: ...
    def incoming_seq(self, out_seq: int) -> int: ...

def fan_out(
    forwarders: list[Any],
    tails: dict[int, tuple[int, bytes]],
    seq: int,
    ts: int,
    marker: bool,
    payload_size: int,
    now: float,
    keyframe: bool,
) -> int: ...
def init(srtp_protect_address: int, max_plaintext: int) -> None: ...
