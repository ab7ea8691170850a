"""Meeting summaries (seed 001): made as a job from the meeting's transcript, then read."""

from __future__ import annotations

from aiohttp import web

from meetbox.web.api_rooms import OBJECT_ID
from meetbox.web.api_transcripts import meeting_for
from meetbox.web.replies import ID, NUMBER, STRING, array, obj, replies
from meetbox.web.routing import Ctx, Reply, RouteTable
from meetbox.web.schema import Obj

routes = RouteTable("summaries")

JOB = obj({"meetingId": ID, "state": STRING, "progress": NUMBER}, {"lines": NUMBER})
STEP = obj({"task": STRING, "owner": STRING, "deadline": STRING})
SUMMARY = obj(
    {"meetingId": ID, "state": STRING, "progress": NUMBER},
    {
        "summary": {"type": "string", "nullable": True},
        "markdown": STRING,
        "error": STRING,
        "data": obj(
            {
                "tldr": STRING,
                "subjects": array(STRING),
                "decisions": array(STRING),
                "next_steps": array(STEP),
                "participants": array(STRING),
                "language": STRING,
                "engine": STRING,
            },
            {"title": STRING, "markdown": STRING},
        ),
    },
)


@routes.add(
    "POST",
    "/transcription/generate-summary/{meetingId}",
    summary="Start a summary of the meeting's transcript (a job: poll the summary for progress)",
    description="The same access as view-transcript: the meeting's host, an admin, or a room "
    "token of the meeting's room. Progress also reaches the live room as `summary` events.",
    auth="user_or_room",
    params=Obj({"meetingId": OBJECT_ID}),
    responses=replies({202: Reply("Started", JOB)}, 403, 404, 409),
)
async def generate_summary(ctx: Ctx) -> web.Response:
    meeting = await meeting_for(ctx, ctx.params["meetingId"])
    return web.json_response(await ctx.api.summaries.start(meeting), status=202)


@routes.add(
    "GET",
    "/meeting/{meetingId}/summary",
    summary="The meeting's summary: TL;DR, subjects, decisions, next steps; JSON and Markdown",
    auth="user_or_room",
    params=Obj({"meetingId": OBJECT_ID}),
    responses=replies({200: Reply("The summary, or its job's progress", SUMMARY)}, 403, 404),
)
async def get_summary(ctx: Ctx) -> web.Response:
    meeting = await meeting_for(ctx, ctx.params["meetingId"])
    return web.json_response(await ctx.api.summaries.get(meeting["_id"]))
