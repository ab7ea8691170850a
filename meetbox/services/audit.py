"""The audit log of sensitive actions: who did what to which resource, when, and how it ended."""

from __future__ import annotations

import logging
from typing import Any

from meetbox.errors import MeetboxError
from meetbox.store import Store, now_iso

logger = logging.getLogger(__name__)


class AuditLog:
    """Records sensitive actions (who, what, outcome, from where) in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(
        self,
        action: str,
        *,
        user_id: str | None,
        resource: dict[str, Any],
        outcome: str,
        address: str = "",
        detail: str = "",
    ) -> None:
        entry = {
            "at": now_iso(),
            "action": action,
            "userId": user_id,
            "resource": resource,
            "outcome": outcome,
            "address": address,
            "detail": detail,
        }
        try:
            await self.store.audit.insert(entry)
        except MeetboxError as exc:
            # the action has happened; losing its audit entry is logged loudly instead
            logger.error("audit entry lost (%s): %s", exc.message, entry)
