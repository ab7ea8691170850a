"""The simulcast lines of an offer (RFC 8853) read, checked and answered; hostile ones
refused with a message that says what is wrong."""

from __future__ import annotations

import pytest

from meetbox.sfu.negotiation import answer_simulcast, simulcast_offer

HEAD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


def video(mid: str, *lines: str) -> str:
    return f"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:{mid}\r\n" + "".join(f"{x}\r\n" for x in lines)


def test_layers_are_read_in_the_offers_order() -> None:
    sdp = (
        HEAD
        + video("1", "a=rid:q send", "a=rid:h send", "a=rid:f send", "a=simulcast:send q;h;~f")
        + video("2")
    )
    assert simulcast_offer(sdp) == {"1": ("q", "h", "f")}  # ~f: paused at first, still a layer
    # alternatives (a,b): the first is the layer
    sdp = HEAD + video("0", "a=rid:a send", "a=rid:b send", "a=simulcast:send a,b")
    assert simulcast_offer(sdp) == {"0": ("a",)}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (("a=rid:q send", "a=simulcast:send q;x"), "simulcast rid 'x' has no a=rid send"),
        (("a=rid:q send", "a=simulcast:send q;q"), "appears twice"),
        (("a=rid:q send", "a=simulcast:send q;" + "z" * 40), "is not 1-16 letters"),
        (
            (
                *tuple(f"a=rid:r{i} send" for i in range(5)),
                "a=simulcast:send " + ";".join(f"r{i}" for i in range(5)),
            ),
            "at most 4",
        ),
        (("a=rid:q recv", "a=simulcast:send q"), "has no a=rid send"),
    ],
)
def test_hostile_simulcast_lines_are_refused(lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulcast_offer(HEAD + video("0", *lines))


def test_a_recv_only_simulcast_line_is_no_simulcast() -> None:
    assert simulcast_offer(HEAD + video("0", "a=rid:q recv", "a=simulcast:recv q")) == {}


def test_the_answer_receives_each_layer() -> None:
    answer = HEAD + video("0", "a=sendrecv") + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n"
    answered = answer_simulcast(answer, {"0": ("q", "h"), "1": ("a",)})
    section0, section1 = answered.split("m=video")[1:]
    assert "a=rid:q recv\r\na=rid:h recv\r\na=simulcast:recv q;h\r\n" in section0
    assert "a=rid" not in section1  # rejected: nothing to receive
    assert answer_simulcast(answer, {}) == answer
