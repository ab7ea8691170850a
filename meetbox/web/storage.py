"""Each user's recording storage: usage from the recordings' file sizes, a limit, warnings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from meetbox.store import Document, Store, now_iso
from meetbox.web.replies import BOOLEAN, ID, INTEGER, NUMBER, STRING, TIME, array, obj

if TYPE_CHECKING:
    from meetbox.web.services import Api

GIB = 1024**3
WARN_AT = (90, 75)

INFO = obj(
    {
        "totalUsage": INTEGER,
        "totalUsageGB": STRING,
        "availableStorage": INTEGER,
        "availableStorageGB": STRING,
        "storageLimit": INTEGER,
        "storageLimitGB": STRING,
        "isLimitExceeded": BOOLEAN,
        "exceedAmount": INTEGER,
        "exceedAmountGB": STRING,
        "usagePercentage": NUMBER,
        "recordingsCount": INTEGER,
        "recordings": array(
            obj(
                {
                    "recordingId": STRING,
                    "roomId": STRING,
                    "fileName": STRING,
                    "fileSize": INTEGER,
                    "uploadedAt": TIME,
                    "blobUrl": STRING,
                }
            )
        ),
        "warnings": array(obj({"type": STRING, "message": STRING})),
    }
)
EXCEEDED = obj(
    {
        "userId": ID,
        "totalUsage": INTEGER,
        "storageLimit": INTEGER,
        "exceedAmount": INTEGER,
        "recordingsCount": INTEGER,
    }
)


def gb(value: int) -> str:
    return f"{value / GIB:.2f}"


def recording_path(api: Api, user_id: str, room_id: str, recording_id: str, name: str) -> Path:
    return api.files.recording(user_id, room_id, recording_id, name)


def recording_folder(api: Api, user_id: str, room_id: str, recording_id: str) -> Path:
    return api.files.recording_folder(user_id, room_id, recording_id)


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


def blob_url(base: str, user_id: str, room_id: str, recording_id: str, name: str) -> str:
    """Where the blob lives; downloading it needs a signed URL (``.../sas-url``)."""
    parts = "/".join(quote(p, safe="") for p in (user_id, room_id, recording_id, name))
    return f"{base}/downloads/{parts}"


async def limit_of(api: Api, user_id: str) -> int:
    doc = await api.store.storage.find_one({"userId": user_id})
    if doc is None or doc.get("storageLimit") is None:
        return api.settings.api.storage_limit_bytes
    return int(doc["storageLimit"])


async def set_limit(store: Store, user_id: str, limit: int) -> None:
    await store.storage.upsert({"userId": user_id}, {"storageLimit": limit, "updatedAt": now_iso()})


async def usage(api: Api, user_id: str, limit: int | None = None) -> dict[str, Any]:
    groups = await api.store.recordings.group(
        {"ownerId": user_id, "fileSize": {"$gt": 0}}, [], total="fileSize"
    )
    total = int(groups[0].total) if groups else 0
    count = groups[0].count if groups else 0
    if limit is None:
        limit = await limit_of(api, user_id)
    return {
        "totalUsage": total,
        "availableStorage": max(0, limit - total),
        "recordingsCount": count,
    }


async def info(api: Api, user_id: str, base: str) -> dict[str, Any]:
    limit = await limit_of(api, user_id)
    used = await usage(api, user_id, limit)
    total = used["totalUsage"]
    exceed = max(0, total - limit)
    percentage = round(total / limit * 100) if limit else (100 if total else 0)
    warnings = []
    if exceed:
        warnings.append(
            {
                "type": "exceeded",
                "message": f"You have exceeded your storage limit by {gb(exceed)} GB.",
            }
        )
    else:
        for level in WARN_AT:
            if percentage >= level:
                warnings.append(
                    {"type": "usage", "message": f"You have used {level}% of your storage limit."}
                )
                break
    docs = await api.store.recordings.find(
        {"ownerId": user_id, "fileSize": {"$gt": 0}}, sort=[("uploadedAt", -1)], limit=1000
    )
    recordings = [
        {
            "recordingId": d["recordingId"],
            "roomId": d["roomId"],
            "fileName": d["fileName"],
            "fileSize": d["fileSize"],
            "uploadedAt": d.get("uploadedAt") or d["updatedAt"],
            "blobUrl": blob_url(base, user_id, d["roomId"], d["recordingId"], d["fileName"]),
        }
        for d in docs
    ]
    return {
        "totalUsage": total,
        "totalUsageGB": gb(total),
        "availableStorage": used["availableStorage"],
        "availableStorageGB": gb(used["availableStorage"]),
        "storageLimit": limit,
        "storageLimitGB": gb(limit),
        "isLimitExceeded": bool(exceed),
        "exceedAmount": exceed,
        "exceedAmountGB": gb(exceed),
        "usagePercentage": percentage,
        "recordingsCount": used["recordingsCount"],
        "recordings": recordings,
        "warnings": warnings,
    }


async def exceeded(api: Api) -> list[dict[str, Any]]:
    groups = await api.store.recordings.group(
        {"fileSize": {"$gt": 0}}, ["ownerId"], total="fileSize"
    )
    out = []
    for group in groups:
        user_id = str(group.key[0])
        limit = await limit_of(api, user_id)
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
