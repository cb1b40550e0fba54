#!/usr/bin/env python3
"""An independent rendering of Grafana OnCall schedules: who is on call, when.

Written from Grafana OnCall's documentation of on-call shifts (quoted in
README.md, "Grafana OnCall"), never from `oncall`'s code. The loopback server
(grafana_oncall_server.py) answers the final shifts endpoint with what this
computes; `oncall import grafana-oncall --verify` must find 0 differences
against it.

How a schedule is read here:

- A shift's times (`start`, `until`) are wall-clock times of its
  `time_zone`, or of the schedule's when it has none. Its events recur by
  the RFC 5545 rule its fields spell (`frequency`, `interval`, `by_day`,
  `week_start`, `until`), from `start`; RFC 5545 says the same of a
  recurring event with a DTSTART in a zone. python-dateutil's `rrule`
  expands the rule: another implementation of the RFC, not ours.
- Each event lasts `duration` seconds from its start, counted on the
  wall clock as an iCalendar DTEND in the same zone would be.
- `rolling_users`: "Grafana OnCall will iterate over lists of users for
  every time frame specified in frequency": the time frames are the
  hours, days or weeks (weeks beginning on `week_start`) of the rule, and
  every `interval` of them the next list of users takes over, starting from
  the list at `start_rotation_from_user_index`. Every user of the list is on
  call during the events of its time frame.
- `recurrent_event` and `single_event` put all their `users` on call during
  each event.
- Where events overlap, those with the highest `level` win ("If two events
  overlap in one schedule, Grafana OnCall will choose the event with higher
  level"); the users of every winning event are on call. An `override`
  shift is above every level.

Nonexistent local times are read with the offset before the change, repeated
ones as the first (fold=0, as RFC 5545 section 3.3.5 says).

Used as a module (`final_shifts(data, schedule_id, lo, hi)`) or from the
command line:

    grafana_oncall_reference.py go-s-weekly 2027-02-01T00:00:00Z 90
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil import rrule

import grafana_oncall_data

FREQ = {"hourly": rrule.HOURLY, "daily": rrule.DAILY, "weekly": rrule.WEEKLY, "monthly": rrule.MONTHLY}
WEEKDAYS = {"MO": rrule.MO, "TU": rrule.TU, "WE": rrule.WE, "TH": rrule.TH, "FR": rrule.FR, "SA": rrule.SA, "SU": rrule.SU}
DAY_INDEX = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def parse_instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def fmt(t):
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_utc(naive_local, zone):
    return naive_local.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)


def frame_index(shift, start, occ):
    """How many time frames of `frequency` lie between start's and occ's."""
    freq = shift["frequency"]
    if freq == "hourly":
        floor = lambda t: t.replace(minute=0, second=0, microsecond=0)  # noqa: E731
        return int((floor(occ) - floor(start)).total_seconds() // 3600)
    if freq == "daily":
        return (occ.date() - start.date()).days
    if freq == "weekly":
        ws = DAY_INDEX[shift.get("week_start") or "SU"]

        def week_of(t):
            d = t.date()
            return d - timedelta(days=(d.weekday() - ws) % 7)

        return (week_of(occ) - week_of(start)).days // 7
    if freq == "monthly":
        return (occ.year - start.year) * 12 + occ.month - start.month
    raise ValueError(f"frequency {freq!r}")


def events(shift, schedule_zone, lo, hi):
    """(from, to, level, [user ids], is_override) of each event overlapping [lo, hi)."""
    zone = ZoneInfo(shift.get("time_zone") or schedule_zone)
    start = datetime.fromisoformat(shift["start"])
    duration = timedelta(seconds=shift["duration"])
    level = shift.get("level") or 0
    stype = shift["type"]
    if stype in ("single_event", "override"):
        occurrences = [start]
    else:
        kw = {"dtstart": start, "interval": shift.get("interval") or 1}
        if shift.get("until"):
            kw["until"] = datetime.fromisoformat(shift["until"])
        if shift.get("by_day"):
            kw["byweekday"] = [WEEKDAYS[d] for d in shift["by_day"]]
        if shift.get("week_start"):
            kw["wkst"] = WEEKDAYS[shift["week_start"]]
        if shift.get("by_month"):
            kw["bymonth"] = shift["by_month"]
        if shift.get("by_monthday"):
            kw["bymonthday"] = shift["by_monthday"]
        rule = rrule.rrule(FREQ[shift["frequency"]], **kw)
        last = hi.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
        occurrences = list(rule.between(start - timedelta(seconds=1), last, inc=True))
    out = []
    for occ in occurrences:
        a, b = to_utc(occ, zone), to_utc(occ + duration, zone)
        if b <= lo or a >= hi:
            continue
        if stype == "rolling_users":
            groups = shift["rolling_users"]
            k = frame_index(shift, start, occ) // (shift.get("interval") or 1)
            who = groups[(k + (shift.get("start_rotation_from_user_index") or 0)) % len(groups)]
        else:
            who = shift["users"]
        out.append((max(a, lo), min(b, hi), level, list(who), stype == "override"))
    return out


def final_shifts(data, schedule_id, lo, hi):
    """Per user, the merged [from, to) they are on call over [lo, hi)."""
    sched = next(s for s in data["schedules"] if s["id"] == schedule_id)
    evs = []
    for sid in sched["shifts"]:
        shift = next(s for s in data["shifts"] if s["id"] == sid)
        evs += events(shift, sched["time_zone"], lo, hi)
    cuts = sorted({lo, hi} | {e[0] for e in evs} | {e[1] for e in evs})
    per = {}
    for a, b in zip(cuts, cuts[1:]):
        live = [e for e in evs if e[0] <= a and e[1] >= b]
        if not live:
            continue
        overrides = [e for e in live if e[4]]
        if overrides:
            winners = overrides
        else:
            top = max(e[2] for e in live)
            winners = [e for e in live if e[2] == top]
        for e in winners:
            for user in e[3]:
                spans = per.setdefault(user, [])
                if spans and spans[-1][1] >= a:
                    spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
                else:
                    spans.append((a, b))
    return per


def rows(data, schedule_id, lo, hi):
    """The final shifts as the API lists them, in order of start, then user."""
    users = {u["id"]: u for u in data["users"]}
    out = []
    for user, spans in final_shifts(data, schedule_id, lo, hi).items():
        for a, b in spans:
            out.append(
                {
                    "user_pk": user,
                    "user_email": users[user]["email"],
                    "user_username": users[user]["username"],
                    "shift_start": fmt(a),
                    "shift_end": fmt(b),
                }
            )
    out.sort(key=lambda r: (r["shift_start"], r["user_pk"]))
    return out


def main():
    schedule_id, start, days = sys.argv[1], parse_instant(sys.argv[2]), int(sys.argv[3])
    data = grafana_oncall_data.dataset()
    for r in rows(data, schedule_id, start, start + timedelta(days=days)):
        print(json.dumps(r))


if __name__ == "__main__":
    main()
