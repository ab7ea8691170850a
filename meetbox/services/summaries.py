"""Meeting summaries as jobs: started by ``POST /transcription/generate-summary/:id``, with
progress (in the store, and as ``summary`` events to the meeting's room while it is live),
stored encrypted like the transcript; the meeting's ``summaryGenerated`` set when done."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from meetbox.config import Settings
from meetbox.errors import AlreadyExists, FailedPrecondition, NotFound
from meetbox.services import cipher
from meetbox.sfu.tasks import BackgroundTasks
from meetbox.speech.engines import EngineError
from meetbox.speech.summary import ChatSummariser, Line, extractive, markdown
from meetbox.store import Document, Store, now_iso

logger = logging.getLogger(__name__)

Announce = Callable[[str, str, dict[str, Any]], Awaitable[None]]
MAX_LINES = 10_000


class SummaryJobs:
    """Owns the running summary jobs; ``close()`` cancels them."""

    def __init__(
        self, store: Store, settings: Settings, secret: str, announce: Announce | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.secret = secret
        self.announce = announce
        self.running: dict[str, asyncio.Task[None]] = {}  # by meeting id
        self._tasks = BackgroundTasks()

    async def start(self, meeting: Document) -> dict[str, Any]:
        meeting_id = str(meeting["_id"])
        if meeting_id in self.running:
            raise AlreadyExists("a summary of this meeting is being made")
        count = await self.store.transcripts.count({"meetingId": meeting_id})
        if count == 0:
            raise FailedPrecondition("this meeting has no transcript to summarise yet")
        fields = {"state": "running", "progress": 0.0, "error": None, "updatedAt": now_iso()}
        await self.store.summaries.upsert({"meetingId": meeting_id}, fields)
        task = self._tasks.spawn(self._run(meeting))
        self.running[meeting_id] = task
        task.add_done_callback(lambda _: self.running.pop(meeting_id, None))
        return {"meetingId": meeting_id, "state": "running", "progress": 0.0, "lines": count}

    async def _progress(self, meeting: Document, progress: float, **extra: Any) -> None:
        fields = {"progress": round(progress, 3), "updatedAt": now_iso(), **extra}
        await self.store.summaries.update({"meetingId": meeting["_id"]}, set=fields)
        room = meeting.get("roomId")
        if room and self.announce is not None:
            data = {"type": "summary", "meetingId": meeting["_id"], **fields}
            await self.announce(str(room), "summary", data)

    def _lines(self, docs: list[Document]) -> tuple[list[Line], str]:
        lines, languages = [], []
        for doc in docs:
            text = cipher.readable(doc["message"], bool(doc.get("isEncrypted")), self.secret)
            lines.append(Line(str(doc.get("userName") or "someone"), text, doc["createdAt"]))
            if doc.get("language"):
                languages.append(str(doc["language"]))
        language = max(set(languages), key=languages.count) if languages else "en"
        return lines, language

    def _summarise(self, lines: list[Line], title: str, language: str) -> dict[str, Any]:
        speech = self.settings.speech
        if speech.summary_engine == "http":
            engine = ChatSummariser(
                speech.summary_url, speech.summary_model, speech.summary_api_key
            )
            return engine.summarise(lines, title, language)
        return extractive(lines, title, language)

    async def _run(self, meeting: Document) -> None:
        meeting_id = meeting["_id"]
        try:
            docs = await self.store.transcripts.find(
                {"meetingId": meeting_id}, sort=[("createdAt", 1)], limit=MAX_LINES
            )
            await self._progress(meeting, 0.1)
            lines, language = await asyncio.to_thread(self._lines, docs)
            await self._progress(meeting, 0.3)
            title = str(meeting.get("title") or "")
            summary = await asyncio.to_thread(self._summarise, lines, title, language)
            summary["markdown"] = markdown(summary)
            await self._progress(meeting, 0.9)
            stored = await asyncio.to_thread(cipher.encrypt, json.dumps(summary), self.secret)
            await self.store.summaries.update(
                {"meetingId": meeting_id},
                set={"summary": stored, "isEncrypted": True, "engine": summary["engine"]},
            )
            await self.store.meetings.update(
                {"_id": meeting_id}, set={"summaryGenerated": True, "updatedAt": now_iso()}
            )
            await self._progress(meeting, 1.0, state="done")
        except EngineError as exc:
            logger.warning("summary of meeting %s failed: %s", meeting_id, exc)
            await self._progress(meeting, 1.0, state="failed", error=str(exc))

    async def get(self, meeting_id: str) -> dict[str, Any]:
        doc = await self.store.summaries.find_one({"meetingId": meeting_id})
        if doc is None:
            raise NotFound(
                "this meeting has no summary: POST /transcription/generate-summary/ first"
            )
        out: dict[str, Any] = {
            "meetingId": meeting_id,
            "state": doc.get("state", "done"),
            "progress": doc.get("progress", 1.0),
        }
        if doc.get("error"):
            out["error"] = doc["error"]
        if doc.get("summary"):
            text = await asyncio.to_thread(cipher.decrypt, doc["summary"], self.secret)
            data = json.loads(text)
            out.update(summary=data["tldr"], data=data, markdown=data.get("markdown", ""))
        else:
            out["summary"] = None
        return out

    async def close(self) -> None:
        for task in list(self.running.values()):
            task.cancel()
        await self._tasks.drain(1.0)
