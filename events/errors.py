"""Small named domain errors. The service maps each to an HTTP status; nothing here knows HTTP."""

from __future__ import annotations


class DomainError(Exception):
    """Base class. ``field`` names the offending input (a JSON path such as ``events[2].effective``)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidFact(DomainError):
    """The input cannot be a fact: a missing or malformed field, an impossible date."""


class UnknownReference(DomainError):
    """The fact names a unit, person, organization or event that the store does not know."""


class AlreadyExists(DomainError):
    """A registration of something that already exists under a different definition."""


class NotFound(DomainError):
    """The thing asked for does not exist."""


class VersionConflict(DomainError):
    """The writer expected a different version of the organization's log (optimistic concurrency)."""

    def __init__(self, message: str, expected: int, actual: int):
        super().__init__(message, field="expected_version")
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key was sent with a different request."""


class Unavailable(DomainError):
    """A capability this installation lacks (an optional package that is not installed)."""
