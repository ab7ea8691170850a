"""Request schemas: one description validates input and writes the OpenAPI document.

``Obj({...})`` describes a JSON object (unknown fields are refused), ``Field`` one value.
``validate`` returns clean values or raises ``InvalidArgument`` naming the field and the
reason; keys that start with ``$`` or contain ``.`` are refused everywhere, so nothing a
client sends can become a MongoDB operator. ``Field.openapi()`` renders the same rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.store.filenames import is_safe_name
from meetbox.text import check_text

EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
OBJECT_ID = r"^[0-9a-f]{24}$"
# an id that names a folder on disk (a room's): letters, digits, '_', '-' and '.', not
# starting with '.', so never '.', '..' or a hidden name
SAFE_ID = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$"
# a file name in a path: one segment, no separators or control characters, no leading dot
# (and, checked beside the pattern, already what ``filenames.sanitize`` makes of it)
FILE_NAME = r"^[^/\\\x00-\x1f.][^/\\\x00-\x1f]*$"
# a BCP 47 language code as speech engines take it: en, fr, pt-BR, zh-Hans
LANGUAGE_CODE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
MAX_DEPTH = 16
MAX_KEYS = 200
# integers beyond this are refused before any float or date arithmetic sees them
MAX_INTEGER = 2**63


@dataclass(frozen=True)
class Field:
    type: str  # string | integer | number | boolean | date | array | object | any
    required: bool = False
    description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    format: str | None = None  # email | objectid | filename
    items: Field | None = None
    max_items: int | None = None
    nullable: bool = False
    # a value given as a number or a string (the seed's streamId): kept as a string
    string_or_number: bool = False
    # free text (a transcript line): tabs and line breaks allowed; other strings (names,
    # ids, emails) hold no control character at all
    text: bool = False

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any]
        if self.string_or_number:
            out = {
                "oneOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "number"}]
            }
        elif self.type == "date":
            out = {
                "oneOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "number", "minimum": 0, "maximum": 253402300799999},
                ]
            }
        elif self.type == "any":
            out = {}
        else:
            out = {"type": self.type}
        if self.description:
            out["description"] = self.description
        for key, value in (
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("maxItems", self.max_items),
        ):
            if value is not None:
                out[key] = value
        if self.pattern:
            out["pattern"] = self.pattern
        if self.format == "email":
            out["format"] = "email"
        if self.format == "objectid":
            out["pattern"] = OBJECT_ID
        if self.format == "filename":
            out["pattern"] = FILE_NAME
        if self.enum:
            out["enum"] = list(self.enum)
        if self.items is not None:
            out["items"] = self.items.openapi()
        if self.nullable:
            out["nullable"] = True
        return out


@dataclass(frozen=True)
class Obj:
    fields: Mapping[str, Field]
    description: str = ""
    extra: bool = False  # True: keys beyond ``fields`` are allowed (free-form objects)
    examples: Mapping[str, Any] = field(default_factory=dict)

    def openapi(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {name: f.openapi() for name, f in self.fields.items()},
            "additionalProperties": self.extra,
        }
        required = [name for name, f in self.fields.items() if f.required]
        if required:
            out["required"] = required
        if self.description:
            out["description"] = self.description
        if self.examples:
            out["example"] = dict(self.examples)
        return out


def check_keys(value: Any, where: str, depth: int = 0) -> None:
    """No ``$`` keys, no dotted keys, bounded depth, at any level."""
    if depth > MAX_DEPTH:
        raise InvalidArgument(f"{where} is nested too deeply")
    if isinstance(value, dict):
        if len(value) > MAX_KEYS:
            raise InvalidArgument(f"{where} has too many keys")
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$") or "." in key:
                raise InvalidArgument(
                    f"{where}: key {key!r} is not allowed (keys may not start with '$' "
                    "or contain '.')"
                )
            check_keys(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_keys(item, f"{where}[{index}]", depth + 1)


def parse_date(value: Any, where: str) -> datetime:
    if isinstance(value, bool):
        raise InvalidArgument(f"{where} must be a date (ISO-8601 text or epoch milliseconds)")
    if isinstance(value, int | float):
        if isinstance(value, int) and abs(value) > MAX_INTEGER:
            raise InvalidArgument(f"{where} is out of range")
        if not math.isfinite(value) or not 0 <= value <= 253402300799999:
            raise InvalidArgument(f"{where} is out of range")
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= 15:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise InvalidArgument(f"{where} must be a date (ISO-8601 text or epoch milliseconds)")


def check_value(spec: Field, value: Any, where: str) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise InvalidArgument(f"{where} must not be null")
    if spec.string_or_number:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidArgument(f"{where} must be a string or a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument(f"{where} must be a finite number")
        text = str(value) if not isinstance(value, float) else repr(value)
        if not text or len(text) > 64:
            raise InvalidArgument(f"{where} must be 1 to 64 characters")
        return text
    kind = spec.type
    if kind == "date":
        return parse_date(value, where)
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidArgument(f"{where} must be a string")
        check_text(value, where, text=spec.text)
        if spec.min_length is not None and len(value) < spec.min_length:
            raise InvalidArgument(f"{where} must be at least {spec.min_length} characters")
        if spec.max_length is not None and len(value) > spec.max_length:
            raise InvalidArgument(f"{where} must be at most {spec.max_length} characters")
        if spec.pattern and not re.search(spec.pattern, value):
            raise InvalidArgument(f"{where} has an invalid format")
        if spec.format == "email" and not EMAIL.match(value):
            raise InvalidArgument(f"{where} must be a valid email address")
        if spec.format == "objectid" and not re.match(OBJECT_ID, value):
            raise InvalidArgument(f"{where} must be a 24-character hexadecimal id")
        if spec.format == "filename" and not is_safe_name(value):
            raise InvalidArgument(f"{where} is not an allowed file name")
        if spec.enum and value not in spec.enum:
            raise InvalidArgument(f"{where} must be one of: {', '.join(spec.enum)}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidArgument(f"{where} must be true or false")
        return value
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(f"{where} must be a number")
        if isinstance(value, int) and abs(value) > MAX_INTEGER:
            raise InvalidArgument(f"{where} is out of range (at most {MAX_INTEGER:,} in size)")
        if kind == "integer" and not (isinstance(value, int) or float(value).is_integer()):
            raise InvalidArgument(f"{where} must be a whole number")
        if not math.isfinite(value):
            raise InvalidArgument(f"{where} must be a finite number")
        if spec.minimum is not None and value < spec.minimum:
            raise InvalidArgument(f"{where} must be at least {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise InvalidArgument(f"{where} must be at most {spec.maximum:g}")
        return int(value) if kind == "integer" else value
    if kind == "array":
        if not isinstance(value, list):
            raise InvalidArgument(f"{where} must be an array")
        if spec.max_items is not None and len(value) > spec.max_items:
            raise InvalidArgument(f"{where} may hold at most {spec.max_items} items")
        item = spec.items or Field("any")
        return [check_value(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind == "object":
        if not isinstance(value, dict):
            raise InvalidArgument(f"{where} must be an object")
        return value
    return value


def validate(schema: Obj, data: Any, where: str) -> dict[str, Any]:
    """Checks ``data`` (already decoded JSON) against ``schema``; returns the clean values."""
    if not isinstance(data, dict):
        raise InvalidArgument(f"{where} must be a JSON object")
    check_keys(data, where)
    if not schema.extra:
        unknown = sorted(set(data) - set(schema.fields))
        if unknown:
            raise InvalidArgument(f"{where}: unknown field {unknown[0]!r}")
    out: dict[str, Any] = {}
    for name, spec in schema.fields.items():
        if name not in data:
            if spec.required:
                raise InvalidArgument(f"{where} field {name!r} is required")
            continue
        out[name] = check_value(spec, data[name], f"{where} field {name!r}")
    return out


def from_query(schema: Obj, query: Mapping[str, str]) -> dict[str, Any]:
    """Query strings are text: numbers, booleans and dates are converted before checking."""
    raw: dict[str, Any] = {}
    for name, value in query.items():
        spec = schema.fields.get(name)
        if spec is None or (value == "" and not spec.required):
            raw[name] = value
            continue
        if spec.type in ("integer", "number"):
            if len(value) > 40:
                raise InvalidArgument(f"query parameter {name!r} is too long for a number")
            try:
                raw[name] = int(value) if spec.type == "integer" else float(value)
            except ValueError:
                raise InvalidArgument(f"query parameter {name!r} must be a number") from None
        elif spec.type == "boolean":
            if value not in ("true", "false"):
                raise InvalidArgument(f"query parameter {name!r} must be true or false")
            raw[name] = value == "true"
        else:
            raw[name] = value
    # empty optional parameters (``sessionType=``) mean "no filter", as in the seed's examples
    raw = {k: v for k, v in raw.items() if not (v == "" and k in schema.fields)}
    if len(query) != len(set(query)):
        raise InvalidArgument("a query parameter is repeated")
    return validate(schema, raw, "query")
