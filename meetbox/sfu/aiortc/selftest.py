"""The self-test meetbox runs at start: aiortc's and pylibsrtp's internals are where the
rest of this package expects them, or the server refuses to start with a clear message.

aiortc and pylibsrtp are pinned (setup.cfg); this package (``meetbox.sfu.aiortc``) is the
only code, tests included, that touches their private API.
"""

from __future__ import annotations

import inspect

import aioice.ice
import aiortc
import aiortc.rtcpeerconnection
import pylibsrtp
from aiortc import RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState

KNOWN_AIORTC = ("1.16.0",)


KNOWN_PYLIBSRTP = ("1.0.0",)


class HookError(RuntimeError):
    pass


def selftest() -> None:
    """Check that the internals meetbox relies on are where it expects them."""
    version = getattr(aiortc, "__version__", "unknown")
    if version not in KNOWN_AIORTC:
        raise HookError(
            f"meetbox's SFU hooks aiortc internals and knows aiortc {', '.join(KNOWN_AIORTC)}, "
            f"but aiortc {version} is installed: install aiortc=={KNOWN_AIORTC[-1]}"
        )
    checks: list[tuple[object, str, tuple[str, ...] | None]] = [
        (RTCDtlsTransport, "_handle_rtp_data", ("self", "data", "arrival_time_ms")),
        (RTCDtlsTransport, "_handle_rtcp_data", ("self", "data")),
        (RTCDtlsTransport, "_send_rtp", ("self", "data")),
        (DtlsState, "CONNECTED", None),
        (RTCRtpSender, "_send_rtcp", ("self", "packets")),
        (aioice.ice, "get_host_addresses", ("use_ipv4", "use_ipv6")),
    ]
    for owner, name, params in checks:
        member = getattr(owner, name, None)
        if member is None:
            raise HookError(
                f"aiortc {version}: {getattr(owner, '__name__', owner)}.{name} is missing"
            )
        if params is not None:
            found = tuple(inspect.signature(member).parameters)
            if found != params:
                raise HookError(
                    f"aiortc {version}: {name}{found} no longer has the parameters {params}"
                )
    if "self._closing = True" not in inspect.getsource(aioice.ice.Connection.close):
        raise HookError("aioice: Connection.close() no longer sets _closing")
    if not callable(getattr(aiortc.rtcpeerconnection, "filter_preferred_codecs", None)):
        raise HookError(f"aiortc {version}: rtcpeerconnection.filter_preferred_codecs is missing")
    describe = aiortc.rtcpeerconnection.create_media_description_for_transceiver
    if "transceiver._headerExtensions" not in inspect.getsource(describe):
        raise HookError(f"aiortc {version}: answers no longer take transceiver._headerExtensions")
    sender_init = inspect.getsource(RTCRtpSender.__init__)
    if "self._ssrc" not in sender_init or "self._stream_id" not in sender_init:
        raise HookError(f"aiortc {version}: RTCRtpSender no longer sets _ssrc and _stream_id")
    srtp_version = getattr(pylibsrtp, "__version__", "unknown")
    if srtp_version not in KNOWN_PYLIBSRTP or "self._srtp = " not in inspect.getsource(
        pylibsrtp.Session.__init__
    ):
        raise HookError(
            f"meetbox calls libsrtp through pylibsrtp {', '.join(KNOWN_PYLIBSRTP)}'s session "
            f"handle, but pylibsrtp {srtp_version} is installed: "
            f"install pylibsrtp=={KNOWN_PYLIBSRTP[-1]}"
        )
