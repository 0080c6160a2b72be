"""A brute-force reference for as-of answers, written for obviousness, not speed.

For one (valid date, record time) it takes the facts known at that record time, applies the
corrections and retractions known then, and walks each person's facts in valid-time order to
list their tenures, from scratch. It shares no code with ``projections`` (no incremental
re-derivation, no bitemporal row versions, no span index, no SQL): the service must agree with
it for any history recorded in any order.
"""

from __future__ import annotations

from datetime import date

from events.validtime import END_OF_TIME, ValidTime

FAR = date(9999, 12, 31)
NEVER = date(1, 1, 1)


def known_facts(log: list[dict], k: int) -> list[dict]:
    """``log`` entries are {"i": record index, "id", "fact": wire fields}; known at index <= k."""
    facts = {e["id"]: dict(e["fact"], _i=e["i"], _id=e["id"], _ev=[e["id"]])
             for e in log if e["i"] <= k and e["fact"]["type"] not in ("corrected", "retracted")}
    for e in sorted((e for e in log if e["i"] <= k), key=lambda e: e["i"]):
        f = e["fact"]
        if f["type"] == "corrected" and f["target"] in facts:
            facts[f["target"]].update(f["changes"])
            facts[f["target"]]["_ev"].append(e["id"])
        elif f["type"] == "retracted" and f["target"] in facts:
            del facts[f["target"]]
    return list(facts.values())


ENDING = ("member_left", "role_ended", "leader_ousted", "resigned", "unit_dissolved")


def _order(f):
    """Valid-time order; an end of unknown date comes after everything known (it ends what was held)."""
    v = _vt(f)
    if v.precision == "unknown" and f["type"] in ENDING:
        return (END_OF_TIME, END_OF_TIME, f["_i"])
    return (v.earliest, v.latest, f["_i"])


def _vt(f):
    return ValidTime.parse(f.get("effective") or "unknown")


def tenures(facts: list[dict]) -> list[dict]:
    """Every (unit or None, person, role, start, end) tenure the facts describe."""
    formed = {f["unit"]: _vt(f).earliest for f in facts if f["type"] == "unit_formed"}
    dissolved = [f for f in facts if f["type"] == "unit_dissolved"]
    people = set()
    for f in facts:
        for key in ("person", "outgoing", "incoming"):
            if f.get(key) and f["type"] not in ("person_registered",):
                people.add(f[key])
    out = []
    for person in sorted(people):
        mine = [f for f in facts if person in (f.get("person"), f.get("outgoing"), f.get("incoming"))
                and f["type"] not in ("noted", "unit_formed", "unit_dissolved", "person_registered")]
        mine_units = {f.get("unit") for f in mine} | {u for f in mine for u in f.get("seats") or []}
        mine += [f for f in dissolved if f["unit"] in mine_units]
        mine.sort(key=_order)
        open_: dict[tuple, dict] = {}  # (unit|None, role, key) -> start fact
        ousted: dict[str, list[str]] = {}

        def close(key, f, unmatched=False, open_=open_, person=person):  # bound: used in this iteration
            start = None if unmatched else open_.pop(key)
            out.append({"unit": key[0], "person": person, "role": key[1], "start": start, "end": f,
                        "formed": formed.get(key[0])})

        def close_where(f, unit=None, role=None, tkey=None, seats_only=True, allow_unmatched=True, open_=open_):
            hits = [k for k in open_ if (k[0] is not None if seats_only else True)
                    and (unit is None or k[0] == unit) and (role is None or k[1] == role)
                    and (tkey is None or k[2] == tkey)]
            for k in hits:
                close(k, f)
            if not hits and allow_unmatched and unit is not None:
                close((unit, role or "member", tkey or ""), f, unmatched=True)
            return [k[1] for k in hits]

        for f in mine:
            t = f["type"]
            if t == "member_joined":
                open_.setdefault((f["unit"], f.get("role") or "member", f.get("tenure") or ""), f)
            elif t == "member_left":
                close_where(f, f["unit"], f.get("role"), f.get("tenure"))
            elif t == "role_assigned":
                open_.setdefault((None, f["role"], ""), f)
            elif t == "role_ended":
                if (None, f["role"], "") in open_:
                    close((None, f["role"], ""), f)
                else:
                    close((None, f["role"], ""), f, unmatched=True)
            elif t == "leader_ousted":
                for role in f.get("roles") or []:
                    if (None, role, "") in open_:
                        close((None, role, ""), f)
                    else:
                        close((None, role, ""), f, unmatched=True)
                for unit in f.get("seats") or []:
                    ousted[unit] = close_where(f, unit) or ["member"]
            elif t == "reinstated":
                for role in f.get("roles") or []:
                    open_.setdefault((None, role, ""), f)
                for unit in f.get("seats") or []:
                    for role in ousted.pop(unit, ["member"]):
                        open_.setdefault((unit, role, ""), f)
            elif t == "resigned":
                close_where(f, allow_unmatched=False)
                for k in [k for k in open_ if k[0] is None]:
                    close(k, f)
            elif t == "lead_replaced":
                role = f.get("role") or "lead"
                if f["outgoing"] == person:
                    close_where(f, f["unit"], role)
                if f["incoming"] == person:
                    open_.setdefault((f["unit"], role, ""), f)
            elif t == "unit_dissolved":
                close_where(f, f["unit"], allow_unmatched=False)
        for k, start in list(open_.items()):
            out.append({"unit": k[0], "person": person, "role": k[1], "start": start, "end": None,
                        "formed": formed.get(k[0])})
    return out


def alive(t: dict, d: date) -> tuple[bool, bool]:
    """(possibly alive on d, certainly alive on d)."""
    if t["start"] is None:
        s_lo, s_hi = NEVER, FAR
    else:
        v = _vt(t["start"])
        s_lo, s_hi = v.earliest, (FAR if v.precision == "unknown" else v.latest)
    if t["formed"] is not None:
        s_lo = max(s_lo, t["formed"])
    if t["end"] is None:
        e_lo = e_hi = FAR
    else:
        v = _vt(t["end"])
        e_lo, e_hi = (s_lo, FAR) if v.precision == "unknown" else (v.earliest, v.latest)
    return s_lo <= d < e_hi, s_hi <= d < e_lo


def roster(log: list[dict], k: int, d: date, unit: str | None) -> set[tuple[str, str, bool]]:
    """{(person, role, certain)} in ``unit`` (None: organization roles) on ``d``, as known at ``k``."""
    out = set()
    for t in tenures(known_facts(log, k)):
        if t["unit"] != unit:
            continue
        possible, certain = alive(t, d)
        if possible:
            out.add((t["person"], t["role"], certain))
    return out
