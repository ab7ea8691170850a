"""Encoded frames into RTP packets (RFC 7741 for VP8): what a sender does before the wire.

meetbox itself forwards packets as they come; this is for senders of its own, the load
generator's simulcast publishers, which send pre-encoded layers as a browser does.
"""

from __future__ import annotations

from meetbox.media.av1 import (
    OBU_SEQUENCE_HEADER,
    OBU_TEMPORAL_DELIMITER,
    av1_obu_parts,
    leb128_bytes,
    temporal_unit_obus,
)
from meetbox.media.rtp import with_fixed_header

MAX_PAYLOAD = 1200  # bytes of payload per packet, descriptor included
_VP8_DESCRIPTOR = 4  # X, I, M and a 15-bit picture id


def vp8_payloads(frame: bytes, picture_id: int, size: int = MAX_PAYLOAD) -> list[bytes]:
    """The RTP payloads of one VP8 frame: each a 4-byte payload descriptor (extended, with a
    15-bit picture id; S on the first, partition 0) and a slice of the frame."""
    if size <= _VP8_DESCRIPTOR:
        raise ValueError(f"a VP8 payload needs more than {_VP8_DESCRIPTOR} bytes")
    pid = picture_id & 0x7FFF
    step = size - _VP8_DESCRIPTOR
    payloads = []
    for start in range(0, max(len(frame), 1), step):
        first = 0x90 if start == 0 else 0x80  # X, and S on the frame's first packet
        descriptor = bytes((first, 0x80, 0x80 | (pid >> 8), pid & 0xFF))
        payloads.append(descriptor + frame[start : start + step])
    return payloads


def av1_payloads(temporal_unit: bytes, size: int = MAX_PAYLOAD) -> list[bytes]:
    """The RTP payloads of one AV1 temporal unit in the low-overhead format (the AV1 RTP
    specification, 4: an aggregation header, then OBU elements each with a LEB128 length
    and without their own size field; an OBU that does not fit goes on in the next packet
    (Y, then Z); N on the first packet of a unit with a sequence header; temporal
    delimiters left out)."""
    if size < 8:
        raise ValueError("an AV1 payload needs at least 8 bytes")
    elements: list[bytes] = []
    new_sequence = False
    for obu in temporal_unit_obus(temporal_unit):
        obu_type, header, body = av1_obu_parts(obu)
        if obu_type == OBU_TEMPORAL_DELIMITER:
            continue
        new_sequence = new_sequence or obu_type == OBU_SEQUENCE_HEADER
        elements.append(header + body)
    payloads: list[bytes] = []
    packet = bytearray()
    continues = False  # this packet's first element goes on from the last packet
    for element in elements:
        offset = 0
        while offset < len(element):
            room = size - 1 - len(packet) - 4  # the aggregation header; a length: 4 at most
            if room <= 0:  # full at an element's end: the next packet starts a new one
                payloads.append(_av1_packet(packet, continues, False))
                packet, continues = bytearray(), False
                continue
            piece = element[offset : offset + room]
            offset += len(piece)
            packet += leb128_bytes(len(piece)) + piece
            if offset < len(element):  # the element goes on in the next packet
                payloads.append(_av1_packet(packet, continues, True))
                packet, continues = bytearray(), True
    if packet or not payloads:
        payloads.append(_av1_packet(packet, continues, False))
    if new_sequence and payloads:
        payloads[0] = bytes([payloads[0][0] | 0x08]) + payloads[0][1:]
    return payloads


def _av1_packet(elements: bytearray, continues: bool, open_end: bool) -> bytes:
    header = (0x80 if continues else 0) | (0x40 if open_end else 0)  # W = 0: all lengths
    return bytes([header]) + bytes(elements)


class RtpStream:
    """One sent RTP stream: its SSRC, payload type, sequence numbers and header extension
    (the same for every packet, built once: e.g. MID and RID)."""

    def __init__(self, ssrc: int, payload_type: int, sequence: int, extension: bytes) -> None:
        self.ssrc = ssrc
        self.payload_type = payload_type
        self.sequence = sequence & 0xFFFF
        self._extension = extension
        self._first = 0x90 if extension else 0x80  # version 2, X when there is an extension

    def packets(self, payloads: list[bytes], timestamp: int) -> list[bytes]:
        """One frame's packets; the marker bit on its last."""
        packets = []
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            packets.append(
                with_fixed_header(
                    self._first,
                    self._extension + payload,
                    i == last,
                    self.payload_type,
                    self.sequence,
                    timestamp & 0xFFFFFFFF,
                    self.ssrc,
                )
            )
            self.sequence = (self.sequence + 1) & 0xFFFF
        return packets
