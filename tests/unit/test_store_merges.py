"""Who was merged into whom, as the fold's store answers it: indexed both ways, so a
re-derivation's question costs the same however many merges a dataset holds, and the index
follows merges that are redone and retracted."""

from __future__ import annotations

from projections.rows import MergeRow
from projections.store import MemoryStore


def _merge(store: MemoryStore, person: str, into: str | None) -> None:
    store.set_merge(MergeRow(person, into, 1, "2024-01-01T00:00:00.000000Z", None) if into else None, person)


def test_merged_from_follows_merges_moved_and_retracted():
    store = MemoryStore()
    _merge(store, "ann-b", "ann")
    _merge(store, "ann-c", "ann")
    assert store.merged_from("ann") == {"ann-b", "ann-c"}
    _merge(store, "ann-c", "anne")  # merged again, into someone else
    assert store.merged_from("ann") == {"ann-b"} and store.merged_from("anne") == {"ann-c"}
    _merge(store, "ann-b", None)  # retracted
    assert store.merged_from("ann") == set() and store.merged_into("ann-b") is None
    assert store.merged_into("ann-c") == "anne"
    assert store.merged_by == {"anne": {"ann-c"}}  # nothing left behind for those with none


def test_merged_from_gives_a_copy_the_caller_may_change():
    store = MemoryStore()
    _merge(store, "b", "a")
    store.merged_from("a").add("x")
    assert store.merged_from("a") == {"b"}
