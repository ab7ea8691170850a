"""The command line, run as a user would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jwt


def run(*args: str, data_dir: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEETBOX_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "meetbox", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def test_token_command_mints_a_room_token(tmp_path: Path) -> None:
    done = run(
        "token",
        "--room",
        "standup",
        "--identity",
        "ann",
        "--name",
        "Ann",
        "--admin",
        "--ttl",
        "30m",
        data_dir=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    keys = (tmp_path / "keys.json").read_text()
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"
    import json

    secret = json.loads(keys)["api_secret"]
    claims = jwt.decode(done.stdout.strip(), secret, algorithms=["HS256"])
    assert claims["sub"] == "ann" and claims["name"] == "Ann"
    assert claims["video"]["room"] == "standup" and claims["video"]["roomAdmin"] is True
    assert claims["exp"] - claims["nbf"] == 1800


def test_token_command_rejects_bad_ttl(tmp_path: Path) -> None:
    done = run("token", "--room", "r", "--identity", "i", "--ttl", "soon", data_dir=tmp_path)
    assert done.returncode == 2
    assert "ttl 'soon' must look like 90s, 30m, 6h or 2d" in done.stderr


def test_serve_prints_keys_once_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "MEETBOX_DATA_DIR": str(tmp_path), "MEETBOX_PORT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "meetbox", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "listening on" in line:
                break
        assert any("API secret:" in line for line in lines), lines
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "shutting down" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # a second start reuses the keys and does not show the secret again
    proc = subprocess.Popen(
        [sys.executable, "-m", "meetbox", "serve"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "listening on" in first and "secret" not in first.lower()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_serve_event_loop_choice() -> None:
    import asyncio

    import pytest
    import uvloop

    from meetbox.runtime import loop_factory

    assert loop_factory("asyncio") is None
    for choice in ("uvloop", "auto"):  # uvloop is installed with the test extra
        factory = loop_factory(choice)
        assert factory is not None
        loop = factory()
        try:
            assert isinstance(loop, uvloop.Loop)
            assert isinstance(loop, asyncio.AbstractEventLoop)
        finally:
            loop.close()
    with pytest.raises(SystemExit, match="auto, asyncio or uvloop"):
        loop_factory("tokio")
