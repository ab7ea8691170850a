"""Meeting summaries from a transcript: an offline extractive summariser, and a client of
an OpenAI-compatible ``/v1/chat/completions`` (Ollama, vLLM, llama.cpp's server).

Both return the same shape: ``tldr``, ``subjects``, ``decisions``, ``next_steps`` (each a
``task`` with its ``owner`` and ``deadline`` where said), ``participants``, ``language``;
``markdown`` renders it. Plain blocking code: the service runs it in a thread.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from meetbox.speech.engines import EngineError, api_url, json_request, post

MAX_TRANSCRIPT_CHARS = 60_000  # what is sent to a chat model (its context is finite)

STOPWORDS = set(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just let lets like me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than that
    the their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you
    your yours yourself yourselves okay ok yes yeah right well think know going get got go
    one two really thing things want need make sure good thanks thank please maybe us also
    said say see today tomorrow next week month monday tuesday wednesday thursday friday
    saturday sunday time lot bit""".split()
)
DECISION = re.compile(
    r"\b(decided|decide|agreed|agree|decision|approved|settled on|go with|going with|"
    r"we will use|final answer|confirmed)\b",
    re.I,
)
ACTION = re.compile(
    r"\b(will|'ll|going to|needs? to|has to|have to|should|must|action item|todo|to-do|"
    r"follow up|take care of|assign(ed)?|responsible for|send|prepare|review)\b",
    re.I,
)
WHEN = (
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|today|"
    r"(this|next) (week|month|quarter)|(the )?end of (the )?(day|week|month|quarter)"
)
DEADLINE = re.compile(
    rf"\b((by|before|on|until|due( on| by)?)\s+)?({WHEN}|\d{{1,2}}(st|nd|rd|th)? of \w+)\b",
    re.I,
)
OWNER = re.compile(r"\b([A-Z][a-z]+)\s+(will|is going to|needs to|should|has to|'ll)\b")
NOT_NAMES = {"We", "They", "It", "This", "That", "There", "You", "He", "She", "Everyone", "I"}
SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Line:
    speaker: str
    text: str
    at: str = ""  # when it was said (ISO 8601), for chapters


def sentences(lines: list[Line]) -> list[tuple[str, str]]:
    """(speaker, sentence) in the order they were said."""
    out = []
    for line in lines:
        for part in SENTENCE.split(line.text.strip()):
            part = part.strip()
            if len(part) > 1:
                out.append((line.speaker, part))
    return out


def keywords(said: list[tuple[str, str]], count: int = 8) -> list[str]:
    words = Counter(
        w
        for _, s in said
        for w in re.findall(r"[a-zA-Z][a-zA-Z'-]{2,}", s.lower())
        if w not in STOPWORDS
    )
    return [w for w, _ in words.most_common(count)]


def _owner(speaker: str, sentence: str) -> str:
    """Who a next step is for: a name before "will" ("Maria will send it"), else the
    speaker when they said "I", else the team when they said "we"."""
    for found in OWNER.finditer(sentence):
        if found.group(1) not in NOT_NAMES:
            return found.group(1)
    if re.match(r"^\s*(i|i'll|i will)\b", sentence, re.I):
        return speaker
    return speaker if not re.match(r"^\s*(we|let's|everyone)\b", sentence, re.I) else "the team"


def _deadline(sentence: str) -> str:
    found = DEADLINE.search(sentence)
    return found.group(0).strip() if found else "not said"


def extractive(lines: list[Line], title: str = "", language: str = "en") -> dict[str, Any]:
    """Scores sentences by the meeting's frequent words; finds decisions and next steps by
    their wording; credits each to its speaker."""
    said = sentences(lines)
    people = sorted({speaker for speaker, _ in said})
    topic_words = keywords(said)
    weights = {w: len(topic_words) - i for i, w in enumerate(topic_words)}

    def score(sentence: str) -> float:
        tokens = re.findall(r"[a-zA-Z][a-zA-Z'-]+", sentence.lower())
        return sum(weights.get(t, 0) for t in tokens) / math.sqrt(len(tokens) + 1)

    decisions = [f"{s} ({speaker})" for speaker, s in said if DECISION.search(s)]
    steps = [
        {"task": s, "owner": _owner(speaker, s), "deadline": _deadline(s)}
        for speaker, s in said
        if ACTION.search(s) and not DECISION.search(s)
    ]
    ranked = sorted(range(len(said)), key=lambda i: score(said[i][1]), reverse=True)[:3]
    tldr = " ".join(f"{said[i][0]}: {said[i][1]}" for i in sorted(ranked))
    subjects = [w for w in topic_words[:5]]
    return {
        "title": title,
        "tldr": tldr or "Nothing was said.",
        "subjects": subjects,
        "decisions": decisions,
        "next_steps": steps,
        "participants": people,
        "language": language,
        "engine": "extractive",
    }


def markdown(summary: dict[str, Any]) -> str:
    out = [f"# {summary.get('title') or 'Meeting summary'}", "", summary.get("tldr", ""), ""]
    if summary.get("subjects"):
        out += ["## Subjects", *(f"- {s}" for s in summary["subjects"]), ""]
    if summary.get("decisions"):
        out += ["## Decisions", *(f"- {d}" for d in summary["decisions"]), ""]
    if summary.get("next_steps"):
        out += ["## Next steps"]
        for step in summary["next_steps"]:
            out.append(f"- {step['task']} (owner: {step['owner']}; deadline: {step['deadline']})")
        out.append("")
    if summary.get("participants"):
        out += ["## Participants", ", ".join(summary["participants"]), ""]
    return "\n".join(out).strip() + "\n"


PROMPT = """You summarise meeting transcripts. Answer with ONLY a JSON object with these keys:
"tldr" (one paragraph), "subjects" (list of short strings), "decisions" (list of strings),
"next_steps" (list of objects with "task", "owner", "deadline"; "not said" when missing),
"participants" (list of names). Use only what the transcript says; write in the
transcript's language ({language})."""


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


class ChatSummariser:
    """An OpenAI-compatible chat-completions endpoint, asked for the same JSON shape."""

    def __init__(self, url: str, model: str, api_key: str = "", timeout: float = 120.0) -> None:
        self.url = api_url(url, "/chat/completions")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def summarise(self, lines: list[Line], title: str = "", language: str = "en") -> dict[str, Any]:
        transcript = "\n".join(f"{line.speaker}: {line.text}" for line in lines)
        body = {
            "model": self.model,
            "temperature": 0,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": PROMPT.format(language=language)},
                {"role": "user", "content": transcript[-MAX_TRANSCRIPT_CHARS:]},
            ],
        }
        request = json_request(self.url, body, self.api_key)
        reply = post(request, self.timeout, f"the chat model at {self.url}")
        try:
            content = reply["choices"][0]["message"]["content"]
            data = json.loads(re.sub(r"^```(json)?|```$", "", content.strip()).strip())
        except (KeyError, IndexError, TypeError, ValueError):
            raise EngineError("the chat model did not answer the JSON summary asked for") from None
        if not isinstance(data, dict):
            raise EngineError("the chat model's summary is not a JSON object")
        steps = []
        for step in data.get("next_steps") or []:
            if isinstance(step, dict) and step.get("task"):
                steps.append(
                    {
                        "task": str(step["task"]),
                        "owner": str(step.get("owner") or "not said"),
                        "deadline": str(step.get("deadline") or "not said"),
                    }
                )
        return {
            "title": title,
            "tldr": str(data.get("tldr") or ""),
            "subjects": _strings(data.get("subjects")),
            "decisions": _strings(data.get("decisions")),
            "next_steps": steps,
            "participants": _strings(data.get("participants"))
            or sorted({line.speaker for line in lines}),
            "language": language,
            "engine": f"chat:{self.model}",
        }
