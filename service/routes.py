"""HTTP routes, thin: parse, call, render."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import g, request
from flask.views import MethodView

from events.errors import InvalidFact, NotFound
from events.vocabulary import whole_number
from projections import queries

from .api import Blueprint, org_or_404
from .auth import require, services
from .edge import json_body
from .openapi import APPEND_BODY, answer
from .problems import Problem
from .schemas import (
    AppendOut,
    AsOfArgs,
    ChangesArgs,
    HistoryArgs,
    LiveArgs,
    MergeIn,
    MergeRetractIn,
    OrgIn,
    PageArgs,
    PeoplePageArgs,
    PersonIn,
    RedeliverIn,
    ReplayIn,
    Roster,
    StreamArgs,
    SubscriptionIn,
    TimelineArgs,
    UnitIn,
    known_at_text,
)

blp = Blueprint("v1", __name__, url_prefix="/v1", description="Organizations, people and their history")


def _wait(args: dict) -> int:
    """Read-your-writes: wait (bounded) for ``min_position``; answer 503 if it is not reached."""
    wanted = args.get("min_position")
    if not wanted:
        return 0
    head = services().app.head_position()
    if wanted > head:
        # Nothing to wait for: no append has reached it (a thread held for nothing is a cheap attack).
        raise InvalidFact(f"is beyond the head of the log ({head})", "min_position")
    if not services().wait_for(wanted):
        raise Problem(503, "Projection behind", f"the projection has not reached position {wanted} yet; retry",
                      "min_position")
    return wanted


def _idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header: 1 to 200 printable ASCII characters, or None."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 200 and key.isascii() and key.isprintable()):
        raise InvalidFact("must be 1 to 200 printable ASCII characters", "Idempotency-Key")
    return key


def _top(answer: dict) -> int:
    return max(e["position"] for e in answer["events"])


def _today():
    return datetime.now(timezone.utc).date()


# --- organizations, units, people -------------------------------------------------------------

@blp.route("/orgs")
class Orgs(MethodView):
    @require("read")
    @blp.response(200)
    @blp.doc(**answer("OrgList"))
    def get(self):
        """Every organization: slug, name and when it was recorded."""
        with services().read() as c:
            return {"orgs": queries.list_orgs(c)}

    @require("write")
    @blp.arguments(OrgIn)
    @blp.response(201)
    @blp.doc(**answer("Registered", 201, 200))
    def post(self, data):
        """Register an organization (the same slug and name again is a no-op)."""
        org, created = services().app.register_org(data["slug"], data["name"], g.writer)
        services().appended(org["position"])
        return org, 201 if created else 200


@blp.route("/orgs/<org>")
@require("read")
@blp.response(200)
@blp.doc(**answer("Org"))
def get_org(org):
    """One organization."""
    with services().read() as c:
        return org_or_404(c, org)


@blp.route("/orgs/<org>/units")
class Units(MethodView):
    @require("read")
    @blp.response(200)
    @blp.doc(**answer("UnitList"))
    def get(self, org):
        """The organization's units (board, teams, committees), formed and dissolved when."""
        with services().read() as c:
            org_or_404(c, org)
            return {"org": org, "units": queries.list_units(c, org)}

    @require("write")
    @blp.arguments(UnitIn)
    @blp.response(201, AppendOut)
    def post(self, data, org):
        """Form a unit (a unit_formed fact)."""
        fact = {"type": "unit_formed", "unit": data.pop("slug"), **data}
        answer = services().app.append(org, [fact], writer=g.writer, path="", idempotency_key=_idempotency_key())
        services().appended(_top(answer))
        return answer


@blp.route("/people")
class People(MethodView):
    @require("read")
    @blp.arguments(PeoplePageArgs, location="query", unknown="raise")
    @blp.response(200)
    @blp.doc(**answer("PersonList"))
    def get(self, args):
        """People, in slug order, a page at a time."""
        with services().read() as c:
            return {"people": queries.list_people(c, args["after"], args["limit"])}

    @require("write")
    @blp.arguments(PersonIn)
    @blp.response(201)
    @blp.doc(**answer("Registered", 201, 200))
    def post(self, data):
        """Register a person (the same slug and name again is a no-op)."""
        person, created = services().app.register_person(data["slug"], data["name"], g.writer)
        services().appended(person["position"])
        return person, 201 if created else 200


@blp.route("/people/<person>")
@require("read")
@blp.response(200)
@blp.doc(**answer("Person"))
def get_person(person):
    """One person, with identifiers and merges."""
    with services().read() as c:
        found = queries.get_person(c, person)
    if found is None:
        raise NotFound(f"no person {person!r}", "person")
    return found


@blp.route("/people/<person>/merge", methods=["POST"])
@require("write")
@blp.arguments(MergeIn)
@blp.response(201)
@blp.doc(**answer("Merge", 201))
def merge_person(data, person):
    """Record that ``person`` is the person ``into`` (two records of one person, from two sources
    say): answers then show one person with both histories. Undone by retracting the merge."""
    merged = services().app.merge_people(person, data["into"], data.get("reason"), g.writer)
    services().appended(merged["position"])
    return merged


@blp.route("/people/<person>/merge/retract", methods=["POST"])
@require("write")
@blp.arguments(MergeRetractIn)
@blp.response(201)
@blp.doc(**answer("Merge", 201))
def retract_merge(data, person):
    """The merge of ``person`` no longer counts: two people again, each with their own history."""
    retracted = services().app.retract_merge(person, data["reason"], g.writer)
    services().appended(retracted["position"])
    return retracted


# --- the log ------------------------------------------------------------------------------------

@blp.route("/orgs/<org>/events")
class OrgEvents(MethodView):
    @require("read")
    @blp.arguments(PageArgs, location="query", unknown="raise")
    @blp.response(200)
    @blp.doc(**answer("LogPage"))
    def get(self, args, org):
        """The organization's log in position order: /v1/streams/all for one organization."""
        from workers.streams import page

        _wait(args)
        with services().read() as c:
            org_or_404(c, org)
        events, cursor = page(services().app, args["after"], args["limit"], org, _types(args))
        return {"org": org, "events": events, "next": cursor}

    @blp.doc(requestBody=APPEND_BODY, summary="Append one fact or a batch, all or nothing")
    @require("write")
    @blp.response(201, AppendOut)
    def post(self, org):
        body = json_body(dict, 'a JSON object: one fact or {"events": [...]}')
        expected = body.get("expected_version")
        if "events" in body:
            unknown = sorted(set(body) - {"events", "expected_version"})
            if unknown:
                raise InvalidFact("unknown field", unknown[0])
            events, path = body["events"], "events"
        else:
            body = dict(body)
            body.pop("expected_version", None)
            events, path = [body], ""
        if_match = request.headers.get("If-Match")
        if if_match is not None:
            expected = whole_number(if_match.strip().removeprefix("W/").strip('"'), "If-Match", minimum=1)
        elif expected is not None:
            if isinstance(expected, str):  # a JSON number, not text
                raise InvalidFact("must be a whole number", "expected_version")
            expected = whole_number(expected, "expected_version", minimum=1)
        answer = services().app.append(org, events, writer=g.writer, expected_version=expected,
                                       idempotency_key=_idempotency_key(), path=path)
        services().appended(_top(answer))
        headers = {"ETag": f'"{answer["version"]}"'}
        return answer, 200 if answer.get("replayed") else 201, headers


# --- as-of answers ------------------------------------------------------------------------------

def _roster_answer(c, org: str, args: dict, position: int) -> dict:
    return {"org": org, "as_of": (args.get("as_of") or _today()).isoformat(),
            "known_at": known_at_text(args.get("known_at")), "position": queries.position(c), "version": c.version}


def _with_evidence(c, org: str, answer: dict, *lists: list) -> dict:
    ids = {i for entries in lists for e in entries for i in e["evidence"]}
    answer["evidence"] = queries.evidence(c, org, ids)
    return answer


@blp.route("/orgs/<org>/units/<unit>/members")
@require("read")
@blp.arguments(AsOfArgs, location="query", unknown="raise")
@blp.response(200, Roster)
def unit_members(args, org, unit):
    """Who was in a unit on a date, as known now or at a record time, with evidence."""
    position = _wait(args)
    with services().read(args.get("version")) as c:
        org_or_404(c, org)
        if queries.get_unit(c, org, unit) is None:
            raise NotFound(f"no unit {unit!r} in {org}", "unit")
        as_of = args.get("as_of") or _today()
        members = queries.members(c, org, [unit], as_of, known_at_text(args.get("known_at")))
        answer = _roster_answer(c, org, args, position)
        answer.update(unit=unit, members=members)
        return _with_evidence(c, org, answer, members)


@blp.route("/orgs/<org>/units/<unit>/members/<person>/why")
@require("read")
@blp.arguments(AsOfArgs, location="query", unknown="raise")
@blp.response(200)
@blp.doc(**answer("Why"))
def why_member(args, org, unit, person):
    """Why a person is (or is not) in a unit on a date: the chain of events, with sources."""
    return _why(args, org, unit, person)


@blp.route("/orgs/<org>/roles/<person>/why")
@require("read")
@blp.arguments(AsOfArgs, location="query", unknown="raise")
@blp.response(200)
@blp.doc(**answer("Why"))
def why_role(args, org, person):
    """Why a person holds (or does not hold) organization roles on a date."""
    return _why(args, org, None, person)


def _why(args, org, unit, person):
    _wait(args)
    with services().read(args.get("version")) as c:
        org_or_404(c, org)
        if unit is not None and queries.get_unit(c, org, unit) is None:
            raise NotFound(f"no unit {unit!r} in {org}", "unit")
        if queries.get_person(c, person) is None:
            raise NotFound(f"no person {person!r}", "person")
        return queries.why(c, org, unit, person, args.get("as_of") or _today(), known_at_text(args.get("known_at")))


@blp.route("/streams/all")
@require("read")
@blp.arguments(StreamArgs, location="query", unknown="raise")
@blp.response(200)
@blp.doc(**answer("LogPage"))
def stream_all(args):
    """Events in position order after ``after``. Positions may have gaps: continue from ``next``."""
    from .streams import page

    events, cursor = page(services().app, args["after"], args["limit"], args.get("org"), _types(args))
    return {"events": events, "next": cursor, "head": services().app.head_position()}


@blp.route("/streams/all/live")
@require("read")
@blp.arguments(LiveArgs, location="query", unknown="raise")
@blp.doc(responses={"200": {"description": "events as they are appended, one SSE message each (id: the position, "
                                           "data: the event as JSON), after a catch-up from the store",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
def stream_live(args):
    """Server-Sent Events: ``id`` is the position; resumes from ``Last-Event-ID`` or ``after``."""
    from flask import Response, stream_with_context

    from .streams import sse

    after = args.get("after", 0)
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id:
        after = whole_number(last_event_id, "Last-Event-ID")
    s = services()
    return Response(stream_with_context(sse(s.app, s.wakeup, after, args.get("org"), _types(args))),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _types(args) -> set[str] | None:
    return set(args["type"]) if args.get("type") else None


def _subscription(c, sub: str) -> dict:
    found = queries.subscription(c, sub)
    if found is None:
        raise NotFound(f"no subscription {sub!r}", "subscription")
    return found


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @require("operate")
    @blp.response(200)
    @blp.doc(**answer("SubscriptionList"))
    def get(self):
        """Every webhook subscription (never its secret)."""
        with services().read() as c:
            return {"subscriptions": queries.subscriptions(c)}

    @require("operate")
    @blp.arguments(SubscriptionIn)
    @blp.response(201)
    @blp.doc(**answer("Subscription", 201))
    def post(self, data):
        """Subscribe a URL to the stream. Deliveries are rq jobs: this needs ORGHISTORY_REDIS_URL."""
        from workers.webhooks import AddressNotAllowed, check_address

        if not services().settings.redis_url:
            raise Problem(409, "Webhooks need Redis", "deliveries are rq jobs; set ORGHISTORY_REDIS_URL", "url")
        try:
            check_address(data["url"])
        except AddressNotAllowed as e:
            raise InvalidFact(str(e), "url") from None
        f = data.get("filter") or {}
        created = services().app.subscribe(data["url"], f.get("org"), f.get("types") or [], data["secret"], g.writer,
                                           data.get("from_position"))
        services().appended(created["position"])
        services().wait_for(created["position"], timeout=10)
        with services().read() as c:
            return _subscription(c, created["id"]), 201


@blp.route("/subscriptions/<sub>")
class SubscriptionOne(MethodView):
    @require("operate")
    @blp.response(200)
    @blp.doc(**answer("Subscription"))
    def get(self, sub):
        """One subscription, with its delivery state and failures."""
        with services().read() as c:
            return {**_subscription(c, sub), "failures": queries.subscription_failures(c, sub)}

    @require("operate")
    @blp.response(204)
    def delete(self, sub):
        """Delete a subscription: no more deliveries."""
        changed = services().app.change_subscription(sub, "deleted", g.writer)
        services().appended(changed["position"])
        services().wait_for(changed["position"], timeout=10)
        return ""


@blp.route("/subscriptions/<sub>/<any(pause, resume):action>", methods=["POST"])
@require("operate")
@blp.response(200)
@blp.doc(**answer("Subscription"))
def subscription_action(sub, action):
    """Pause or resume a subscription's deliveries."""
    changed = services().app.change_subscription(sub, {"pause": "paused", "resume": "resumed"}[action], g.writer)
    services().appended(changed["position"])
    services().wait_for(changed["position"], timeout=10)
    with services().read() as c:
        return _subscription(c, sub)


@blp.route("/subscriptions/<sub>/redeliver", methods=["POST"])
@require("operate")
@blp.arguments(RedeliverIn)
@blp.response(200)
@blp.doc(**answer("Subscription"))
def subscription_redeliver(data, sub):
    """Deliver again from a position."""
    changed = services().app.change_subscription(sub, "redeliver", g.writer, data["from_position"])
    services().appended(changed["position"])
    services().wait_for(changed["position"], timeout=10)
    with services().read() as c:
        return _subscription(c, sub)


@blp.route("/ops/projections")
@require("operate")
@blp.response(200)
@blp.doc(**answer("Projections"))
def ops_projections():
    """Head of the log, each projection's position, version and lag; rq queue and workers."""
    from workers.status import status

    return status(services().settings)


def _projection(name: str) -> str:
    from projections.versions import UnknownProjection, check_name

    try:
        return check_name(name)
    except UnknownProjection as e:
        raise NotFound(str(e), "name") from None


def _start_job(kind: str, name: str, func: str, *args) -> tuple[dict, int, dict]:
    from workers import joblog

    s = services()
    job_id = joblog.create(s.db, kind, name)
    try:
        s.dispatcher.start_job(func, job_id, name, job_id, *args)
    except Exception as e:  # Redis down: nothing was started, say so
        joblog.update(s.db, job_id, state="failed", error=f"could not enqueue: {e}")
        raise Problem(503, "Service Unavailable", f"could not start the {kind}: {e}", None) from None
    return joblog.get(s.db, job_id), 202, {"Location": f"/v1/ops/jobs/{job_id}"}


@blp.route("/ops/projections/<name>/rebuild", methods=["POST"])
@require("operate")
@blp.response(202)
@blp.doc(**answer("Job", 202))
def ops_rebuild(name):
    """Rebuild a projection blue/green: a new version is built beside the live one, readers switch
    to it atomically when it has caught up, the old one is dropped. Progress: the job's Location."""
    from workers import joblog

    _projection(name)
    running = joblog.active(services().db, name, "rebuild")
    if running is not None:
        raise Problem(409, "Conflict", f"a rebuild of {name} is already {running['state']}", "name",
                      job=f"/v1/ops/jobs/{running['id']}")
    return _start_job("rebuild", name, "workers.jobs.rebuild_job")


@blp.route("/ops/projections/<name>/replays", methods=["POST"])
@require("operate")
@blp.arguments(ReplayIn)
@blp.response(202)
@blp.doc(**answer("Job", 202))
def ops_replay(data, name):
    """Fold a scratch version up to a position or record time, queryable with ``?version=``."""
    _projection(name)
    until = data.get("until_recorded")
    return _start_job("replay", name, "workers.jobs.replay_job", data.get("until_position"),
                      until.isoformat() if until else None)


@blp.route("/ops/projections/<name>/versions")
@require("operate")
@blp.response(200)
@blp.doc(**answer("Versions"))
def ops_versions(name):
    """Every version of a projection not yet dropped: live, building, scratch, retired."""
    from projections import versions
    from workers import joblog

    _projection(name)
    with services().read(name=name) as c:
        return {"name": name, "versions": joblog.with_jobs(c, versions.listing(c, name))}


@blp.route("/ops/projections/<name>/versions/<int:version>", methods=["DELETE"])
@require("operate")
@blp.response(204)
def ops_drop_version(name, version):
    """Drop a scratch (replay), retired or abandoned version. The live one cannot be dropped."""
    from workers.rebuild import drop_version

    _projection(name)
    try:
        dropped = drop_version(services().settings, name, version)
    except LookupError as e:
        raise NotFound(str(e), "version") from None
    except ValueError as e:
        raise Problem(409, "Conflict", str(e), "version") from None
    if not dropped:
        raise Problem(503, "Service Unavailable", "readers from before the switch are still running; retry",
                      "version", headers={"Retry-After": "5"})
    return None


@blp.route("/ops/jobs/<job_id>")
@require("operate")
@blp.response(200)
@blp.doc(**answer("Job"))
def ops_job(job_id):
    """A rebuild's or replay's state and progress: position reached, head, rate, ETA."""
    from workers import joblog

    job = joblog.get(services().db, job_id)
    if job is None:
        raise NotFound(f"no job {job_id!r}", "job_id")
    if job["state"] in ("queued", "running") and services().settings.redis_url:
        from workers.status import rq_job_failure

        failure = rq_job_failure(services().settings, job_id)
        if failure:  # the worker died or rq gave up on it: the row alone would say "running" forever
            job.update(state="failed", error=failure)
    return job


@blp.route("/ops/parked")
@require("operate")
@blp.response(200)
@blp.doc(**answer("ParkedList"))
def ops_parked():
    """Events whose fold raised, with their errors (unresolved ones)."""
    from workers.catchup import parked

    return {"parked": parked(services().settings)}


@blp.route("/ops/parked/<int:position>/<any(retry, skip):action>", methods=["POST"])
@require("operate")
@blp.response(200)
@blp.doc(**answer("Parked"))
def ops_parked_action(position, action):
    """Retry a parked event (after a fix) or skip it for good."""
    from workers.catchup import retry_parked, skip_parked

    try:
        row = (retry_parked if action == "retry" else skip_parked)(services().settings, position)
    except LookupError as e:
        raise NotFound(str(e), "position") from None
    return row


@blp.route("/orgs/<org>/board")
@require("read")
@blp.arguments(AsOfArgs, location="query", unknown="raise")
@blp.response(200, Roster)
def board(args, org):
    """The board on a date: directors and observers, as known now or at a record time, with evidence."""
    position = _wait(args)
    with services().read(args.get("version")) as c:
        org_or_404(c, org)
        units = queries.board_units(c, org)
        as_of = args.get("as_of") or _today()
        seats = queries.members(c, org, units, as_of, known_at_text(args.get("known_at")))
        answer = _roster_answer(c, org, args, position)
        answer.update(units=units, directors=[e for e in seats if e["role"] != "observer"],
                      observers=[e for e in seats if e["role"] == "observer"])
        return _with_evidence(c, org, answer, seats)


@blp.route("/orgs/<org>/roles")
@require("read")
@blp.arguments(AsOfArgs, location="query", unknown="raise")
@blp.response(200, Roster)
def roles(args, org):
    """Organization-level roles (CEO, CTO, ...) on a date, with evidence."""
    position = _wait(args)
    with services().read(args.get("version")) as c:
        org_or_404(c, org)
        held = queries.roles(c, org, args.get("as_of") or _today(), known_at_text(args.get("known_at")))
        answer = _roster_answer(c, org, args, position)
        answer["roles"] = held
        return _with_evidence(c, org, answer, held)


@blp.route("/orgs/<org>/changes")
@require("read")
@blp.arguments(ChangesArgs, location="query", unknown="raise")
@blp.response(200)
@blp.doc(**answer("Changes"))
def changes(args, org):
    """Who joined and who left which unit and role between two dates, with causes."""
    _wait(args)
    with services().read(args.get("version")) as c:
        org_or_404(c, org)
        found = queries.changes(c, org, args["from_"], args["to"], known_at_text(args.get("known_at")),
                                args.get("import_"))
        return {"org": org, "from": args["from_"].isoformat(), "to": args["to"].isoformat(),
                "known_at": known_at_text(args.get("known_at")), "changes": found}


@blp.route("/orgs/<org>/timeline")
@require("read")
@blp.arguments(TimelineArgs, location="query", unknown="raise")
@blp.response(200)
@blp.doc(**answer("Timeline"))
def timeline(args, org):
    """Every fact in valid-time order, with sources, confidence and record time."""
    _wait(args)
    with services().read(args.get("version")) as c:
        org_or_404(c, org)
        facts = queries.timeline(c, org, known_at_text(args.get("known_at")), args.get("from_"), args.get("to"),
                                 args["limit"], args.get("import_"))
        return {"org": org, "known_at": known_at_text(args.get("known_at")), "events": facts}


@blp.route("/people/<person>/history")
@require("read")
@blp.arguments(HistoryArgs, location="query", unknown="raise")
@blp.response(200)
@blp.doc(**answer("PersonHistory"))
def person_history(args, person):
    """Every seat and role a person held, in every organization."""
    _wait(args)
    with services().read(args.get("version")) as c:
        found = queries.get_person(c, person)
        if found is None:
            raise NotFound(f"no person {person!r}", "person")
        return {**found, "known_at": known_at_text(args.get("known_at")),
                "history": queries.person_history(c, person, known_at_text(args.get("known_at")))}
