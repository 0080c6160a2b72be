"""The whole log: pages by position, and a live Server-Sent Events tail."""

from __future__ import annotations

from flask import Response, request, stream_with_context

from events.vocabulary import whole_number

from ..auth import require, services
from ..schemas import LiveArgs, LogPage, StreamArgs
from ..streams import page, sse
from . import Blueprint, stream_types

blp = Blueprint("streams", __name__, url_prefix="/v1", description="The whole log, paged or live")

LIVE_ANSWER = {"200": {"description": "events as they are appended, one SSE message each (id: the position, "
                                      "data: the event as JSON), after a catch-up from the store",
                       "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


@blp.route("/streams/all")
@blp.reads(LogPage, StreamArgs)
def stream_all(args):
    """Events in position order after ``after``. Positions may have gaps: continue from ``next``."""
    events, cursor = page(services().app, args["after"], args["limit"], args.get("org"), stream_types(args))
    return {"events": events, "next": cursor, "head": services().app.head_position()}


@blp.route("/streams/all/live")
@require("read")
@blp.query(LiveArgs)
@blp.doc(responses=LIVE_ANSWER)
def stream_live(args):
    """Server-Sent Events: ``id`` is the position; resumes from ``Last-Event-ID`` or ``after``."""
    after = args.get("after", 0)
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        after = whole_number(last_event_id, "Last-Event-ID")
    s = services()
    return Response(stream_with_context(sse(s.app, s.wakeup, after, args.get("org"), stream_types(args))),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
