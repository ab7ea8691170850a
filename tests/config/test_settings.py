"""Settings: defaults < TOML file < MEETBOX_* environment; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from meetbox.config import Settings, load_settings


def test_defaults() -> None:
    settings = load_settings(None, {})
    assert settings == Settings()
    assert settings.server.port == 7880 and settings.server.host == "127.0.0.1"
    assert settings.rtc.ice_servers == ()


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "meetbox.toml"
    config.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[room]\nempty_timeout = 5\n')
    settings = load_settings(
        config, {"MEETBOX_PORT": "9100", "MEETBOX_RTC_ICE_ADDRESSES": "127.0.0.1, ::1"}
    )
    assert settings.server.port == 9100  # environment wins over the file
    assert settings.server.host == "0.0.0.0"
    assert settings.room.empty_timeout == 5.0
    assert settings.rtc.ice_addresses == ("127.0.0.1", "::1")


def test_data_dir_short_form() -> None:
    assert load_settings(None, {"MEETBOX_DATA_DIR": "/srv/mb"}).server.data_dir == Path("/srv/mb")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MEETBOX_PORT": "eighty"}, "setting 'server.port': 'eighty' is not a valid int"),
        ({"MEETBOX_PORT": "70000"}, "server.port must be between 0 and 65535, not 70000"),
        ({"MEETBOX_RTC_UDP_PORT_MIN": "50000"}, "must be set together"),
        (
            {"MEETBOX_KEYS_API_KEY": "k", "MEETBOX_KEYS_API_SECRET": "short"},
            "at least 32 characters",
        ),
        ({"MEETBOX_SERVER_NOPE": "1"}, "unknown setting 'server.nope'"),
        ({"MEETBOX_RTC_KEYFRAME_BUDGET_PPS": "0"}, "keyframe_budget_pps must be positive"),
        ({"MEETBOX_RTC_SIMULCAST_BITRATE": "10"}, "simulcast_bitrate must be from"),
        ({"MEETBOX_RTC_KEYFRAME_REQUEST_INTERVAL": "0"}, "keyframe_request_interval must be"),
        (
            {"MEETBOX_RTC_KEYFRAME_REQUEST_MIN_INTERVAL": "5"},
            "keyframe_request_min_interval must be between 0 and",
        ),
        ({"MEETBOX_SPEECH_ENGINE": "cloud"}, "speech.engine must be 'whisper' or 'http'"),
        ({"MEETBOX_SPEECH_ENGINE": "http"}, "speech.http_url must be an http"),
        ({"MEETBOX_SPEECH_CPUS": "1,x"}, "setting 'speech.cpus': '1,x' is not a valid tuple"),
        ({"MEETBOX_SPEECH_WORKERS": "0"}, "speech.workers and speech.threads must be between"),
        ({"MEETBOX_SPEECH_INTERIM_INTERVAL": "0.01"}, "speech.interim_interval must be"),
        ({"MEETBOX_SPEECH_SUMMARY_ENGINE": "http"}, "speech.summary_url must be an http"),
    ],
)
def test_bad_values_are_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_settings(None, environ)


def test_bad_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server\n")
    with pytest.raises(ValueError, match="cannot read config file"):
        load_settings(config, {})
