"""RTCP packets an SFU reads and writes (RFC 3550 6.4, RFC 4585 6, RFC 5104 4.3.1, REMB).

``parse_compound`` splits a compound packet into typed packets; packets of other types
come back as :class:`RtcpUnknown`. Every packet type here serialises with ``bytes()``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SR = 200
RR = 201
SDES = 202
BYE = 203
RTPFB = 205
PSFB = 206
RTPFB_NACK = 1
PSFB_PLI = 1
PSFB_FIR = 4
PSFB_AFB = 15
REMB_ID = b"REMB"


def _header(count: int, packet_type: int, body_len: int) -> bytes:
    if body_len % 4:
        raise ValueError("RTCP body must be a multiple of 4 bytes")
    return struct.pack("!BBH", 0x80 | count, packet_type, body_len // 4)


@dataclass(slots=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int
    packets_lost: int
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int

    def __bytes__(self) -> bytes:
        lost = max(-0x800000, min(self.packets_lost, 0x7FFFFF)) & 0xFFFFFF
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (self.fraction_lost & 0xFF) << 24 | lost,
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.lsr,
            self.dlsr,
        )

    @classmethod
    def parse(cls, data: bytes, pos: int) -> ReportBlock:
        ssrc, loss, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, pos)
        lost = loss & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        return cls(ssrc, loss >> 24, lost, highest, jitter, lsr, dlsr)


@dataclass(slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[ReportBlock] = field(default_factory=list)

    def __bytes__(self) -> bytes:
        body = struct.pack(
            "!IQIII",
            self.ssrc,
            self.ntp_timestamp & 0xFFFFFFFFFFFFFFFF,
            self.rtp_timestamp & 0xFFFFFFFF,
            self.packet_count & 0xFFFFFFFF,
            self.octet_count & 0xFFFFFFFF,
        ) + b"".join(bytes(r) for r in self.reports)
        return _header(len(self.reports), SR, len(body)) + body


@dataclass(slots=True)
class ReceiverReport:
    ssrc: int
    reports: list[ReportBlock] = field(default_factory=list)

    def __bytes__(self) -> bytes:
        body = struct.pack("!I", self.ssrc) + b"".join(bytes(r) for r in self.reports)
        return _header(len(self.reports), RR, len(body)) + body


@dataclass(slots=True)
class SourceDescription:
    """SDES with one CNAME item per source."""

    cnames: dict[int, str]

    def __bytes__(self) -> bytes:
        body = bytearray()
        for ssrc, cname in self.cnames.items():
            text = cname.encode()[:255]
            chunk = struct.pack("!IBB", ssrc, 1, len(text)) + text
            chunk += b"\x00" * (4 - len(chunk) % 4)  # item list end + padding
            body += chunk
        return _header(len(self.cnames), SDES, len(body)) + bytes(body)


@dataclass(slots=True)
class Goodbye:
    sources: list[int]

    def __bytes__(self) -> bytes:
        body = b"".join(struct.pack("!I", s) for s in self.sources)
        return _header(len(self.sources), BYE, len(body)) + body


@dataclass(slots=True)
class Nack:
    """Generic NACK (RFC 4585 6.2.1)."""

    sender_ssrc: int
    media_ssrc: int
    lost: list[int]

    def __bytes__(self) -> bytes:
        fci = bytearray()
        lost = sorted(set(self.lost))
        i = 0
        while i < len(lost):
            pid = lost[i]
            mask = 0
            i += 1
            while i < len(lost) and (lost[i] - pid) & 0xFFFF <= 16:
                mask |= 1 << (((lost[i] - pid) & 0xFFFF) - 1)
                i += 1
            fci += struct.pack("!HH", pid, mask)
        body = struct.pack("!II", self.sender_ssrc, self.media_ssrc) + bytes(fci)
        return _header(RTPFB_NACK, RTPFB, len(body)) + body


@dataclass(slots=True)
class PictureLoss:
    """PLI (RFC 4585 6.3.1)."""

    sender_ssrc: int
    media_ssrc: int

    def __bytes__(self) -> bytes:
        body = struct.pack("!II", self.sender_ssrc, self.media_ssrc)
        return _header(PSFB_PLI, PSFB, len(body)) + body


@dataclass(slots=True)
class FullIntraRequest:
    """FIR (RFC 5104 4.3.1): the targets are in the FCI entries."""

    sender_ssrc: int
    entries: list[tuple[int, int]]

    def __bytes__(self) -> bytes:
        body = struct.pack("!II", self.sender_ssrc, 0) + b"".join(
            struct.pack("!IB3x", ssrc, seq & 0xFF) for ssrc, seq in self.entries
        )
        return _header(PSFB_FIR, PSFB, len(body)) + body


@dataclass(slots=True)
class Remb:
    """Receiver Estimated Maximum Bitrate (draft-alvestrand-rmcat-remb-03 2.2)."""

    sender_ssrc: int
    bitrate: int
    ssrcs: list[int]

    def __bytes__(self) -> bytes:
        exponent = 0
        mantissa = max(0, int(self.bitrate))
        while mantissa > 0x3FFFF:
            mantissa >>= 1
            exponent += 1
        body = (
            struct.pack("!II", self.sender_ssrc, 0)
            + REMB_ID
            + struct.pack(
                "!BBH", len(self.ssrcs), (exponent << 2) | (mantissa >> 16), mantissa & 0xFFFF
            )
            + b"".join(struct.pack("!I", s) for s in self.ssrcs)
        )
        return _header(PSFB_AFB, PSFB, len(body)) + body


@dataclass(slots=True)
class RtcpUnknown:
    packet_type: int
    count: int
    data: bytes

    def __bytes__(self) -> bytes:
        return self.data


RtcpPacket = (
    SenderReport
    | ReceiverReport
    | SourceDescription
    | Goodbye
    | Nack
    | PictureLoss
    | FullIntraRequest
    | Remb
    | RtcpUnknown
)


def _parse_reports(data: bytes, pos: int, count: int, end: int) -> list[ReportBlock]:
    if pos + count * 24 > end:
        raise ValueError("RTCP report blocks are truncated")
    return [ReportBlock.parse(data, pos + i * 24) for i in range(count)]


def _parse_one(data: bytes, start: int, end: int, count: int, ptype: int) -> RtcpPacket:
    body = start + 4
    size = end - body
    if ptype == SR:
        if size < 24:
            raise ValueError("RTCP SR is truncated")
        ssrc, ntp, rtp_ts, packets, octets = struct.unpack_from("!IQIII", data, body)
        return SenderReport(
            ssrc, ntp, rtp_ts, packets, octets, _parse_reports(data, body + 24, count, end)
        )
    if ptype == RR:
        if size < 4:
            raise ValueError("RTCP RR is truncated")
        (ssrc,) = struct.unpack_from("!I", data, body)
        return ReceiverReport(ssrc, _parse_reports(data, body + 4, count, end))
    if ptype == BYE:
        if size < count * 4:
            raise ValueError("RTCP BYE is truncated")
        return Goodbye([struct.unpack_from("!I", data, body + 4 * i)[0] for i in range(count)])
    if ptype in (RTPFB, PSFB):
        if size < 8:
            raise ValueError("RTCP feedback packet is truncated")
        sender, media = struct.unpack_from("!II", data, body)
        fci = body + 8
        if ptype == RTPFB and count == RTPFB_NACK:
            lost: list[int] = []
            for pos in range(fci, end - 3, 4):
                pid, mask = struct.unpack_from("!HH", data, pos)
                lost.append(pid)
                lost.extend((pid + bit + 1) & 0xFFFF for bit in range(16) if mask >> bit & 1)
            return Nack(sender, media, lost)
        if ptype == PSFB and count == PSFB_PLI:
            return PictureLoss(sender, media)
        if ptype == PSFB and count == PSFB_FIR:
            entries = [
                (struct.unpack_from("!I", data, pos)[0], data[pos + 4])
                for pos in range(fci, end - 7, 8)
            ]
            return FullIntraRequest(sender, entries)
        if ptype == PSFB and count == PSFB_AFB and data[fci : fci + 4] == REMB_ID:
            if end - fci < 8:
                raise ValueError("RTCP REMB is truncated")
            num, b1, b2 = struct.unpack_from("!BBH", data, fci + 4)
            bitrate = ((b1 & 0x03) << 16 | b2) << (b1 >> 2)
            if fci + 8 + num * 4 > end:
                raise ValueError("RTCP REMB SSRC list is truncated")
            ssrcs = [struct.unpack_from("!I", data, fci + 8 + 4 * i)[0] for i in range(num)]
            return Remb(sender, bitrate, ssrcs)
    return RtcpUnknown(ptype, count, bytes(data[start:end]))


def parse_compound(data: bytes) -> list[RtcpPacket]:
    """Every packet of a compound RTCP packet; ``ValueError`` if it is malformed."""
    packets: list[RtcpPacket] = []
    pos = 0
    total = len(data)
    while pos < total:
        if total - pos < 4:
            raise ValueError("RTCP packet header is truncated")
        first, ptype, words = struct.unpack_from("!BBH", data, pos)
        if first >> 6 != 2:
            raise ValueError(f"RTCP packet has invalid version {first >> 6}")
        end = pos + 4 + words * 4
        if end > total:
            raise ValueError("RTCP packet length exceeds the datagram")
        payload_end = end
        if first & 0x20:
            padding = data[end - 1]
            if padding == 0 or padding > end - pos - 4:
                raise ValueError("RTCP packet padding length is invalid")
            payload_end = end - padding
        packets.append(_parse_one(data, pos, payload_end, first & 0x1F, ptype))
        pos = end
    return packets


def serialize_compound(packets: list[RtcpPacket]) -> bytes:
    return b"".join(bytes(p) for p in packets)
