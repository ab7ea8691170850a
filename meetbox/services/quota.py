"""Each user's recording storage: usage from the recordings' file sizes, a limit, who is over.

The REST views (``web/storage.py``) and the recording engine both count through here.
"""

from __future__ import annotations

from typing import Any

from meetbox.store import Document, Store, now_iso

GIB = 1024**3


def gb(value: int) -> str:
    return f"{value / GIB:.2f}"


def file_fields(
    doc: Document | None, added: dict[str, int] | None = None, removed: str | None = None
) -> dict[str, Any]:
    """A recording's ``files``, ``fileSize`` (what its storage counts) and ``fileName``
    after files are added (name -> size, replacing same-named ones) or one is removed."""
    replaced = set(added or {}) | ({removed} if removed else set())
    files = [f for f in ((doc or {}).get("files") or []) if f.get("fileName") not in replaced]
    files += [{"fileName": name, "fileSize": size} for name, size in (added or {}).items()]
    return {
        "files": files,
        "fileSize": sum(int(f.get("fileSize") or 0) for f in files),
        "fileName": files[0]["fileName"] if files else None,
    }


class Quotas:
    """Storage limits (per user, else ``default_limit``) and usage, from the store."""

    def __init__(self, store: Store, default_limit: int) -> None:
        self.store = store
        self.default_limit = default_limit

    async def limit_of(self, user_id: str) -> int:
        doc = await self.store.storage.find_one({"userId": user_id})
        if doc is None or doc.get("storageLimit") is None:
            return self.default_limit
        return int(doc["storageLimit"])

    async def set_limit(self, user_id: str, limit: int) -> None:
        await self.store.storage.upsert(
            {"userId": user_id}, {"storageLimit": limit, "updatedAt": now_iso()}
        )

    async def usage(self, user_id: str, limit: int | None = None) -> dict[str, Any]:
        groups = await self.store.recordings.group(
            {"ownerId": user_id, "fileSize": {"$gt": 0}}, [], total="fileSize"
        )
        total = int(groups[0].total) if groups else 0
        count = groups[0].count if groups else 0
        if limit is None:
            limit = await self.limit_of(user_id)
        return {
            "totalUsage": total,
            "availableStorage": max(0, limit - total),
            "recordingsCount": count,
        }

    async def exceeded(self) -> list[dict[str, Any]]:
        groups = await self.store.recordings.group(
            {"fileSize": {"$gt": 0}}, ["ownerId"], total="fileSize"
        )
        out = []
        for group in groups:
            user_id = str(group.key[0])
            limit = await self.limit_of(user_id)
            total = int(group.total)
            if total > limit:
                out.append(
                    {
                        "userId": user_id,
                        "totalUsage": total,
                        "storageLimit": limit,
                        "exceedAmount": total - limit,
                        "recordingsCount": group.count,
                    }
                )
        return out
