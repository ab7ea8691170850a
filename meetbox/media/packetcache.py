"""A ring of recent RTP packets by sequence number, to answer NACKs."""

from __future__ import annotations


class PacketCache:
    def __init__(self, size: int = 512) -> None:
        if size & (size - 1):
            raise ValueError("PacketCache size must be a power of two")
        self._mask = size - 1
        self._seqs = [-1] * size
        self._packets: list[bytes] = [b""] * size

    def put(self, seq: int, packet: bytes) -> None:
        slot = seq & self._mask
        self._seqs[slot] = seq
        self._packets[slot] = packet

    def get(self, seq: int) -> bytes | None:
        slot = seq & self._mask
        if self._seqs[slot] != seq:
            return None
        return self._packets[slot]
