"""An organization's log: appending facts to it (one or a batch, all or nothing), reading it back."""

from __future__ import annotations

import marshmallow as ma
from flask import g, request
from flask.views import MethodView

from events.errors import InvalidFact
from workers.streams import page

from ..auth import require, services
from ..edge import json_body
from ..openapi import APPEND_BODY
from ..schemas import AppendIn, AppendOut, LogPage, PageArgs
from . import Blueprint, idempotency_key, org_or_404, stream_types, top_position, wait_for_min_position

blp = Blueprint("events", __name__, url_prefix="/v1", description="An organization's log")


def append_request() -> dict:
    """The append body read through ``AppendIn``: ``{events, path, expected_version}``, or a 422
    naming the field (``expected_version``, ``If-Match``, an unknown field of a batch)."""
    body = json_body(dict, 'a JSON object: one fact or {"events": [...]}')
    try:
        return AppendIn(if_match=request.headers.get("If-Match")).load(body)
    except ma.ValidationError as e:
        field, messages = next(iter(e.normalized_messages().items()))
        raise InvalidFact(" ".join(messages), field) from None


@blp.route("/orgs/<org>/events")
class OrgEvents(MethodView):
    @blp.reads(LogPage, PageArgs)
    def get(self, args, org):
        """The organization's log in position order: /v1/streams/all for one organization."""
        wait_for_min_position(args)
        with services().read() as c:
            org_or_404(c, org)
        events, cursor = page(services().app, args["after"], args["limit"], org, stream_types(args))
        return {"org": org, "events": events, "next": cursor}

    @blp.doc(requestBody=APPEND_BODY, summary="Append one fact or a batch, all or nothing")
    @require("write")
    @blp.response(201, AppendOut)
    def post(self, org):
        wanted = append_request()
        answer = services().app.append(org, wanted["events"], writer=g.writer, path=wanted["path"],
                                       expected_version=wanted["expected_version"],
                                       idempotency_key=idempotency_key())
        services().appended(top_position(answer))
        return answer, 200 if answer.get("replayed") else 201, {"ETag": f'"{answer["version"]}"'}
