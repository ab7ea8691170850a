"""RTCP parse/serialize round trips and golden bytes."""

from __future__ import annotations

import pytest

from meetbox.media import rtcp


def test_pli_golden_bytes() -> None:
    assert bytes(rtcp.PictureLoss(1, 2)).hex() == "81ce00020000000100000002"


def test_nack_packs_bitmask_and_round_trips() -> None:
    nack = rtcp.Nack(1, 2, [100, 101, 103, 117, 200])
    data = bytes(nack)
    # 100 with bits for 101, 103 and 116(=100+16) is not in range, 117 starts a new FCI
    assert data.hex().startswith("81cd0005000000010000000200640005")
    (parsed,) = rtcp.parse_compound(data)
    assert isinstance(parsed, rtcp.Nack)
    assert sorted(parsed.lost) == [100, 101, 103, 117, 200]


def test_compound_sr_sdes_round_trip() -> None:
    block = rtcp.ReportBlock(
        ssrc=9, fraction_lost=12, packets_lost=-3, highest_sequence=70000, jitter=5, lsr=6, dlsr=7
    )
    sr = rtcp.SenderReport(
        ssrc=5,
        ntp_timestamp=1 << 40,
        rtp_timestamp=1234,
        packet_count=10,
        octet_count=999,
        reports=[block],
    )
    data = rtcp.serialize_compound([sr, rtcp.SourceDescription({5: "cname"}), rtcp.Goodbye([5])])
    parsed = rtcp.parse_compound(data)
    assert parsed[0] == sr
    assert isinstance(parsed[1], rtcp.RtcpUnknown) and parsed[1].packet_type == rtcp.SDES
    assert parsed[2] == rtcp.Goodbye([5])


def test_remb_and_fir_round_trip() -> None:
    remb = rtcp.Remb(1, 1_500_000, [0xAABBCCDD, 7])
    fir = rtcp.FullIntraRequest(1, [(0x1234, 3)])
    rr = rtcp.ReceiverReport(4, [])
    parsed = rtcp.parse_compound(bytes(rr) + bytes(remb) + bytes(fir))
    assert parsed[0] == rr
    assert isinstance(parsed[1], rtcp.Remb)
    assert parsed[1].ssrcs == [0xAABBCCDD, 7]
    # the mantissa keeps 18 bits: the bitrate survives within 0.01%
    assert abs(parsed[1].bitrate - 1_500_000) < 150
    assert parsed[2] == fir


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\xc8", "RTCP packet header is truncated"),
        (bytes.fromhex("40c80000"), "RTCP packet has invalid version 1"),
        (bytes.fromhex("80c80006") + bytes(4), "RTCP packet length exceeds the datagram"),
        (bytes.fromhex("80c80001") + bytes(4), "RTCP SR is truncated"),
        (bytes.fromhex("81c90001") + bytes(4), "RTCP report blocks are truncated"),
    ],
)
def test_malformed_rtcp_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        rtcp.parse_compound(data)
