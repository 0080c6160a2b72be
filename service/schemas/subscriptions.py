"""Answers about webhook subscriptions and their delivery state."""

from __future__ import annotations

from marshmallow import fields

from .answer import Answer, instant_str, nullable_str, text_str


class SubscriptionFilter(Answer):
    org = nullable_str()
    types = fields.List(fields.String())


class DeliveryFailure(Answer):
    position = fields.Integer()
    event_id = nullable_str()
    error = text_str()
    failed_at = instant_str()


class Subscription(Answer):
    """A webhook subscription as operators see it (never its secret)."""

    id = text_str(required=True)
    url = text_str(required=True)
    filter = fields.Nested(SubscriptionFilter, required=True)
    status = text_str(required=True)
    delivered_up_to = fields.Integer(allow_none=True)
    last_error = nullable_str()
    created_at = instant_str(required=True)
    failures = fields.List(fields.Nested(DeliveryFailure))


class SubscriptionList(Answer):
    subscriptions = fields.List(fields.Nested(Subscription), required=True)
