"""Datasets kept in sync: Popolo and FollowTheMoney imports, their record, and exports."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response, g, request
from flask.views import MethodView

from events import imports
from events.errors import InvalidFact, NotFound
from projections import queries
from projections.ftm import export as ftm_export
from projections.popolo import export as popolo_export

from ..auth import require, services
from ..edge import json_body
from ..schemas import ExportArgs, ImportArgs, ImportList, ImportOut, ImportReport
from ..schemas import Popolo as PopoloDocument  # the route's class below is Popolo
from . import Blueprint, org_or_404

blp = Blueprint("imports", __name__, url_prefix="/v1", description="Datasets kept in sync: imports and exports")

FTM_MEDIA = "application/x-ndjson"


def _sync(fmt: str, args: Mapping[str, Any], org: str, document: dict[str, Any] | list[Any] | str,
          ) -> tuple[dict[str, Any], int]:
    data = imports.read(fmt, document)
    report = services().app.sync(org, data, source=args.get("source"), dry_run=args["dry_run"], writer=g.writer,
                                 org_name=args.get("name"))
    if report["stored"]:
        services().appended(report["position"])
    return report, 201 if report["stored"] else 200


@blp.route("/orgs/<org>/popolo")
class Popolo(MethodView):
    @blp.reads(PopoloDocument, ExportArgs, scope="operate")
    def get(self, args, org):
        """The organization as Popolo JSON (what we currently believe); importing it back changes nothing."""
        with services().read() as c:
            org_or_404(c, org)
            return popolo_export(c, org, args.get("source"))

    @require("operate")
    @blp.query(ImportArgs)
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {
        "type": "object", "description": "a Popolo document: persons, organizations, posts, events, memberships"}}}})
    @blp.response(201, ImportReport)
    @blp.alt_response(200, schema=ImportReport, description="nothing changed, or a dry run: nothing stored")
    def post(self, args, org):
        """Sync the organization with a Popolo document: record only what changed since this
        source's last import, in one atomic change (``dry_run=true``: show the diff, store nothing)."""
        body = json_body(dict, "a Popolo JSON object with persons, organizations and memberships")
        return _sync("popolo", args, org, body)


@blp.route("/orgs/<org>/ftm")
class FollowTheMoney(MethodView):
    @require("operate")
    @blp.query(ExportArgs)
    @blp.response(200, content_type=FTM_MEDIA)
    @blp.doc(responses={"200": {"description": "FollowTheMoney entities", "content": {FTM_MEDIA: {"schema": {
        "type": "string", "description": "one JSON object (an entity: id, schema, properties) a line"}}}}})
    def get(self, args, org):
        """The organization as FollowTheMoney entities, one JSON object a line."""
        with services().read() as c:
            org_or_404(c, org)
            lines = [json.dumps(e, ensure_ascii=False) + "\n" for e in ftm_export(c, org, args.get("source"))]
        return Response("".join(lines), mimetype=FTM_MEDIA)

    @require("operate")
    @blp.query(ImportArgs)
    @blp.doc(requestBody={"required": True, "content": {
        FTM_MEDIA: {"schema": {"type": "string", "description": "FollowTheMoney entities, one JSON object a line"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}})
    @blp.response(201, ImportReport)
    @blp.alt_response(200, schema=ImportReport, description="nothing changed, or a dry run: nothing stored")
    def post(self, args, org):
        """Sync the organization with FollowTheMoney entities (NDJSON, or a JSON array)."""
        if request.mimetype == "application/json":
            body = json_body(list, "a JSON array of entities (or NDJSON)")
        else:
            try:
                body = request.get_data(cache=False).decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidFact("the body must be UTF-8 text", "body") from None
        return _sync("ftm", args, org, body)


@blp.route("/orgs/<org>/imports")
@blp.reads(ImportList, ExportArgs)
def list_imports(args, org):
    """Each import that stored something: its source, document digest, summary and events."""
    with services().read() as c:
        org_or_404(c, org)
        return {"org": org, "imports": queries.list_imports(c, org, args.get("source"))}


@blp.route("/orgs/<org>/imports/<import_id>")
@blp.reads(ImportOut)
def get_import(org, import_id):
    """One import: its source, document digest, summary and the events it recorded."""
    with services().read() as c:
        org_or_404(c, org)
        found = queries.get_import(c, org, import_id)
    if found is None:
        raise NotFound(f"no import {import_id!r} in {org}", "import_id")
    return found
