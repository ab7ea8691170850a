"""The REST views of each user's recording storage (the counting is ``services.quota``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from meetbox.services.quota import gb
from meetbox.web.replies import BOOLEAN, ID, INTEGER, NUMBER, STRING, TIME, array, obj

if TYPE_CHECKING:
    from meetbox.web.services import Api

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


def blob_url(base: str, user_id: str, room_id: str, recording_id: str, name: str) -> str:
    """Where the blob lives; downloading it needs a signed URL (``.../sas-url``)."""
    parts = "/".join(quote(p, safe="") for p in (user_id, room_id, recording_id, name))
    return f"{base}/downloads/{parts}"


async def info(api: Api, user_id: str, base: str) -> dict[str, Any]:
    limit = await api.quotas.limit_of(user_id)
    used = await api.quotas.usage(user_id, limit)
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
