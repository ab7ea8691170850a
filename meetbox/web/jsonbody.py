"""Reading a JSON request body with bounds checked before and while it is parsed.

Python's parser is unbounded where an attacker wants it to be: 100,000 nested brackets
raise ``RecursionError``, a 400-digit number becomes an integer no float or date can
hold, and ``"\\ud800"`` becomes a string no UTF-8 store can write. Here the size is
checked first, the nesting depth is counted over the raw text (outside strings) before
parsing, numbers longer than ``MAX_NUMBER_CHARS`` and ``NaN``/``Infinity`` are refused
by the parser's hooks, and strings holding unpaired surrogates are refused after it.
Each refusal is an ``InvalidArgument`` saying what was wrong (a 400).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from meetbox.errors import InvalidArgument

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _Refused(Exception):
    """Raised from inside the parser's hooks; turned into ``InvalidArgument``."""


def _number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return text


def _int(text: str) -> int:
    return int(_number(text))


def _float(text: str) -> float:
    value = float(_number(text))
    if not math.isfinite(value):
        raise _Refused(f"{text} is beyond a double's range")
    return value


def _constant(text: str) -> Any:
    raise _Refused(f"{text} is not a JSON number")


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in ``raw``, brackets in strings ignored."""
    deepest = level = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b'""', raw)):
        if bracket in (b"[", b"{"):
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def _has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(v) for v in value)
    return False


def parse(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` as JSON, or ``InvalidArgument`` naming the first bound it breaks."""
    if depth(raw) > max_depth:
        raise InvalidArgument(f"the JSON body is nested more than {max_depth} levels deep")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("the body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Refused as exc:
        raise InvalidArgument(f"the body is not accepted: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(f"the body is not valid JSON: {str(exc)[:200]}") from None
    if _SURROGATE_ESCAPE.search(raw) and _has_surrogate(value):
        raise InvalidArgument("the body holds a string with an unpaired surrogate")
    return value
