"""The server: wires settings, keys, signalling and the web app, and owns their lifetime."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from meetbox.auth.keys import ApiKeys, load_or_create_keys
from meetbox.auth.tokens import TokenVerifier
from meetbox.cluster.relay import Relay
from meetbox.cluster.status import cluster_secret
from meetbox.config import Settings
from meetbox.errors import Unavailable
from meetbox.rtc.observer import ObserverChain
from meetbox.services.captions import CaptionService, engine_config
from meetbox.services.recording import RecordingEngine
from meetbox.services.sessions import SessionRecorder
from meetbox.services.webhook_events import WebhookEvents
from meetbox.services.webhooks import WebhookConfig, WebhookNotifier
from meetbox.sfu import aiortc as internals
from meetbox.signalling.sioserver import SignallingServer
from meetbox.speech.pool import SpeechPool
from meetbox.store import Store, open_store
from meetbox.web import cluster_routes
from meetbox.web.cluster_routes import WorkerIdentity
from meetbox.web.services import build_api, geo_locator
from meetbox.web.site import create_app

logger = logging.getLogger(__name__)

REPO_NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"


class MeetboxServer:
    """``Server → Room → Participant → peer connections → tracks``; ``close()`` cascades."""

    def __init__(
        self,
        settings: Settings,
        vendor_dir: Path | None = None,
        *,
        worker: WorkerIdentity | None = None,
        gateway: str = "",
    ) -> None:
        """``worker`` and ``gateway``: this is one worker process of ``serve --workers``."""
        internals.selftest()
        internals.install_fixes()
        internals.install_codecs()
        self.settings = settings
        self.keys: ApiKeys = load_or_create_keys(settings.server.data_dir, settings.keys)
        internals.configure_ice(
            settings.rtc.ice_addresses, settings.rtc.udp_port_min, settings.rtc.udp_port_max
        )
        self.store: Store = open_store(settings.store, settings.server.data_dir)
        geo = geo_locator(settings)
        sessions = SessionRecorder(self.store, geo)
        self.signalling = SignallingServer(settings, TokenVerifier(self.keys.as_map()))
        # the speech worker processes: the rooms' captions and the speech endpoint share them
        self.speech = SpeechPool(engine_config(settings), settings.speech.workers)
        self.api = build_api(
            settings,
            self.store,
            self.signalling,
            geo,
            self.keys.api_key,
            self.keys.api_secret,
            self.speech,
        )
        self.recordings = RecordingEngine(
            self.store, self.signalling.rooms, settings, self.signalling.to_room
        )
        self.signalling.recordings = self.recordings
        self.captions = CaptionService(
            self.store,
            self.signalling.rooms,
            settings,
            self.signalling.to_room,
            self.api.transcript_secret,
            self.speech,
        )
        self.signalling.captions = self.captions
        hooks = settings.webhooks
        hook_key = hooks.api_key or self.keys.api_key
        secret = self.keys.as_map().get(hook_key)
        if hooks.urls and secret is None:
            raise ValueError(f"webhooks.api_key {hook_key!r} is not one of the server's keys")
        self.webhooks = WebhookNotifier(
            WebhookConfig(
                hooks.urls, hook_key, secret or "", hooks.timeout, hooks.attempts, hooks.queue_size
            )
        )
        webhook_events = WebhookEvents(self.webhooks, self.signalling.rooms)
        self.signalling.broadcast_listeners.append(webhook_events.broadcast)
        # a meeting with transcriptEnabled starts its captions when its room starts
        self.signalling.observer = ObserverChain(
            sessions, self.captions, self.api.translations, watchers=(webhook_events,)
        )
        self.app = create_app(vendor_dir or REPO_NODE_MODULES, self.api)
        self.signalling.attach(self.app)
        self.relay: Relay | None = None
        if worker is not None:
            secret = cluster_secret(self.keys.api_secret)
            cluster_routes.mount(self.app, self.signalling, secret, worker)
            if gateway:
                self.relay = self.signalling.relay = Relay(gateway, secret, worker.id)
                self.signalling.locate = self.relay.elsewhere
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = settings.server.port
        self.closed = False

    @property
    def url(self) -> str:
        host = self.settings.server.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        try:
            await self.store.open()
        except Unavailable as exc:
            # the API answers 503 until the store is back; the SFU works without it
            logger.warning("store (%s) not ready at start: %s", self.store.backend, exc.message)
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.settings.server.host, self.settings.server.port)
        await self._site.start()
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        logger.info("meetbox listening on %s", self.url)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self.recordings.close()  # files finished while the rooms still exist
        await self.captions.close()  # the last finals stored, the speech workers stopped
        await self.signalling.close()
        await self.webhooks.close()  # the rooms' last events delivered (for a moment)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.api.close()
        await self.speech.close()
        if self.relay is not None:
            await self.relay.close()
