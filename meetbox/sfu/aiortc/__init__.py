"""The only code, tests included, that touches aiortc's, aioice's and pylibsrtp's private
internals (all pinned in setup.cfg). Callers import it as ``internals``:

    from meetbox.sfu import aiortc as internals

meetbox keeps aiortc for ICE, DTLS, SRTP and SDP, and replaces its media plane:
``selftest`` checks at start that the internals are where this package expects them;
``ingress`` takes decrypted (or, for the load generator, protected) packets from a
connection before aiortc's receivers; ``writer`` protects and sends rewritten packets
(the compiled fan-out's hot path); ``ice`` limits candidates and ports and fixes an
aioice race; ``senders`` are the small touches on aiortc's senders and transceivers.
"""

from __future__ import annotations

from meetbox.sfu.aiortc.codecs import (
    EXTRA_CODECS,
    accept_offered_codecs,
    install_codecs,
    prefer_codecs,
)
from meetbox.sfu.aiortc.ice import configure_ice, install_fixes
from meetbox.sfu.aiortc.ingress import (
    ParkedTrack,
    drop_incoming_rtp,
    intercept_transport,
    observe_received_rtcp,
    park_receiver,
    take_protected_rtp,
)
from meetbox.sfu.aiortc.selftest import HookError, selftest
from meetbox.sfu.aiortc.senders import (
    accept_header_extensions,
    answer_keyframe_requests,
    codecs_of,
    sender_ssrcs,
    set_sender_stream,
    silence_sender_reports,
    transport_of,
)
from meetbox.sfu.aiortc.writer import (
    MAX_PLAINTEXT,
    SendRtp,
    TransportWriter,
    nominated_pair,
    observe_sent_rtp,
    wrap_sent_rtp,
    writer_for,
)

__all__ = [
    "EXTRA_CODECS",
    "MAX_PLAINTEXT",
    "HookError",
    "ParkedTrack",
    "SendRtp",
    "TransportWriter",
    "accept_header_extensions",
    "accept_offered_codecs",
    "answer_keyframe_requests",
    "codecs_of",
    "configure_ice",
    "drop_incoming_rtp",
    "install_codecs",
    "install_fixes",
    "intercept_transport",
    "nominated_pair",
    "observe_received_rtcp",
    "observe_sent_rtp",
    "park_receiver",
    "prefer_codecs",
    "selftest",
    "sender_ssrcs",
    "set_sender_stream",
    "silence_sender_reports",
    "take_protected_rtp",
    "transport_of",
    "wrap_sent_rtp",
    "writer_for",
]
