"""Decoding stored events at the speed of the JSON parser, not of the mapper.

The eventsourcing library decodes a stored event's state with ``json`` and an ``object_hook``
written in Python, which runs for every JSON object in it; a rebuild decodes every event of the
log, and that was most of the library's own scan time. ``FastDecoder`` does exactly what
``Mapper.to_domain_event`` does (resolve the topic, decode the state, convert the originator id,
run the class's upcasters, build the event object), with ``orjson`` and with the one custom type
our events hold (the ``timestamp``) decoded directly. Anything else falls back to the mapper: a
cipher or compressor configured, a state holding another custom type, a state ``orjson`` refuses.
The library stays the only writer and the source of truth; ``tests/integration/test_fastdecode.py`` checks
that both decodings are equal for every event class and stored version.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Callable
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import resolve_topic

from .fastencode import FastJSONTranscoder

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    orjson = None  # type: ignore[assignment]

_CUSTOM = b'"_type_"'  # a JSON object key only the transcoder writes (inside strings it is escaped)


@lru_cache(maxsize=None)
def _resolve(topic: str) -> tuple[type[DomainEventProtocol[UUID]], int, Callable[[UUID | str], UUID | str]]:
    cls = resolve_topic(topic)
    return cls, getattr(cls, "class_version", 1), find_id_convertor(cls, str)


class FastDecoder:
    def __init__(self, mapper: Mapper[UUID]) -> None:
        self.mapper = mapper
        # Only the plain JSON transcoder, uncompressed and unencrypted, is read here.
        self.enabled = (orjson is not None and type(mapper.transcoder) in (JSONTranscoder, FastJSONTranscoder)
                        and mapper.cipher is None and mapper.compressor is None)

    def to_domain_event(self, stored: StoredEvent) -> DomainEventProtocol[UUID]:
        """The event object ``mapper.to_domain_event(stored)`` gives, built faster."""
        state = stored.state
        if not self.enabled or state.count(_CUSTOM) != 1:
            return self.mapper.to_domain_event(stored)
        try:
            event_state = orjson.loads(state)
            stamp = event_state["timestamp"]
            if stamp.get("_type_") != "datetime_iso" or len(stamp) != 2:
                return self.mapper.to_domain_event(stored)
            event_state["timestamp"] = datetime.fromisoformat(stamp["_data_"])
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
            return self.mapper.to_domain_event(stored)
        cls, class_version, id_convertor = _resolve(stored.topic)
        originator_id = stored.originator_id
        event_state["originator_id"] = (
            originator_id if not isinstance(originator_id, str) else id_convertor(originator_id))
        event_state["originator_version"] = stored.originator_version
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", event_state)
        return event
