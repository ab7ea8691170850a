"""Updates applied to a document in Python (the SQLite store's read-modify-write step)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from meetbox.errors import InvalidArgument
from meetbox.store.base import Document, check_field


def _parent(doc: Document, path: str, create: bool) -> tuple[dict[str, Any] | None, str]:
    parts = check_field(path).split(".")
    node: Any = doc
    for part in parts[:-1]:
        child = node.get(part) if isinstance(node, dict) else None
        if child is None and create:
            child = node[part] = {}
        if not isinstance(child, dict):
            return None, parts[-1]
        node = child
    return node, parts[-1]


def apply_update(
    doc: Document,
    *,
    set: Mapping[str, Any] | None = None,
    unset: Sequence[str] = (),
    inc: Mapping[str, float] | None = None,
    push: Mapping[str, Any] | None = None,
) -> Document:
    """``$set``, ``$unset``, ``$inc`` and ``$push`` with MongoDB's meaning."""
    out = copy.deepcopy(doc)
    for path, value in (set or {}).items():
        if path == "_id":
            raise InvalidArgument("_id cannot change")
        node, key = _parent(out, path, create=True)
        assert node is not None
        node[key] = copy.deepcopy(value)
    for path in unset:
        node, key = _parent(out, path, create=False)
        if node is not None:
            node.pop(key, None)
    for path, step in (inc or {}).items():
        node, key = _parent(out, path, create=True)
        assert node is not None
        node[key] = node.get(key, 0) + step
    for path, value in (push or {}).items():
        node, key = _parent(out, path, create=True)
        assert node is not None
        items = node.setdefault(key, [])
        if not isinstance(items, list):
            raise InvalidArgument(f"{path} is not an array")
        items.append(copy.deepcopy(value))
    return out
