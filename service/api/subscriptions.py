"""Webhook subscriptions: the log delivered to a URL, signed, with retries (rq jobs)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from events.application import SubscribeAnswer
from events.errors import InvalidFact, NotFound
from projections import answers, queries
from workers.webhooks import AddressNotAllowed, check_address

from ..auth import require, services
from ..problems import Problem
from ..schemas import RedeliverIn, Subscription, SubscriptionIn, SubscriptionList
from . import Blueprint

blp = Blueprint("subscriptions", __name__, url_prefix="/v1", description="Webhooks: the log delivered to a URL")

ACTIONS = {"pause": "paused", "resume": "resumed"}


def _subscription(sub: str, with_failures: bool = False) -> answers.Subscription:
    """A subscription as the read side has it (with its delivery failures), or a 404."""
    with services().read() as c:
        found = queries.subscription(c, sub)
        if found is not None and with_failures:
            found["failures"] = queries.subscription_failures(c, sub)
    if found is None:
        raise NotFound(f"no subscription {sub!r}", "subscription")
    return found


def _subscribe(data: dict[str, Any]) -> SubscribeAnswer:
    """Record a subscription (after checking that deliveries can run and may go to its URL) and
    wait (bounded) until the read side has it."""
    if not services().settings.redis_url:
        raise Problem(409, "Webhooks need Redis", "deliveries are rq jobs; set ORGHISTORY_REDIS_URL", "url")
    try:
        check_address(data["url"])
    except AddressNotAllowed as e:
        raise InvalidFact(str(e), "url") from None
    f = data.get("filter") or {}
    created = services().app.subscribe(data["url"], f.get("org"), f.get("types") or [], data["secret"], g.writer,
                                       data.get("from_position"))
    _applied(created["position"])
    return created


def _change(sub: str, change: str, from_position: int | None = None) -> None:
    changed = services().app.change_subscription(sub, change, g.writer, from_position)
    _applied(changed["position"])


def _applied(position: int) -> None:
    services().appended(position)
    services().wait_for(position, timeout=10)


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @blp.reads(SubscriptionList, scope="operate")
    def get(self):
        """Every webhook subscription (never its secret)."""
        with services().read() as c:
            return {"subscriptions": queries.subscriptions(c)}

    @require("operate")
    @blp.arguments(SubscriptionIn)
    @blp.response(201, Subscription)
    def post(self, data):
        """Subscribe a URL to the stream. Deliveries are rq jobs: this needs ORGHISTORY_REDIS_URL."""
        return _subscription(_subscribe(data)["id"]), 201


@blp.route("/subscriptions/<sub>")
class SubscriptionOne(MethodView):
    @blp.reads(Subscription, scope="operate")
    def get(self, sub):
        """One subscription, with its delivery state and failures."""
        return _subscription(sub, with_failures=True)

    @require("operate")
    @blp.response(204)
    def delete(self, sub):
        """Delete a subscription: no more deliveries."""
        _change(sub, "deleted")
        return ""


@blp.route("/subscriptions/<sub>/<any(pause, resume):action>", methods=["POST"])
@require("operate")
@blp.response(200, Subscription)
def subscription_action(sub, action):
    """Pause or resume a subscription's deliveries."""
    _change(sub, ACTIONS[action])
    return _subscription(sub)


@blp.route("/subscriptions/<sub>/redeliver", methods=["POST"])
@require("operate")
@blp.arguments(RedeliverIn)
@blp.response(200, Subscription)
def subscription_redeliver(data, sub):
    """Deliver again from a position."""
    _change(sub, "redeliver", data["from_position"])
    return _subscription(sub)
