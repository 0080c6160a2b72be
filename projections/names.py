"""People's names over time: the name a person had on a day, as known at a record time (the
``names`` table keeps every name each was given, with the day it took effect)."""

from __future__ import annotations

from .db import Conn, DBRow


class NameBook:
    """People's names on a day as known at a time, from every name they were given (``names``):
    a name given without a date holds for all time (as of its record time), one given with an
    ``effective`` date holds from that day on, the earlier names before it."""

    def __init__(self) -> None:
        self.rows: dict[str, list[DBRow]] = {}  # each person's names in record order

    @classmethod
    def read(cls, conn: Conn, people: set[str]) -> NameBook:
        book = cls()
        for r in conn.all_among("SELECT person, name, eff_lo, recorded_at FROM names WHERE {among} "
                                "ORDER BY person, position", "person", list(people)):
            book.give(r["person"], r)
        return book

    def give(self, person: str, name: DBRow) -> None:
        """One more name of ``person`` (``name``, ``eff_lo``, ``recorded_at``), the latest in record order."""
        self.rows.setdefault(person, []).append(name)

    def name(self, person: str, as_of: str | None = None, known_at: str | None = None) -> str | None:
        segments: list[tuple[str, str]] = []  # (from day, name), in day order
        for r in self.rows.get(person, ()):
            if known_at is not None and r["recorded_at"] > known_at:
                break
            if r["eff_lo"] is None:
                segments = [("", r["name"])]
            else:
                segments = [seg for seg in segments if seg[0] < r["eff_lo"]] + [(r["eff_lo"], r["name"])]
        if not segments:
            return None
        if as_of is None:
            return segments[-1][1]
        held = [name for start, name in segments if start <= as_of]
        return held[-1] if held else segments[0][1]


def names(conn: Conn, people: set[str], as_of: str | None = None, known_at: str | None = None) -> dict[str, str]:
    book = NameBook.read(conn, people)
    out = {}
    for p in people:
        name = book.name(p, as_of, known_at)
        if name is not None:
            out[p] = name
    return out
