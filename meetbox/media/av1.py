"""AV1 over RTP (the AV1 RTP specification, by the Alliance for Open Media): OBU elements
joined across packets, temporal units in the low-overhead format that Matroska and WebM
store, and the sequence header's picture size."""

from __future__ import annotations

from collections.abc import Iterator

# AV1 OBU types dropped from a recorded temporal unit (the AV1 RTP specification, 5:
# temporal delimiters and tile lists are not sent; Matroska's AV1 mapping omits the
# temporal delimiter too)
OBU_TEMPORAL_DELIMITER = 2
OBU_TILE_LIST = 8
OBU_SEQUENCE_HEADER = 1


def leb128(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 value at ``pos`` (at most 8 bytes) and the position after it."""
    value = 0
    for i in range(8):
        if pos + i >= len(data):
            raise ValueError("AV1 LEB128 length is truncated")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    raise ValueError("AV1 LEB128 length is longer than 8 bytes")


def leb128_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _av1_elements(payload: bytes) -> tuple[bool, bool, list[bytes]]:
    """(Z, Y, the OBU elements) of one AV1 RTP payload (aggregation header, then the
    elements: each with a LEB128 length, except the W-th, which takes the rest)."""
    if not payload:
        raise ValueError("empty AV1 payload")
    header = payload[0]
    count = (header >> 4) & 0x03
    elements: list[bytes] = []
    pos = 1
    while pos < len(payload):
        if count and len(elements) == count - 1:
            size = len(payload) - pos
        else:
            size, pos = leb128(payload, pos)
        if pos + size > len(payload):
            raise ValueError("AV1 OBU element overruns the packet")
        elements.append(payload[pos : pos + size])
        pos += size
    if count and len(elements) != count:
        raise ValueError(f"AV1 aggregation header says {count} OBU elements, not {len(elements)}")
    return bool(header & 0x80), bool(header & 0x40), elements


def av1_obus(payloads: list[bytes]) -> list[bytes]:
    """The whole OBUs of one frame's payloads, fragments joined (each as sent: its header
    and payload, with or without a size field)."""
    obus: list[bytes] = []
    current: bytearray | None = None
    for payload in payloads:
        continues, open_end, elements = _av1_elements(payload)
        for i, element in enumerate(elements):
            if i == 0 and continues:
                if current is None:
                    raise ValueError("AV1 OBU fragment without its start")
                current += element
                continue
            if current is not None:
                obus.append(bytes(current))
            current = bytearray(element)
        if not open_end and current is not None:
            obus.append(bytes(current))
            current = None
    if current is not None:
        raise ValueError("AV1 frame ends inside an OBU")
    return obus


def av1_frame(payloads: list[bytes]) -> bytes:
    """A temporal unit in the low-overhead bitstream format (every OBU with its size
    field), as Matroska and WebM store AV1; temporal delimiters and tile lists left out."""
    out = bytearray()
    for obu in av1_obus(payloads):
        obu_type, header, body = av1_obu_parts(obu)
        if obu_type in (OBU_TEMPORAL_DELIMITER, OBU_TILE_LIST):
            continue
        out += bytes([header[0] | 0x02]) + header[1:] + leb128_bytes(len(body)) + body
    return bytes(out)


def av1_obu_parts(obu: bytes) -> tuple[int, bytes, bytes]:
    """(type, header bytes without the size, payload) of one OBU."""
    if not obu:
        raise ValueError("empty AV1 OBU")
    first = obu[0]
    if first & 0x80:
        raise ValueError("AV1 OBU forbidden bit is set")
    header_size = 2 if first & 0x04 else 1
    if len(obu) < header_size:
        raise ValueError("AV1 OBU header is truncated")
    header = bytes([first & ~0x02 & 0xFF]) + obu[1:header_size]
    body = obu[header_size:]
    if first & 0x02:  # it has its size field: the payload is that long
        size, pos = leb128(obu, header_size)
        if pos + size > len(obu):
            raise ValueError("AV1 OBU is shorter than its size field")
        body = obu[pos : pos + size]
    return (first >> 3) & 0x0F, header, body


def temporal_unit_obus(unit: bytes) -> Iterator[bytes]:
    """The OBUs of a low-overhead temporal unit (each with its size field), whole."""
    pos = 0
    while pos < len(unit):
        header_size = 2 if unit[pos] & 0x04 else 1
        size, start = leb128(unit, pos + header_size)
        end = start + size
        if end > len(unit):
            raise ValueError("AV1 OBU overruns the temporal unit")
        yield unit[pos:end]
        pos = end


def av1_sequence_header(frame: bytes) -> bytes | None:
    """The sequence header OBU of a low-overhead temporal unit (a key frame's), whole."""
    return next(
        (obu for obu in temporal_unit_obus(frame) if obu[0] >> 3 & 0x0F == OBU_SEQUENCE_HEADER),
        None,
    )


def av1_dimensions(sequence_header: bytes) -> tuple[int, int] | None:
    """The largest picture size of a sequence header OBU (AV1 bitstream specification,
    5.5), given whole (header, size field, payload); None when it does not parse."""
    try:
        obu_type, _, body = av1_obu_parts(sequence_header)
    except ValueError:
        return None
    if obu_type != OBU_SEQUENCE_HEADER:
        return None
    bits = _Bits(body)
    try:
        bits.read(3)  # seq_profile
        bits.read(1)  # still_picture
        if bits.read(1):  # reduced_still_picture_header
            bits.read(5)
        else:
            decoder_model = False
            buffer_delay_bits = 0
            if bits.read(1):  # timing_info_present_flag
                bits.read(32)
                bits.read(32)
                if bits.read(1):  # equal_picture_interval
                    bits.uvlc()
                decoder_model = bool(bits.read(1))
                if decoder_model:
                    buffer_delay_bits = bits.read(5) + 1
                    bits.read(32)
                    bits.read(5)
                    bits.read(5)
            initial_display_delay = bits.read(1)
            for _ in range(bits.read(5) + 1):  # operating points
                bits.read(12)
                if bits.read(5) > 7:  # seq_level_idx
                    bits.read(1)
                if decoder_model and bits.read(1):
                    bits.read(buffer_delay_bits)
                    bits.read(buffer_delay_bits)
                    bits.read(1)
                if initial_display_delay and bits.read(1):
                    bits.read(4)
        width_bits = bits.read(4) + 1
        height_bits = bits.read(4) + 1
        return bits.read(width_bits) + 1, bits.read(height_bits) + 1
    except ValueError:
        return None


class _Bits:
    """Reads a byte string most significant bit first."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, count: int) -> int:
        value = 0
        for _ in range(count):
            byte = self._pos >> 3
            if byte >= len(self._data):
                raise ValueError("AV1 sequence header is truncated")
            value = value << 1 | (self._data[byte] >> (7 - (self._pos & 7))) & 1
            self._pos += 1
        return value

    def uvlc(self) -> int:
        zeros = 0
        while not self.read(1):
            zeros += 1
            if zeros >= 32:
                raise ValueError("AV1 uvlc value is too long")
        return (1 << zeros) - 1 + self.read(zeros)
