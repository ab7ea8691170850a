"""What REST handlers work with: settings, the store, auth, limits, audit and the live rooms."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from aiohttp import web

from meetbox.auth.keys import derive_key
from meetbox.auth.signing import UrlSigner
from meetbox.auth.users import Authenticator
from meetbox.config import Settings
from meetbox.services.audit import AuditLog
from meetbox.services.geo import GeoLocator
from meetbox.services.quota import Quotas
from meetbox.services.summaries import SummaryJobs
from meetbox.services.translation import TranslationSessions
from meetbox.signalling.sioserver import SignallingServer
from meetbox.speech.pool import SpeechPool
from meetbox.store import Store
from meetbox.store.files import DataFiles
from meetbox.web.ratelimit import Counter, Limit, MemoryCounter, RateLimiter, RedisCounter

TRANSCRIPT_KEY_FILE = "transcript-secret.json"


def transcript_secret(settings: Settings) -> str:
    """The configured secret, else one generated once into the data directory (0600)."""
    if settings.api.transcript_secret:
        return settings.api.transcript_secret
    path = settings.server.data_dir / TRANSCRIPT_KEY_FILE
    if path.exists():
        try:
            return str(json.loads(path.read_text())["secret"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"transcript secret file {path} is unreadable: {exc}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    # written whole under another name, then linked in: a worker starting at the same
    # moment either makes it or reads the other's, never half a file
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"secret": secret}, fh)
    try:
        os.link(draft, path)
    except FileExistsError:
        return transcript_secret(settings)
    finally:
        draft.unlink()
    return secret


@dataclass
class Api:
    settings: Settings
    store: Store
    auth: Authenticator
    limiter: RateLimiter
    audit: AuditLog
    signer: UrlSigner
    geo: GeoLocator
    signalling: SignallingServer
    api_key: str
    api_secret: str
    transcript_secret: str
    summaries: SummaryJobs
    speech: SpeechPool  # the speech worker processes (the speech endpoint's streams)
    translations: TranslationSessions

    @property
    def data_dir(self) -> Path:
        return self.settings.server.data_dir

    @cached_property
    def quotas(self) -> Quotas:
        return Quotas(self.store, self.settings.api.storage_limit_bytes)

    @cached_property
    def files(self) -> DataFiles:
        """Every file path on disk comes from here: contained in its owner's folder."""
        return DataFiles(self.data_dir)

    def limit(self, group: str) -> Limit:
        api = self.settings.api
        limits = {
            "auth": api.rate_auth,
            "default": api.rate_default,
            "upload": api.rate_upload,
            "delete": api.rate_delete,
            "sign": api.rate_sign,
        }
        return Limit(group, limits[group], api.rate_window)

    def base_url(self, request: web.Request) -> str:
        if self.settings.api.public_url:
            return self.settings.api.public_url.rstrip("/")
        return f"{request.scheme}://{request.host}"

    async def close(self) -> None:
        await self.translations.close()
        await self.summaries.close()
        await self.limiter.close()
        self.geo.close()
        await self.store.close()


def geo_locator(settings: Settings) -> GeoLocator:
    path = settings.api.geoip_database
    return GeoLocator(path if str(path) not in ("", ".") else None)


def build_api(
    settings: Settings,
    store: Store,
    signalling: SignallingServer,
    geo: GeoLocator,
    api_key: str,
    api_secret: str,
    speech: SpeechPool,
) -> Api:
    # the deployment's Redis, when the nodes share one, holds the rate limits too
    shared = settings.api.redis_url or settings.cluster.redis_url
    counter: Counter = RedisCounter(shared) if shared else MemoryCounter()
    secret = transcript_secret(settings)
    return Api(
        settings=settings,
        store=store,
        auth=Authenticator(api_secret, signalling.verifier, settings.api.user_token_ttl),
        limiter=RateLimiter(counter),
        audit=AuditLog(store),
        signer=UrlSigner(derive_key(api_secret, "signed-url")),
        geo=geo,
        signalling=signalling,
        api_key=api_key,
        api_secret=api_secret,
        transcript_secret=secret,
        summaries=SummaryJobs(store, settings, secret, signalling.announce),
        speech=speech,
        translations=TranslationSessions(signalling.rooms, settings, speech),
    )
