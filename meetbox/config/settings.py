"""The settings tree and its loader.

Each subsystem owns a dataclass with its defaults. ``load_settings`` merges, in order,
the defaults, an optional TOML file and ``MEETBOX_<SECTION>_<FIELD>`` environment
variables (``MEETBOX_DATA_DIR`` and ``MEETBOX_PORT`` are accepted as short forms).
Nothing else in meetbox reads the environment.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 7880
    data_dir: Path = Path(".meetbox")
    log_level: str = "INFO"
    # "asyncio", or "uvloop" (pip install 'meetbox[fast]'); "auto" takes uvloop when installed
    event_loop: str = "auto"


@dataclass(frozen=True)
class KeySettings:
    # empty: generated into the data directory on first start
    api_key: str = ""
    api_secret: str = ""


@dataclass(frozen=True)
class RtcSettings:
    # UDP ports used for ICE host candidates; 0/0 lets the OS choose
    udp_port_min: int = 0
    udp_port_max: int = 0
    # addresses to gather host candidates on; empty = every interface but loopback
    ice_addresses: tuple[str, ...] = ()
    # STUN/TURN URLs handed to peer connections; none by default (single box)
    ice_servers: tuple[str, ...] = ()
    # keyframe requests to one publisher track: at least keyframe_request_interval apart,
    # but keyframe_request_min_interval for a subscriber with no picture yet once the
    # last request was answered; longer in a large room, so that the keyframes asked for
    # add at most keyframe_budget_pps packets per second of fan-out, up to
    # keyframe_request_max_interval
    keyframe_request_interval: float = 0.3
    keyframe_request_min_interval: float = 0.1
    keyframe_request_max_interval: float = 3.0
    keyframe_budget_pps: float = 20_000.0
    # the bitrate (REMB) a simulcast publisher is told it may send: room for all its layers,
    # since each subscriber's own link picks the layer it receives
    simulcast_bitrate: int = 3_000_000
    # the video codecs a publisher's offer is answered with, first offered first: VP9 and AV1
    # are forwarded (and recorded, VP9) without a decoder; a subscriber receives a track only
    # in a codec it said it decodes (VP8 and H.264 when it says nothing)
    video_codecs: tuple[str, ...] = ("vp8", "h264", "vp9", "av1")


@dataclass(frozen=True)
class RoomSettings:
    # seconds an empty room stays open before it closes
    empty_timeout: float = 300.0
    # active speaker detection: -dBov threshold and update period (LiveKit's values)
    speaker_threshold_dbov: int = 35
    speaker_interval: float = 0.4
    # seconds a participant removed by the host cannot rejoin that room with its token
    removal_ban_seconds: float = 600.0
    # livestream mode in every room (always on in webinar and live rooms): viewers, who
    # publish nothing and are not hosts, are announced to the hosts only, and the view
    # count goes out at most once a second
    skip_viewer_broadcast: bool = False
    # Socket.IO connections per second from one client address (a burst of connect_burst
    # first); 0 turns the limit off
    connects_per_second: float = 20.0
    connect_burst: int = 200


@dataclass(frozen=True)
class StoreSettings:
    # empty: the embedded SQLite store at <data_dir>/meetbox.db
    mongodb_uri: str = ""
    mongodb_database: str = "meetbox"
    sqlite_path: Path = Path("")
    # seconds one store call may take before the API answers 503
    timeout: float = 5.0


@dataclass(frozen=True)
class ApiSettings:
    # the public base URL clients reach (signed URLs, stream_url); empty: the listening address
    public_url: str = ""
    user_token_ttl: float = 24 * 3600.0
    speech_token_ttl: float = 600.0
    signed_url_ttl: float = 3600.0
    max_upload_bytes: int = 50 * 1024**2
    max_recording_upload_bytes: int = 2 * 1024**3
    storage_limit_bytes: int = 5 * 1024**3
    # requests per rate_window seconds, per client and endpoint group; 0 turns a group off
    rate_window: float = 60.0
    rate_auth: int = 10
    rate_default: int = 300
    rate_upload: int = 30
    rate_delete: int = 30
    rate_sign: int = 60
    # rate-limit counters shared through Redis when set (redis://...), else in memory
    redis_url: str = ""
    # a MaxMind/DB-IP .mmdb city database for session locations; empty: "unknown"
    geoip_database: Path = Path("")
    # transcript encryption secret; empty: generated into the data directory
    transcript_secret: str = ""


@dataclass(frozen=True)
class SpeechSettings:
    # speech-to-text for captions and the speech endpoint: "whisper" (faster-whisper,
    # offline, in worker processes) or "http" (an OpenAI-compatible /v1/audio/transcriptions)
    engine: str = "whisper"
    # whisper: "auto" (Whisper tiny.en for English, the multilingual Whisper base for any
    # other language, both installed from PyPI), "tiny.en", "base", or a CTranslate2 model
    # directory of the operator's
    model: str = "auto"
    # the captions' language unless a start names one ("" lets the engine detect it)
    language: str = "en"
    # http: the server's base URL (.../v1 is added when missing), model name and key
    http_url: str = ""
    http_model: str = "whisper-1"
    http_api_key: str = ""
    http_timeout: float = 30.0
    # worker processes for decoding, voice detection and inference; each loads a model once
    workers: int = 1
    # CPU threads per worker for inference
    threads: int = 1
    # the cores the workers run on (empty: the server's own); give them cores the
    # forwarding does not use
    cpus: tuple[int, ...] = ()
    # interim text at most this often (seconds) while someone speaks
    interim_interval: float = 1.0
    # an utterance ends after this much silence (seconds); one that runs longer than
    # max_utterance is cut there
    end_silence: float = 0.35
    max_utterance: float = 12.0
    # translation sessions: "" (none: sessions transcribe and say no engine is configured),
    # "chat" (OpenAI-compatible /v1/chat/completions), "libretranslate", "argos"
    translation_engine: str = ""
    translation_url: str = ""
    translation_model: str = ""
    translation_api_key: str = ""
    # the translations' voice: "espeak" (espeak-ng, offline) or "http" (OpenAI-compatible
    # /v1/audio/speech); tts_voice: a voice name of that engine ("" = the language's)
    tts_engine: str = "espeak"
    tts_url: str = ""
    tts_model: str = "tts-1"
    tts_voice: str = ""
    tts_api_key: str = ""
    # summaries: "extractive" (offline) or "http" (OpenAI-compatible /v1/chat/completions)
    summary_engine: str = "extractive"
    summary_url: str = ""
    summary_model: str = ""
    summary_api_key: str = ""


@dataclass(frozen=True)
class WebhookSettings:
    # LiveKit-style webhooks (room, participant, track, egress events) POSTed to these
    urls: tuple[str, ...] = ()
    # the key whose secret signs them (its receiver verifies with the same pair);
    # default: the server's API key
    api_key: str = ""
    timeout: float = 5.0  # seconds per attempt
    attempts: int = 5  # per event and URL, with doubling back-off from 0.5 s
    queue_size: int = 1000  # events waiting per URL; past it new ones are dropped


@dataclass(frozen=True)
class ClusterSettings:
    # worker processes on this box (`serve --workers`): 1 runs one process and no gateway;
    # 0 means one per core
    workers: int = 1
    # several boxes in one deployment: the node registry and room map in this Redis
    redis_url: str = ""
    node: str = ""  # this box's name in the registry (default: host name and port)
    # where other gateways reach this box's workers (default: server.host)
    advertise_host: str = ""
    # per worker, as LiveKit's node limits: a join that would pass one is refused (0: none)
    max_rooms: int = 0
    max_down_tracks: int = 0
    # SIGTERM: no new rooms; live ones run until they end or this many seconds pass
    drain_timeout: float = 300.0
    # structured logs: "text", or "json" (a JSON object a line, with worker, room, participant)
    log_format: str = "text"


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    rtc: RtcSettings = field(default_factory=RtcSettings)
    room: RoomSettings = field(default_factory=RoomSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    speech: SpeechSettings = field(default_factory=SpeechSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)

    def replace(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some fields of some sections changed: ``replace(room={...})``."""
        merged: Settings = _merge(
            self, {name: dict(values) for name, values in sections.items()}, ""
        )
        return merged

    def validate(self) -> None:
        if not 0 <= self.server.port <= 65535:
            raise ValueError(f"server.port must be between 0 and 65535, not {self.server.port}")
        rtc = self.rtc
        if (rtc.udp_port_min == 0) != (rtc.udp_port_max == 0):
            raise ValueError("rtc.udp_port_min and rtc.udp_port_max must be set together")
        if rtc.udp_port_min and not 1024 <= rtc.udp_port_min <= rtc.udp_port_max <= 65535:
            raise ValueError(
                "rtc.udp_port_min..udp_port_max must be a range within 1024..65535, "
                f"not {rtc.udp_port_min}..{rtc.udp_port_max}"
            )
        if rtc.keyframe_request_interval <= 0:
            raise ValueError("rtc.keyframe_request_interval must be positive")
        if not 0 <= rtc.keyframe_request_min_interval <= rtc.keyframe_request_max_interval:
            raise ValueError(
                "rtc.keyframe_request_min_interval must be between 0 and"
                " rtc.keyframe_request_max_interval"
            )
        if rtc.keyframe_budget_pps <= 0:
            raise ValueError("rtc.keyframe_budget_pps must be positive")
        unknown = [c for c in rtc.video_codecs if c not in ("vp8", "h264", "vp9", "av1")]
        if unknown or not rtc.video_codecs:
            raise ValueError("rtc.video_codecs must list some of vp8, h264, vp9, av1")
        if not 100_000 <= rtc.simulcast_bitrate <= 100_000_000:
            raise ValueError("rtc.simulcast_bitrate must be from 100000 to 100000000 bit/s")
        if self.room.empty_timeout < 0:
            raise ValueError("room.empty_timeout must not be negative")
        if self.room.connects_per_second < 0 or self.room.connect_burst < 1:
            raise ValueError(
                "room.connects_per_second must not be negative and room.connect_burst"
                " must be at least 1"
            )
        if self.store.timeout <= 0:
            raise ValueError("store.timeout must be positive")
        api = self.api
        for name in ("max_upload_bytes", "storage_limit_bytes", "max_recording_upload_bytes"):
            if getattr(api, name) <= 0:
                raise ValueError(f"api.{name} must be positive")
        for name in ("user_token_ttl", "speech_token_ttl", "signed_url_ttl", "rate_window"):
            if getattr(api, name) <= 0:
                raise ValueError(f"api.{name} must be positive")
        speech = self.speech
        if speech.engine not in ("whisper", "http"):
            raise ValueError(f"speech.engine must be 'whisper' or 'http', not {speech.engine!r}")
        if speech.engine == "http" and not speech.http_url.startswith(("http://", "https://")):
            raise ValueError("speech.http_url must be an http(s) URL when speech.engine is 'http'")
        if speech.translation_engine not in ("", "chat", "libretranslate", "argos"):
            raise ValueError(
                "speech.translation_engine must be '', 'chat', 'libretranslate' or 'argos'"
            )
        if speech.translation_engine in ("chat", "libretranslate") and not (
            speech.translation_url.startswith(("http://", "https://"))
        ):
            raise ValueError("speech.translation_url must be an http(s) URL for that engine")
        if speech.tts_engine not in ("espeak", "http"):
            raise ValueError("speech.tts_engine must be 'espeak' or 'http'")
        if speech.tts_engine == "http" and not speech.tts_url.startswith(("http://", "https://")):
            raise ValueError("speech.tts_url must be an http(s) URL for the 'http' engine")
        if speech.summary_engine not in ("extractive", "http"):
            raise ValueError("speech.summary_engine must be 'extractive' or 'http'")
        if speech.summary_engine == "http" and not speech.summary_url.startswith(
            ("http://", "https://")
        ):
            raise ValueError("speech.summary_url must be an http(s) URL for the 'http' engine")
        if not 1 <= speech.workers <= 64 or not 1 <= speech.threads <= 64:
            raise ValueError("speech.workers and speech.threads must be between 1 and 64")
        if not 0.2 <= speech.interim_interval <= 10:
            raise ValueError("speech.interim_interval must be between 0.2 and 10 seconds")
        if not 0.1 <= speech.end_silence <= 3 or not 2 <= speech.max_utterance <= 30:
            raise ValueError(
                "speech.end_silence must be 0.1..3 seconds and speech.max_utterance 2..30"
            )
        if speech.http_timeout <= 0:
            raise ValueError("speech.http_timeout must be positive")
        hooks = self.webhooks
        bad = [u for u in hooks.urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"webhooks.urls must be http(s) URLs, not {bad[0]!r}")
        if hooks.timeout <= 0 or not 1 <= hooks.attempts <= 20 or hooks.queue_size < 1:
            raise ValueError(
                "webhooks.timeout must be positive, webhooks.attempts 1..20 and"
                " webhooks.queue_size at least 1"
            )
        cluster = self.cluster
        if not 0 <= cluster.workers <= 256:
            raise ValueError("cluster.workers must be 0 (one per core) up to 256")
        if cluster.redis_url and not cluster.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("cluster.redis_url must be a redis://, rediss:// or unix:// URL")
        if cluster.max_rooms < 0 or cluster.max_down_tracks < 0 or cluster.drain_timeout < 0:
            raise ValueError(
                "cluster.max_rooms, cluster.max_down_tracks and cluster.drain_timeout"
                " must not be negative"
            )
        if cluster.log_format not in ("text", "json"):
            raise ValueError("cluster.log_format must be 'text' or 'json'")
        if len(cluster.node) > 64 or not all(c.isalnum() or c in "-_." for c in cluster.node):
            raise ValueError("cluster.node may be 64 letters, digits, '-', '_' or '.'")
        if bool(self.keys.api_key) != bool(self.keys.api_secret):
            raise ValueError("keys.api_key and keys.api_secret must be given together")
        if self.keys.api_secret and len(self.keys.api_secret) < 32:
            raise ValueError("keys.api_secret must be at least 32 characters")


_SHORT_ENV = {
    "DATA_DIR": ("server", "data_dir"),
    "PORT": ("server", "port"),
    "MONGODB_URI": ("store", "mongodb_uri"),
}


def load_settings(
    config_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings tree. Raises ``ValueError`` naming the bad key or value."""
    settings = Settings()
    if config_file is not None:
        try:
            with config_file.open("rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"cannot read config file {config_file}: {exc}") from exc
        settings = _merge(settings, data, "")
    if environ is not None:
        settings = _merge(settings, _from_environ(settings, environ), "")
    settings.validate()
    return settings


def _from_environ(settings: Settings, environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    sections = {f.name: f for f in dataclasses.fields(settings)}
    for key, value in environ.items():
        if not key.startswith("MEETBOX_"):
            continue
        rest = key[len("MEETBOX_") :]
        if rest in _SHORT_ENV:
            section, name = _SHORT_ENV[rest]
            found.setdefault(section, {})[name] = value
            continue
        for section in sections:
            prefix = section.upper() + "_"
            if rest.startswith(prefix):
                found.setdefault(section, {})[rest[len(prefix) :].lower()] = value
                break
    return found


def _merge(obj: Any, data: Mapping[str, Any], path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{path or 'config'} must be a table")
    hints = typing.get_type_hints(type(obj))
    fields = {f.name for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            raise ValueError(f"unknown setting {where!r}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            changes[key] = _merge(current, value, where)
        else:
            changes[key] = _coerce(value, hints[key], where)
    return dataclasses.replace(obj, **changes)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _to_number(kind: type[int] | type[float]) -> Any:
    def convert(value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(value)
        return kind(value)

    return convert


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(value)
    return value


def _to_str_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            value = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(value)
    return tuple(value)


def _to_int_tuple(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.strip("[]").split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError(value)
    numbers = tuple(int(v) for v in value if not isinstance(v, bool))
    if len(numbers) != len(value) or any(n < 0 for n in numbers):
        raise ValueError(value)
    return numbers


_CONVERTERS: dict[Any, Any] = {
    bool: _to_bool,
    int: _to_number(int),
    float: _to_number(float),
    str: _to_str,
    Path: lambda value: value if isinstance(value, Path) else Path(_to_str(value)),
    tuple[str, ...]: _to_str_tuple,
    tuple[int, ...]: _to_int_tuple,
}


def _coerce(value: Any, hint: Any, where: str) -> Any:
    converter = _CONVERTERS.get(hint)
    if converter is None:
        raise ValueError(f"setting {where!r} has unsupported type {hint!r}")
    try:
        return converter(value)
    except (ValueError, TypeError) as exc:
        name = getattr(hint, "__name__", str(hint))
        raise ValueError(f"setting {where!r}: {value!r} is not a valid {name}") from exc
