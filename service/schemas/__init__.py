"""marshmallow schemas for the HTTP contract: ``base`` (the fields), ``args`` (query arguments),
``bodies`` (request bodies), and every JSON answer as /openapi.json documents it, built from
``answer`` (``Answer``, ``Open``) in a module by resource: ``orgs``, ``people``, ``log`` (an
organization's log, the stream, appends), ``asof``, ``subscriptions``, ``ops``, ``imports``, and
``problems`` (every error). Import them from here: ``from service.schemas import Roster``."""

from __future__ import annotations

from .answer import (  # noqa: F401
    Answer,
    Open,
)
from .args import (  # noqa: F401
    AsOfArgs,
    ChangesArgs,
    ExportArgs,
    HistoryArgs,
    ImportArgs,
    LiveArgs,
    PageArgs,
    PeoplePageArgs,
    StreamArgs,
    TimelineArgs,
)
from .asof import (  # noqa: F401
    Change,
    Changes,
    Entry,
    Knowledge,
    RecordedFact,
    Roster,
    Tenure,
    Timeline,
    Why,
)
from .base import (  # noqa: F401
    IMPORT_FILTER,
    STREAM_TYPES,
    Day,
    Instant,
    Strict,
    Text,
    Whole,
    slug_field,
)
from .bodies import (  # noqa: F401
    AppendIn,
    ExpectedVersion,
    MergeIn,
    MergeRetractIn,
    OrgIn,
    PersonIn,
    RedeliverIn,
    ReplayIn,
    SubscriptionIn,
    UnitIn,
)
from .imports import (  # noqa: F401
    ImportEvents,
    ImportList,
    ImportOut,
    ImportReport,
    ImportSummary,
    Popolo,
)
from .log import (  # noqa: F401
    AppendedEvent,
    AppendOut,
    CitedSource,
    LogEvent,
    LogPage,
)
from .ops import (  # noqa: F401
    Job,
    OtherVersion,
    Parked,
    ParkedList,
    Projections,
    ProjectionState,
    Version,
    VersionJob,
    Versions,
)
from .orgs import (  # noqa: F401
    Org,
    OrgList,
    Registered,
    Unit,
    UnitList,
)
from .people import (  # noqa: F401
    HistoryEntry,
    Identifier,
    Merge,
    Person,
    PersonHistory,
    PersonList,
)
from .problems import (  # noqa: F401
    FieldError,
    ProblemSchema,
)
from .subscriptions import (  # noqa: F401
    DeliveryFailure,
    Subscription,
    SubscriptionFilter,
    SubscriptionList,
)
