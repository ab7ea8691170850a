"""JSON parsing with bounds checked before and while the text is parsed.

Python's parser is unbounded where an attacker wants it to be: 100,000 nested brackets
raise ``RecursionError``, a 400-digit number becomes an integer no float or date can
hold, and ``"\\ud800"`` becomes a string no UTF-8 store can write. :func:`loads` checks
the nesting depth over the raw text (brackets inside strings ignored) before parsing,
refuses numbers longer than ``MAX_NUMBER_CHARS``, ``NaN``, infinities and doubles out of
range through the parser's hooks, and strings holding unpaired surrogates after it.
Every refusal is a ``ValueError`` saying what was wrong.

The REST API reads bodies with it, and the Socket.IO server decodes packets with
:data:`WIRE` (python-socketio's ``json`` option takes an object with ``dumps`` and
``loads``); there a string's surrogates are left to the payload checks, which answer
the event with a clear error instead of dropping its packet.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

dumps = json.dumps


class Refused(ValueError):
    """A bound was broken (as opposed to text that is not JSON at all)."""


def _number(text: str) -> str:
    if len(text) > MAX_NUMBER_CHARS:
        raise Refused(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return text


def _int(text: str) -> int:
    return int(_number(text))


def _float(text: str) -> float:
    value = float(_number(text))
    if not math.isfinite(value):
        raise Refused(f"{text} is beyond a double's range")
    return value


def _constant(text: str) -> Any:
    raise Refused(f"{text} is not a JSON number")


def depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, brackets in strings ignored."""
    deepest = level = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub('""', text)):
        if bracket in "[{":
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


def loads(text: str | bytes, max_depth: int = MAX_DEPTH, surrogates: bool = False, **_: Any) -> Any:
    """``text`` as JSON, or ``ValueError`` (``Refused`` for a broken bound).

    ``surrogates=True`` keeps strings with unpaired surrogates, for a caller that checks
    its strings itself and answers with a clearer error than a dropped packet.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("the text is not valid UTF-8") from None
    if depth(text) > max_depth:
        raise Refused(f"nested more than {max_depth} levels deep")
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:  # unreachable after the depth check; kept as a bound
        raise Refused("nested too deeply") from None
    if not surrogates and _SURROGATE_ESCAPE.search(text) and _has_surrogate(value):
        raise Refused("a string holds an unpaired surrogate")
    return value


class _Wire:
    """The ``json`` module python-socketio and python-engineio decode packets with."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return loads(text, surrogates=True)


WIRE = _Wire()
