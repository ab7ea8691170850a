"""The self-test of aiortc's internals refuses a version it does not know."""

from __future__ import annotations

import aiortc
import pytest

from meetbox.sfu import aiortc as internals


def test_selftest_passes_on_the_pinned_version() -> None:
    internals.selftest()


def test_selftest_names_the_version_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "9.9.9")
    with pytest.raises(
        internals.HookError, match=r"aiortc 9\.9\.9 is installed: install aiortc==1\.16\.0"
    ):
        internals.selftest()


async def test_udp_port_range_is_used_for_host_candidates() -> None:
    from meetbox.server import EmbeddedServer
    from meetbox.tracks import CounterVideoTrack

    try:
        async with EmbeddedServer(rtc={"udp_port_min": 41000, "udp_port_max": 41050}) as server:
            async with server.client("ports", "a") as a, server.client("ports", "b") as b:
                await a.publish(CounterVideoTrack())
                await b.wait_for_track(identity="a", kind="video")
                assert a.publisher is not None
                answer = a.publisher.remoteDescription.sdp
                ports = {
                    int(line.split()[5])
                    for line in answer.splitlines()
                    if line.startswith("a=candidate")
                }
                assert ports and all(41000 <= p <= 41050 for p in ports)
    finally:
        internals.configure_ice(("127.0.0.1",))
