#!/usr/bin/env python3
"""An independent rendering of Opsgenie schedules: who is on call, when.

Written from Opsgenie's documentation of schedules, rotations, restrictions
and overrides (quoted in README.md, "Opsgenie"), never from `oncall`'s code.
The loopback server (opsgenie_server.py) answers the schedule timeline
endpoint with what this computes; `oncall import opsgenie --verify` must
find 0 differences against it.

How a schedule is read here:

- A rotation hands over at its `startDate`, then every `length` units of its
  `type` (`hourly`, `daily`, `weekly`), counted in wall-clock time of the
  schedule's `timezone`: a daily rotation starting at 09:00 hands over at
  09:00 local every day, winter and summer. Turn k belongs to
  `participants[k mod n]`; a `team` participant puts all the team's members
  on call together, `none` nobody.
- A rotation is on from `startDate` to `endDate` (if any), and only inside
  its time restriction: `time-of-day` (every day from start to end time,
  across midnight when the end is not after the start) or
  `weekday-and-time-of-day` (each restriction from its start day and time to
  the first end day and time after it, so a window may wrap the week). Turns
  keep counting while the rotation is restricted.
- All rotations of a schedule are on call at the same time: the schedule's
  on-call people at an instant are the union of its rotations'.
- An override puts its user on call instead of the rotation's participants
  for its rotations (all of the schedule's when it names none), from its
  start to its end.

Local times that do not exist (spring forward) are read with the offset in
force before the change, times that happen twice as the first of the two
(Python's fold=0, as RFC 5545 section 3.3.5 says for DATE-TIME values).

Used as a module (`timeline(data, schedule_id, start, end)`) or from the
command line to print a schedule's on-call periods as JSON lines:

    opsgenie_reference.py og-s-weekly 2027-02-01T00:00:00Z 90
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import opsgenie_data

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UNITS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


def parse_instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def fmt(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_utc(naive_local, zone):
    """Wall-clock time in `zone` to an instant (fold=0: see the module doc)."""
    return naive_local.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)


def clip(intervals, lo, hi):
    out = []
    for a, b, who in intervals:
        a, b = max(a, lo), min(b, hi)
        if a < b:
            out.append((a, b, who))
    return out


def restriction_windows(restriction, zone, lo, hi):
    """The instants the restriction lets the rotation be on, within [lo, hi)."""
    if restriction is None:
        return [(lo, hi)]
    first_day = lo.astimezone(zone).date() - timedelta(days=8)
    last_day = hi.astimezone(zone).date() + timedelta(days=1)
    out = []
    day = first_day
    while day <= last_day:
        midnight = datetime(day.year, day.month, day.day)
        if restriction["type"] == "time-of-day":
            r = restriction["restriction"]
            s = midnight + timedelta(hours=r["startHour"], minutes=r["startMin"])
            e = midnight + timedelta(hours=r["endHour"], minutes=r["endMin"])
            if e <= s:
                e += timedelta(days=1)
            out.append((to_utc(s, zone), to_utc(e, zone)))
        elif restriction["type"] == "weekday-and-time-of-day":
            for r in restriction["restrictions"]:
                sd = DAYS.index(r["startDay"].lower())
                if day.weekday() != sd:
                    continue
                ed = DAYS.index(r["endDay"].lower())
                s = midnight + timedelta(hours=r["startHour"], minutes=r["startMin"])
                e = midnight + timedelta(days=(ed - sd) % 7, hours=r["endHour"], minutes=r["endMin"])
                if e <= s:
                    e += timedelta(days=7)
                out.append((to_utc(s, zone), to_utc(e, zone)))
        else:
            raise ValueError(f"unknown restriction type {restriction['type']!r}")
        day += timedelta(days=1)
    return [(max(a, lo), min(b, hi)) for a, b in out if max(a, lo) < min(b, hi)]


def participant_people(p, teams):
    """(the timeline's recipient, the user ids it puts on call)."""
    if p["type"] == "user":
        return ({"type": "user", "id": p["id"], "name": p["username"]}, [p["id"]])
    if p["type"] == "team":
        team = next(t for t in teams if t["id"] == p["id"])
        return ({"type": "team", "id": team["id"], "name": team["name"]}, [m["user"]["id"] for m in team["members"]])
    if p["type"] == "none":
        return (None, [])
    raise ValueError(f"participant type {p['type']!r} is not rendered here")


def rotation_turns(rot, zone, teams, lo, hi):
    """(from, to, [user ids]) for each turn overlapping [lo, hi)."""
    step = UNITS[rot["type"]] * rot.get("length", 1)
    start = parse_instant(rot["startDate"])
    start_local = start.astimezone(zone).replace(tzinfo=None)
    end = parse_instant(rot["endDate"]) if rot.get("endDate") else None
    people = [participant_people(p, teams) for p in rot["participants"]]
    out = []
    k = 0
    while True:
        a = to_utc(start_local + k * step, zone)
        b = to_utc(start_local + (k + 1) * step, zone)
        if a >= hi or (end is not None and a >= end):
            break
        if end is not None:
            b = min(b, end)
        if b > lo and people[k % len(people)][1]:
            out.append((a, b, people[k % len(people)]))
        k += 1
    return out


def rotation_periods(rot, zone, teams, lo, hi):
    turns = rotation_turns(rot, zone, teams, lo, hi)
    windows = restriction_windows(rot.get("timeRestriction"), zone, lo, hi)
    out = []
    for a, b, who in turns:
        for wa, wb in windows:
            x, y = max(a, wa), min(b, wb)
            if x < y:
                out.append((x, y, who))
    return sorted(clip(out, lo, hi), key=lambda p: p[0])


def apply_overrides(periods, rotation_id, overrides, lo, hi):
    """Overrides for this rotation cut the periods and put their user on."""
    mine = [
        o
        for o in overrides
        if not o.get("rotations") or any(r["id"] == rotation_id for r in o["rotations"])
    ]
    out = []
    for a, b, who in periods:
        pieces = [(a, b)]
        for o in mine:
            oa, ob = parse_instant(o["startDate"]), parse_instant(o["endDate"])
            nxt = []
            for x, y in pieces:
                if ob <= x or oa >= y:
                    nxt.append((x, y))
                    continue
                if x < oa:
                    nxt.append((x, oa))
                if ob < y:
                    nxt.append((ob, y))
            pieces = nxt
        out.extend((x, y, who, "default") for x, y in pieces)
    for o in mine:
        # Later overrides win where overrides overlap.
        oa, ob = parse_instant(o["startDate"]), parse_instant(o["endDate"])
        for later in mine[mine.index(o) + 1 :]:
            la, lb = parse_instant(later["startDate"]), parse_instant(later["endDate"])
            if la < ob and lb > oa:
                raise ValueError("overlapping overrides of one rotation are not rendered here")
        u = o["user"]
        out.append((oa, ob, ({"type": "user", "id": u["id"], "name": u["username"]}, [u["id"]]), "override"))
    return sorted(
        [(max(a, lo), min(b, hi), who, kind) for a, b, who, kind in out if max(a, lo) < min(b, hi)],
        key=lambda p: p[0],
    )


def merge(periods):
    """Join a person's back-to-back periods of the same kind."""
    out = []
    for a, b, who, kind in periods:
        if out and out[-1][1] == a and out[-1][2] == who and out[-1][3] == kind:
            out[-1] = (out[-1][0], b, who, kind)
        else:
            out.append((a, b, who, kind))
    return out


def timeline(data, schedule_id, lo, hi):
    """The schedule's final timeline over [lo, hi): per rotation, its periods."""
    sched = next(s for s in data["schedules"] if s["id"] == schedule_id)
    zone = ZoneInfo(sched["timezone"])
    overrides = data["overrides"].get(schedule_id, [])
    rows = []
    for order, rot in enumerate(sched["rotations"]):
        periods = rotation_periods(rot, zone, data["teams"], lo, hi)
        periods = merge(apply_overrides(periods, rot["id"], overrides, lo, hi))
        rows.append({"id": rot["id"], "name": rot["name"], "order": order, "periods": periods})
    return rows


def on_call_people(data, schedule_id, lo, hi):
    """Per person, the merged instants they are on call for the schedule."""
    per = {}
    for row in timeline(data, schedule_id, lo, hi):
        for a, b, (_recipient, people), _kind in row["periods"]:
            for person in people:
                per.setdefault(person, []).append((a, b))
    out = {}
    for person, spans in per.items():
        spans.sort()
        joined = []
        for a, b in spans:
            if joined and a <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(b, joined[-1][1]))
            else:
                joined.append((a, b))
        out[person] = joined
    return out


def main():
    schedule_id, start, days = sys.argv[1], parse_instant(sys.argv[2]), int(sys.argv[3])
    data = opsgenie_data.dataset()
    for person, spans in sorted(on_call_people(data, schedule_id, start, start + timedelta(days=days)).items()):
        for a, b in spans:
            print(json.dumps({"user": person, "from": fmt(a), "to": fmt(b)}))


if __name__ == "__main__":
    main()
