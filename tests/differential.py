#!/usr/bin/env python3
"""Differential test of oncall's rota expansion against an independent model.

`oncall shifts` turns a rota (members, a naive local `start`, an RFC 5545 RRULE
of hand-offs, the team's time zone) into UTC shifts. This script generates many
random rotas from a seeded RNG, asks the binary for their shifts over a few
query windows, and recomputes the same shifts in Python from the written
semantics:

- hand-off 0 is the start; the others are the RRULE's occurrences strictly
  after it, expanded by python-dateutil in naive wall-clock time, by brute force
  from the start (no periodicity shortcut, no look-up tricks); a turn of N
  seconds (`every: 90061s`, `every: 1d1h`) is the rule FREQ=SECONDLY;INTERVAL=N,
  so wall-clock time too;
- each naive hand-off becomes a UTC instant through zoneinfo with fold=0: a time
  inside a DST gap takes the offset in force before the gap, an ambiguous time
  is its first occurrence;
- a hand-off takes effect at the latest instant of itself and every earlier
  hand-off (a running maximum), so gap times that come out of order give empty
  shifts rather than reordering the members;
- shift j runs from hand-off j to hand-off j+1 and belongs to
  members[j % len(members)], or, with `first`, to the member j places after
  the first member that is or holds `first`, counting round; a member that is
  a group (Grafana OnCall's `rolling_users`) puts each of its people on call
  for the shift; nobody is on call before the start; shifts are clipped to
  the query window, empty ones dropped, touching shifts of one person merged
  (also across turns, a person in two groups in a row); the binary's lines
  and the model's are compared in (start, person, end) order;
- a rota with an `end` has nobody on call from that instant on: a naive `end`
  is read like the hand-offs (fold=0), one with an offset is that instant;
- a rota with `active` windows has somebody on call only inside them: a
  window from a weekday and time to a weekday and time starts on every such
  weekday at that time and ends at the first such `to` after it (up to a week
  on); a daily window starts at `from` on each of its days and ends at `to`,
  the next day when `to` is not after `from`; both edges are local times read
  with fold=0, and a window whose end reads no later than its start is empty.

The model shares nothing with the Rust side, which uses the `rrule` crate,
chrono-tz, a periodic fast path and a bounded look-back for the running
maximum: when the two agree, both implement the semantics above. zoneinfo is
pointed at the PyPI `tzdata` package (never the system database), pinned in
tests/requirements.txt to the IANA release chrono-tz bundles, so both sides
read the same zone rules.

The rotas aim at the awkward cases: starts and hand-offs inside DST gaps and
folds (Lord Howe's 30-minute change, Chatham at +12:45, Sao Paulo changing at
midnight, the day Apia skipped, 2011-12-30), sub-daily rules running across
clock changes, monthly and COUNT-limited rules, members named twice; query
windows that span the February-April and September-November changes of random
years, the Apia one, and short windows that begin and end right at a clock
change. A closing "covered" line counts how often those cases came up.

    python tests/differential.py --oncall target/debug/oncall [--seed N] [--rotas N]

Exit status: 0 when every compared rota agrees, 1 when some disagree (each is
printed with its YAML, the window and the first differing shift), 2 when the
test itself could not run.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from random import Random

# Zone rules come from the pinned `tzdata` package only, never from the system.
zoneinfo.reset_tzpath(to=[])
zoneinfo.ZoneInfo.clear_cache()

try:
    import dateutil
    import tzdata
    from dateutil.rrule import rrulestr
except ImportError as e:
    sys.exit(f"differential: {e}; install the test's packages: pip install -r tests/requirements.txt")

# The IANA release bundled by chrono-tz 0.10.4 (first entry of its tz/NEWS).
EXPECTED_TZDATA = "2025b"

DEFAULT_SEED = 20260105
DEFAULT_ROTAS = 300

UTC = timezone.utc
ZONES = [
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",  # DST is +30 minutes
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kolkata",  # no DST at all
    "America/Sao_Paulo",  # changed at midnight, until 2019
    "Australia/Sydney",
    "Europe/Berlin",
]
PEOPLE = ["ann", "bob", "cat", "dan", "eve", "fay"]
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
# Local hours around which the zones above change their clocks.
TOUCHY_HOURS = [0, 1, 2, 3, 4, 23]
ROTAS_PER_TEAM = 10
# The model expands at most this many hand-offs per rota; windows further out
# than that from a rota's start are not compared for it.
HANDOFF_BUDGET = 20_000
# Years of the query windows; rota starts fall between 2010 and 2028.
YEARS = range(2011, 2029)
EARLIEST_START = datetime(2010, 1, 1)
FOREVER = datetime.max.replace(tzinfo=UTC)


# --------------------------------------------------------------------------
# Time zones


@cache
def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def to_utc(naive: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """A local wall time as an instant: fold=0 (PEP 495) reads a time in a gap
    with the offset before the gap, and an ambiguous time as its first occurrence."""
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


@dataclass(frozen=True)
class Change:
    """A change of UTC offset, as the range of local wall time it affects."""

    at: datetime  # the instant of the change, aware UTC
    local_from: datetime  # naive
    local_to: datetime  # naive, exclusive
    kind: str  # "gap" (times that never happen) or "fold" (times that happen twice)

    @property
    def width(self) -> timedelta:
        return self.local_to - self.local_from


@cache
def clock_changes(name: str) -> list[Change]:
    """Every change of UTC offset in the zone between 2009 and 2032."""
    tz = zone(name)
    changes = []
    step = 12 * 3600
    t = int(datetime(2009, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2033, 1, 1, tzinfo=UTC).timestamp())

    def offset(s: int) -> timedelta:
        return datetime.fromtimestamp(s, UTC).astimezone(tz).utcoffset()

    before = offset(t)
    while t < end:
        after = offset(t + step)
        if after != before:
            lo, hi = t, t + step  # offset(lo) == before, offset(hi) == after
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == before:
                    lo = mid
                else:
                    hi = mid
            at = datetime.fromtimestamp(hi, UTC)
            wall = at.replace(tzinfo=None)
            if after > before:
                changes.append(Change(at, wall + before, wall + after, "gap"))
            else:
                changes.append(Change(at, wall + after, wall + before, "fold"))
        before = after
        t += step
    return changes


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# What is generated


@dataclass(frozen=True)
class Window:
    label: str
    start: datetime  # aware, UTC
    end: datetime

    def __str__(self) -> str:
        return f"{self.label} [{rfc3339(self.start)}, {rfc3339(self.end)})"


DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class ActiveWindow:
    """An `active:` window. `days` None: from `from_day` at `start` to the
    first `to_day` at `stop` after it; else daily, on each of `days`
    (0 = Monday). Times are minutes after midnight; `stop` may be 1440."""

    start: int
    stop: int
    days: tuple[int, ...] | None = None
    from_day: int = 0
    to_day: int = 0

    def yaml(self) -> str:
        def hhmm(m: int) -> str:
            return f"{m // 60:02d}:{m % 60:02d}"

        if self.days is None:
            return (
                f'{{from: "{DAY_NAMES[self.from_day]} {hhmm(self.start)}", '
                f'to: "{DAY_NAMES[self.to_day]} {hhmm(self.stop)}"}}'
            )
        days = "everyday" if len(self.days) == 7 else f"[{', '.join(DAY_NAMES[d] for d in self.days)}]"
        return f'{{days: {days}, from: "{hhmm(self.start)}", to: "{hhmm(self.stop)}"}}'

    def occurrences(self, day: date) -> list[tuple[datetime, datetime]]:
        """The window's stretch starting on local date `day`, if any, as naive
        local (start, end)."""
        midnight = datetime(day.year, day.month, day.day)
        begin = midnight + timedelta(minutes=self.start)
        if self.days is None:
            if day.weekday() != self.from_day:
                return []
            # The first `to_day` at `stop` after the start.
            ahead = (self.to_day - self.from_day) % 7
            end = midnight + timedelta(days=ahead, minutes=self.stop)
            while end <= begin:
                end += timedelta(days=7)
            return [(begin, end)]
        if day.weekday() not in self.days:
            return []
        end = midnight + timedelta(minutes=self.stop)
        if end <= begin:
            end += timedelta(days=1)
        return [(begin, end)]


def active_instants(windows: list[ActiveWindow], zone_name: str, a: datetime, b: datetime) -> list[tuple]:
    """The union of the windows' stretches that reach into [a, b), as sorted,
    merged (start, end) instants."""
    tz = zone(zone_name)
    spans = []
    # No zone is more than 14 hours from UTC, and no window is longer than a week.
    day = (a - timedelta(days=9)).date()
    while day <= (b + timedelta(days=2)).date():
        for w in windows:
            for begin, end in w.occurrences(day):
                s, e = to_utc(begin, tz), to_utc(end, tz)
                if s < e and s < b and e > a:
                    spans.append((s, e))
        day += timedelta(days=1)
    spans.sort()
    merged: list[list] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [tuple(m) for m in merged]


@dataclass
class Rota:
    team: str
    zone: str
    name: str
    members: list[tuple[str, ...]]  # each one person, or a group on call together
    start: datetime  # naive local time in `zone`
    rule: str  # RRULE, without DTSTART
    every: str | None  # the `every:` shorthand written instead of `handoff:`, if any
    per_day: float  # rough number of hand-offs a day
    home: Window  # the window the start was chosen for
    windows: list[Window] = field(default_factory=list)  # the windows it is compared in
    end: datetime | None = None  # `end:`: naive local time, or aware (written with its offset)
    active: list[ActiveWindow] = field(default_factory=list)  # `active:`; empty: always on
    first: str | None = None  # `first:`, one of `members`

    @property
    def key(self) -> tuple[str, str]:
        return (self.team, self.name)

    def yaml(self, indent: str = "  ") -> list[str]:
        """The rota's entry under `rotas:`."""
        start = self.start.strftime("%Y-%m-%dT%H:%M" if self.start.second == 0 else "%Y-%m-%dT%H:%M:%S")
        lines = [
            f"{self.name}:",
            f"  members: [{', '.join(m[0] if len(m) == 1 else '[' + ', '.join(m) + ']' for m in self.members)}]",
            *([f"  first: {self.first}"] if self.first else []),
            f"  start: {start}",
            f"  every: {self.every}" if self.every else f"  handoff: {self.rule}",
        ]
        if self.end is not None:
            lines.append(f"  end: {self.end.isoformat()}")
        if self.active:
            lines.append(f"  active: [{', '.join(w.yaml() for w in self.active)}]")
        return [indent + line for line in lines]

    def end_instant(self) -> datetime:
        """When nobody is on call any more (FOREVER without an `end`)."""
        if self.end is None:
            return FOREVER
        if self.end.tzinfo is None:
            return to_utc(self.end, zone(self.zone))
        return self.end.astimezone(UTC)

    def standalone_yaml(self) -> str:
        """A team file holding only this rota, to reproduce a failure."""
        return "\n".join([f"team: {self.team}", f"timezone: {self.zone}", "rotas:", *self.yaml()])


def make_windows(rng: Random) -> list[Window]:
    """The query windows. First the Apia one; then spring and autumn windows of
    random years (from February to mid-April they hold the Sao Paulo, New York,
    European and southern (Sydney, Lord Howe, Chatham, Apia) changes; from
    mid-September to mid-November the Chatham, Apia, southern, European and
    New York ones); then short windows that begin, and often end, right where
    some zone changes its clocks, where finding the hand-off in force at the
    window's start is hardest."""

    def jitter() -> timedelta:
        return timedelta(minutes=rng.randrange(24 * 60))

    def near(c: Change) -> datetime:
        """An instant around a change, where hand-offs read out of order lie."""
        if rng.random() < 0.3:
            return rng.choice([c.at, c.at + c.width])  # often a hand-off's instant too
        minutes = (c.width + timedelta(hours=4)) // timedelta(minutes=1)
        return c.at - timedelta(hours=2) + timedelta(minutes=rng.randrange(minutes))

    def in_years(c: Change) -> bool:
        return c.at.year in YEARS

    windows = [
        Window(
            "apia-2011",
            datetime(2011, 12, 10, tzinfo=UTC) + jitter(),
            datetime(2012, 1, 15, tzinfo=UTC) + jitter(),
        )
    ]
    for year in sorted(rng.sample(YEARS, 4)):
        windows.append(
            Window(
                f"spring-{year}",
                datetime(year, 2, 10, tzinfo=UTC) + jitter(),
                datetime(year, 4, 12, tzinfo=UTC) + jitter(),
            )
        )
    for year in sorted(rng.sample(YEARS, 4)):
        windows.append(
            Window(
                f"autumn-{year}",
                datetime(year, 9, 18, tzinfo=UTC) + jitter(),
                datetime(year, 11, 12, tzinfo=UTC) + jitter(),
            )
        )
    all_changes = [c for name in ZONES for c in clock_changes(name) if in_years(c)]
    skipped_day = next(c for c in clock_changes("Pacific/Apia") if c.width == timedelta(days=1))
    seasonal = [n for n in ZONES if n != "Pacific/Apia" and any(in_years(c) for c in clock_changes(n))]
    for name in ["Pacific/Apia", *rng.sample(seasonal, min(5, len(seasonal)))]:
        c = skipped_day if name == "Pacific/Apia" else rng.choice([c for c in clock_changes(name) if in_years(c)])
        start = near(c)
        later = [d for d in all_changes if start + timedelta(hours=6) < d.at < start + timedelta(days=40)]
        if later and rng.random() < 0.6:
            end = near(rng.choice(later))
        else:
            end = start + timedelta(minutes=rng.randrange(24 * 60, 6 * 24 * 60))
        windows.append(Window(f"edge-{name.split('/')[-1]}-{c.at:%Y-%m-%d}", start, end))
    return windows


def random_rule(rng: Random) -> tuple[str, float, str | None]:
    """A hand-off rule, roughly how many occurrences it has a day, and its
    `every:` shorthand when it has one (and the dice say to use it)."""

    def hours(k: int) -> list[int]:
        pool = TOUCHY_HOURS if rng.random() < 0.5 else list(range(24))
        return sorted(rng.sample(pool, min(k, len(pool))))

    def days(k: int) -> list[str]:
        return sorted(rng.sample(WEEKDAYS, k), key=WEEKDAYS.index)

    def joined(items) -> str:
        return ",".join(str(i) for i in items)

    kind = rng.choices(
        ["daily", "weekly", "hourly", "daily-byhour", "weekly-byhour", "monthly", "sub-hourly", "yearly", "other", "turn"],
        weights=[14, 16, 16, 14, 10, 12, 12, 3, 4, 12],
    )[0]
    every = None
    if kind == "turn":
        # A turn of any whole number of seconds, written as seconds or as
        # parts (`every:` has no RRULE form for it; oncall refuses SECONDLY).
        n = rng.choice(
            [60, 61, 3605, 5400, 7199, 86399, 86401, 90000, 90061, 129600, 183600, 604801, 259217]
            + [rng.randrange(60, 3 * 86400), rng.randrange(60, 40 * 86400)]
        )
        return f"FREQ=SECONDLY;INTERVAL={n}", 86400 / n, turn_text(rng, n)
    if kind == "daily":
        n = rng.randint(1, 3)
        rule, per_day, every = "FREQ=DAILY", 1 / n, f"{n}d"
        if n > 1:
            rule += f";INTERVAL={n}"
    elif kind == "weekly":
        n = rng.randint(1, 3)
        rule, per_day, every = "FREQ=WEEKLY", 1 / (7 * n), f"{n}w"
        if n > 1:
            rule += f";INTERVAL={n}"
        if rng.random() < 0.6:
            picked = days(rng.randint(1, 4))
            rule += f";BYDAY={joined(picked)}"
            per_day, every = len(picked) / (7 * n), None
    elif kind == "hourly":
        n = rng.choice([1, 2, 3, 4, 6, 8, 12])
        rule, per_day, every = "FREQ=HOURLY", 24 / n, f"{n}h"
        if n > 1:
            rule += f";INTERVAL={n}"
    elif kind == "daily-byhour":
        picked = hours(rng.randint(1, 3))
        rule, per_day = f"FREQ=DAILY;BYHOUR={joined(picked)}", len(picked)
        if rng.random() < 0.4:
            minutes = sorted(rng.sample([0, 15, 30, 45], rng.randint(1, 2)))
            rule += f";BYMINUTE={joined(minutes)}"
            per_day *= len(minutes)
    elif kind == "weekly-byhour":
        picked_days, picked_hours = days(rng.randint(1, 3)), hours(rng.randint(1, 2))
        if rng.random() < 0.3:
            picked_days, picked_hours = ["MO", "TH"], [9, 21]
        rule = f"FREQ=WEEKLY;BYDAY={joined(picked_days)};BYHOUR={joined(picked_hours)}"
        per_day = len(picked_days) * len(picked_hours) / 7
    elif kind == "monthly":
        if rng.random() < 0.5:
            rule = f"FREQ=MONTHLY;BYMONTHDAY={rng.choice([1, 2, 15, 28, 29, 30, 31, -1])}"
        else:
            rule = f"FREQ=MONTHLY;BYDAY={rng.choice(['1MO', '2TU', '-1FR', '1SU', '-1SU', '3WE'])}"
        per_day = 1 / 30
        if rng.random() < 0.3:
            rule += f";BYHOUR={joined(hours(1))}"
    elif kind == "sub-hourly":
        rule, per_day = rng.choice(
            [
                ("FREQ=HOURLY;BYMINUTE=0,30", 48),
                ("FREQ=HOURLY;BYMINUTE=15,45", 48),
                ("FREQ=HOURLY;BYMINUTE=0,15,30,45", 96),  # finer than Lord Howe's 30-minute gap
                ("FREQ=HOURLY;BYMINUTE=0,20,40", 72),
                ("FREQ=MINUTELY;INTERVAL=15", 96),
                ("FREQ=MINUTELY;INTERVAL=30", 48),
                ("FREQ=MINUTELY;INTERVAL=45", 32),
                ("FREQ=MINUTELY;INTERVAL=90", 16),
                ("FREQ=MINUTELY;INTERVAL=100", 14.4),
            ]
        )
        if rule.startswith("FREQ=MINUTELY"):
            every = rule.rsplit("=", 1)[1] + "m"
    elif kind == "yearly":  # on a clock-change Sunday
        month = rng.choice([3, 4, 9, 10])
        rule = f"FREQ=YEARLY;BYMONTH={month};BYDAY=-1SU;BYHOUR={joined(hours(1))}"
        per_day = 1 / 365
    else:  # odd intervals and rarer rule parts
        rule, per_day = rng.choice(
            [
                ("FREQ=HOURLY;INTERVAL=5", 24 / 5),
                ("FREQ=HOURLY;INTERVAL=7", 24 / 7),
                ("FREQ=HOURLY;INTERVAL=36", 24 / 36),
                ("FREQ=DAILY;INTERVAL=10", 1 / 10),
                ("FREQ=HOURLY;BYDAY=SA,SU;BYHOUR=1,2,3", 6 / 7),
                ("FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=SU,TU", 2 / 14),
                ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", 1 / 30),
                ("FREQ=DAILY;BYMONTH=3,4,10,11", 4 / 12),
            ]
        )
    if rng.random() > 0.15:
        every = None
    return rule, per_day, every


def turn_text(rng: Random, seconds: int) -> str:
    """`every:` for a turn of `seconds`: as seconds, or as parts (w, d, h, m, s
    in that order), now and then with a part of zero written out."""
    if rng.random() < 0.4:
        return f"{seconds}s"
    parts = []
    rest = seconds
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count or rng.random() < 0.15:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def random_time_of_day(rng: Random, changes: list[Change]) -> tuple[int, int, int]:
    """Hour, minute, second: often inside some clock change's gap or fold, so
    that daily rules land in it on the day of the change."""
    if changes and rng.random() < 0.45:
        c = rng.choice(changes)
        t = c.local_from + (c.local_to - c.local_from) * rng.random()
        return t.hour, t.minute, 0
    hour = rng.choice(TOUCHY_HOURS) if rng.random() < 0.4 else rng.randrange(24)
    minute = rng.choice([0, 0, 0, 15, 30, 45, rng.randrange(60)])
    second = rng.randrange(60) if rng.random() < 0.08 else 0
    return hour, minute, second


def random_start(rng: Random, zone_name: str, home: Window, per_day: float) -> datetime:
    """A naive local start for a rota meant to be compared in `home`: mostly
    before the window (up to ~3.5 years, less for busy rules), sometimes inside
    or after it, often at a time of day or on a day where the clocks change."""
    reach = min(1300.0, HANDOFF_BUDGET / 2 / per_day)  # days before the window
    if home.label == "apia-2011":
        reach = min(reach, 335.0)  # start in 2011, the year Apia skipped a day
    r = rng.random()
    if r < 0.12:
        anchor = home.start + (home.end - home.start) * rng.uniform(-0.1, 1.1)
    elif r < 0.35:
        anchor = home.start - timedelta(days=rng.uniform(0, min(60.0, reach)))
    elif r < 0.5 and reach > 1130:
        anchor = home.start - timedelta(days=rng.uniform(1080, 1130))  # about three years
    else:
        anchor = home.start - timedelta(days=rng.uniform(0, reach))
    anchor = anchor.replace(tzinfo=None)

    changes = clock_changes(zone_name)
    near = [c for c in changes if abs(c.local_from - anchor) < timedelta(days=120)]
    if near and rng.random() < 0.3:
        # Inside a gap or fold near the anchor, or on one of its edges.
        c = rng.choice(near)
        width = c.local_to - c.local_from
        start = rng.choice(
            [
                c.local_from,
                c.local_to,
                c.local_to - timedelta(minutes=1),
                c.local_from + width / 2,
                c.local_from + timedelta(minutes=rng.randrange(max(1, width // timedelta(minutes=1)))),
            ]
        )
    else:
        hour, minute, second = random_time_of_day(rng, changes)
        start = anchor.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if start < EARLIEST_START:
        start = EARLIEST_START.replace(hour=start.hour, minute=start.minute, second=start.second)
    return start.replace(microsecond=0)


def random_members(rng: Random) -> list[tuple[str, ...]]:
    """One to four members, people named twice now and then; a quarter of
    the rotas take turns in groups of one to three (distinct) people."""
    if rng.random() < 0.25:
        return [tuple(rng.sample(PEOPLE, rng.randint(1, 3))) for _ in range(rng.randint(1, 4))]
    return [(rng.choice(PEOPLE),) for _ in range(rng.randint(1, 4))]


def first_handoff_after(rule: str, start: datetime) -> datetime | None:
    for occurrence in rrulestr(rule, dtstart=start):
        if occurrence > start:
            return occurrence
    return None


def random_end(rng: Random, zone_name: str, start: datetime, home: Window) -> datetime | None:
    """An `end` for a rota meant to be compared in `home`: mostly inside the
    window, often right at a clock change of the zone, written as local time
    or (sometimes) as an instant with an offset; None when it would not be
    after the start (oncall rightly refuses that)."""
    anchor = (home.start + (home.end - home.start) * rng.uniform(-0.2, 1.1)).replace(tzinfo=None)
    near = [c for c in clock_changes(zone_name) if abs(c.local_from - anchor) < timedelta(days=40)]
    if near and rng.random() < 0.5:
        c = rng.choice(near)
        end = c.local_from + (c.local_to - c.local_from) * rng.choice([0, 0.5, 1, rng.random()])
    else:
        hour, minute, second = random_time_of_day(rng, clock_changes(zone_name))
        end = anchor.replace(hour=hour, minute=minute, second=second)
    end = end.replace(microsecond=0)
    if rng.random() < 0.25:
        # An exact instant: as UTC, or with some other fixed offset.
        offset = timezone(timedelta(minutes=rng.choice([0, -300, 330, 765])))
        end = to_utc(end, zone(zone_name)).astimezone(offset)
    instant = end.astimezone(UTC) if end.tzinfo else to_utc(end, zone(zone_name))
    return end if instant > to_utc(start, zone(zone_name)) else None


def random_active(rng: Random) -> list[ActiveWindow]:
    """One or two `active:` windows: mostly from a weekday and time to a
    weekday and time (within a day, across days, wrapping the week, ending at
    24:00), sometimes daily ones (crossing midnight too), at times of day where
    clocks change."""

    def minutes() -> int:
        hour = rng.choice(TOUCHY_HOURS) if rng.random() < 0.5 else rng.randrange(24)
        return hour * 60 + rng.choice([0, 0, 15, 30, 45])

    out = []
    for _ in range(rng.choice([1, 1, 2])):
        start, stop = minutes(), minutes() if rng.random() > 0.1 else 1440
        if rng.random() < 0.7:
            from_day, to_day = rng.randrange(7), rng.randrange(7)
            # Never the same weekday and time at both ends (24:00 is the next
            # day's 00:00): oncall rightly refuses that.
            while ((to_day + stop // 1440) % 7, stop % 1440) == (from_day, start):
                to_day = rng.randrange(7)
            out.append(ActiveWindow(start, stop, None, from_day, to_day))
        else:
            if start == stop:
                stop = (stop + 90) % 1440
            days = tuple(sorted(rng.sample(range(7), rng.randint(1, 7))))
            out.append(ActiveWindow(start, stop, days))
    return out


def make_rotas(rng: Random, count: int, windows: list[Window]) -> list[Rota]:
    teams = (count + ROTAS_PER_TEAM - 1) // ROTAS_PER_TEAM
    zones = [ZONES[i % len(ZONES)] for i in range(teams)]
    rng.shuffle(zones)
    apia = windows[0]
    rotas = []
    for i in range(count):
        team = i // ROTAS_PER_TEAM
        zone_name = zones[team]
        if zone_name == "Pacific/Apia" and rng.random() < 0.5:
            home = apia
        else:
            home = rng.choice(windows[1:])
        rule, per_day, every = random_rule(rng)
        start = random_start(rng, zone_name, home, per_day)
        if rng.random() < 0.12 and not rule.startswith("FREQ=SECONDLY"):
            # Run out of hand-offs somewhere around the window: the last
            # member then stays on call for good.
            days = max(1.0, (home.start.replace(tzinfo=None) - start) / timedelta(days=1) + 30)
            rule += f";COUNT={max(2, min(HANDOFF_BUDGET // 2, int(days * per_day * rng.uniform(0.2, 1.2))))}"
            every = None
        if first_handoff_after(rule, start) is None:
            # oncall rightly refuses a rota that never hands off; make it hand off.
            rule = rule.rsplit(";COUNT=", 1)[0]
        rotas.append(
            Rota(
                team=f"t{team:02d}",
                zone=zone_name,
                name=f"r{i:04d}",
                members=random_members(rng),
                start=start,
                rule=rule,
                every=every,
                per_day=per_day,
                home=home,
                end=random_end(rng, zone_name, start, home) if rng.random() < 0.2 else None,
                active=random_active(rng) if rng.random() < 0.3 else [],
            )
        )
        if rng.random() < 0.25:
            rotas[-1].first = rng.choice(rng.choice(rotas[-1].members))
    return rotas


def write_folder(folder: Path, rotas: list[Rota]) -> dict[tuple[str, int], Rota]:
    """Writes people.yaml and one file per team (replacing those of an earlier
    call); returns which rota each (file name, line) belongs to, to map
    `oncall check` errors back."""
    for old in folder.glob("*.yaml"):
        old.unlink()
    people = ["people:"]
    for p in PEOPLE:
        people += [f"  {p}:", f"    name: {p.title()}", f"    email: {p}@example.com"]
    (folder / "people.yaml").write_text("\n".join(people) + "\n")

    where: dict[tuple[str, int], Rota] = {}
    by_team: dict[str, list[Rota]] = {}
    for rota in rotas:
        by_team.setdefault(rota.team, []).append(rota)
    for team, team_rotas in by_team.items():
        lines = [f"team: {team}", f"timezone: {team_rotas[0].zone}", "rotas:"]
        for rota in team_rotas:
            entry = rota.yaml()
            for k in range(len(entry)):
                where[(f"{team}.yaml", len(lines) + 1 + k)] = rota
            lines += entry
        (folder / f"{team}.yaml").write_text("\n".join(lines) + "\n")
    return where


# --------------------------------------------------------------------------
# The model


Shift = tuple[str, str, str]  # (user, start, end), RFC 3339 UTC


def in_order(shift: Shift) -> tuple[str, str, str]:
    """Start, person, end: the order shifts are compared in."""
    user, start, end = shift
    return (start, user, end)


@dataclass
class Timeline:
    """Who a rota puts on call from its start: hand-off j takes effect at
    instants[j] and gives the shift to users[j]."""

    zone: zoneinfo.ZoneInfo
    naive: list[datetime]  # local wall time of each hand-off
    instants: list[datetime]  # non-decreasing (running maximum)
    overtaken: list[bool]  # whether an earlier hand-off's instant was later than its own
    users: list  # each a person, or a tuple of people on call together
    known_until: datetime  # exact before this instant (FOREVER when the rule ended)
    stop: datetime = FOREVER  # nobody is on call from this instant on (`end`)

    def shifts(self, window: Window, active: list[tuple] | None = None) -> list[Shift] | None:
        """The shifts within `window`, only inside the `active` stretches if
        given, or None if the model did not expand the rota that far."""
        until = min(window.end, self.stop)
        if until > self.known_until:
            return None
        pieces: list[tuple] = []
        first = max(0, bisect.bisect_right(self.instants, window.start) - 1)
        for j in range(first, len(self.instants)):
            begin = max(self.instants[j], window.start)
            end = min(self.instants[j + 1] if j + 1 < len(self.instants) else FOREVER, until)
            if begin >= until:
                break
            people = self.users[j] if isinstance(self.users[j], tuple) else (self.users[j],)
            for user in people:
                if active is None:
                    pieces.append((user, begin, end))
                    continue
                for s, e in active:
                    pieces.append((user, max(begin, s), min(end, e)))
        merged: list[list] = []
        last: dict[str, list] = {}  # each person's latest shift
        for user, begin, end in pieces:
            if begin >= end:
                continue
            if user in last and last[user][2] == begin:
                last[user][2] = end
            else:
                last[user] = [user, begin, end]
                merged.append(last[user])
        return sorted(((user, rfc3339(b), rfc3339(e)) for user, b, e in merged), key=in_order)

    def tally(self, window: Window, seen: Counter) -> None:
        """Counts the awkward cases within the window, to show they are tested."""
        first = bisect.bisect_left(self.instants, window.start)
        last = bisect.bisect_left(self.instants, window.end)
        for j in range(first, last):
            local = self.naive[j]
            utc = to_utc(local, self.zone)
            if utc.astimezone(self.zone).replace(tzinfo=None) != local:
                seen["hand-offs in a DST gap"] += 1
            elif local.replace(tzinfo=self.zone, fold=1).astimezone(UTC) != utc:
                seen["hand-offs in a DST fold"] += 1
            if self.overtaken[j]:
                seen["hand-offs overtaken by an earlier one"] += 1
        if first == 0 and last > 0:
            seen["rotas starting inside a window"] += 1
        if self.known_until == FOREVER and last == len(self.instants):
            seen["rules that ran out (COUNT) before a window's end"] += 1
        if window.start < self.stop < window.end:
            seen["rotas ending inside a window"] += 1


def expand(rota: Rota, until: datetime) -> Timeline:
    """The rota's hand-offs from its start until every later one takes effect
    at or after `until` (or the rule ends, or the budget runs out)."""
    at = next(i for i, m in enumerate(rota.members) if rota.first in m) if rota.first else 0
    members = [rota.members[(at + j) % len(rota.members)] for j in range(len(rota.members))]
    timeline = expand_handoffs(rota.zone, rota.start, rota.rule, members, min(until, rota.end_instant()))
    timeline.stop = rota.end_instant()
    return timeline


def expand_handoffs(
    zone_name: str,
    start: datetime,
    rule: str,
    members: list[str],
    until: datetime,
    budget: int = HANDOFF_BUDGET,
) -> Timeline:
    """The hand-offs of one rotation (members, a naive local start, an RRULE
    without DTSTART, in zone `zone_name`) from its start until every later one
    takes effect at or after `until` (aware UTC), or the rule ends, or
    `budget` hand-offs are expanded. Also used by scripts/bench_shifts.py."""
    tz = zone(zone_name)
    latest = to_utc(start, tz)
    naive, instants, overtaken, users = [start], [latest], [False], [members[0]]
    # No zone is more than 14 hours ahead of UTC: a naive time two days after
    # `until` is an instant after it.
    stop = until.replace(tzinfo=None) + timedelta(days=2)
    j = 0
    for occurrence in rrulestr(rule, dtstart=start):
        if occurrence <= start:
            continue
        j += 1
        own = to_utc(occurrence, tz)
        latest = max(latest, own)
        naive.append(occurrence)
        instants.append(latest)
        overtaken.append(own < latest)
        users.append(members[j % len(members)])
        if occurrence >= stop or j >= budget:
            return Timeline(tz, naive, instants, overtaken, users, known_until=latest)
    return Timeline(tz, naive, instants, overtaken, users, known_until=FOREVER)


def windows_for(rota: Rota, windows: list[Window]) -> list[Window]:
    """The windows a rota is compared in: its home window, any window before
    its start (nobody on call), and the others the budget reaches."""
    start = to_utc(rota.start, zone(rota.zone))
    reach = start + timedelta(days=min(20_000, HANDOFF_BUDGET / 1.5 / rota.per_day))
    return [w for w in windows if w == rota.home or w.end <= reach]


# --------------------------------------------------------------------------
# The binary


class HarnessError(Exception):
    """The test could not run (as opposed to: it found a mismatch)."""


def run_oncall(oncall: str, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([oncall, *args], capture_output=True, text=True, timeout=600)
    except OSError as e:
        raise HarnessError(f"cannot run {oncall}: {e}") from e


DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: (?P<message>.*)$")


def rejected_rotas(oncall: str, folder: Path, where: dict[tuple[str, int], Rota]) -> dict[tuple[str, str], str]:
    """Runs `oncall check`; returns the rotas it rejects, with its messages."""
    done = run_oncall(oncall, "check", "--schedules", str(folder))
    if done.returncode == 0:
        return {}
    rejected: dict[tuple[str, str], str] = {}
    for line in done.stderr.splitlines():
        m = DIAGNOSTIC.match(line)
        if not m:
            continue
        rota = where.get((Path(m["file"]).name, int(m["line"])))
        if rota is None:
            raise HarnessError(f"oncall check failed on something that is not a rota:\n{done.stderr}")
        rejected[rota.key] = m["message"]
    if not rejected:
        raise HarnessError(f"oncall check failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return rejected


def shifts_output(oncall: str, folder: Path, window: Window) -> str:
    """`oncall shifts` over the window, as JSON lines."""
    done = run_oncall(
        oncall,
        "shifts",
        "--schedules",
        str(folder),
        "--from",
        rfc3339(window.start),
        "--to",
        rfc3339(window.end),
        "--format",
        "json",
    )
    if done.returncode != 0:
        raise HarnessError(f"oncall shifts failed for {window} (exit {done.returncode}):\n{done.stderr}")
    return done.stdout


def parse_shifts(output: str) -> dict[tuple[str, str], list[Shift]]:
    """The shifts of each (team, rota), in the order printed."""
    out: dict[tuple[str, str], list[Shift]] = {}
    for line in output.splitlines():
        s = json.loads(line)
        out.setdefault((s["team"], s["rota"]), []).append((s["user"], s["start"], s["end"]))
    return out


# --------------------------------------------------------------------------
# Comparing and reporting


@dataclass
class Failure:
    rota: Rota
    window: Window | None = None
    expected: list[Shift] = field(default_factory=list)
    actual: list[Shift] = field(default_factory=list)
    message: str = ""

    def headline(self) -> str:
        where = f" in {self.window}" if self.window else ""
        return f"MISMATCH {self.rota.team}/{self.rota.name}{where}: {self.message}"

    def details(self) -> str:
        out = [self.headline(), "  team file:"]
        out += ["    " + line for line in self.rota.standalone_yaml().splitlines()]
        if self.rota.every:
            out.append(f"  (`every: {self.rota.every}` is `handoff: {self.rota.rule}`)")
        if self.window is None:
            return "\n".join(out)
        out.append(
            f"  oncall shifts --team {self.rota.team} --from {rfc3339(self.window.start)}"
            f" --to {rfc3339(self.window.end)} --format json"
        )
        k = first_difference(self.expected, self.actual)
        out.append(f"  first difference at shift #{k} (expected {len(self.expected)}, got {len(self.actual)}):")
        for label, shifts in (("expected", self.expected), ("actual", self.actual)):
            out.append(f"    {label}:")
            lo = max(0, k - 2)
            for i in range(lo, min(len(shifts), k + 4)):
                mark = ">" if i == k else " "
                user, begin, end = shifts[i]
                out.append(f"     {mark}#{i} {begin} .. {end}  {user}")
            if k >= len(shifts):
                out.append(f"     >#{k} (none)")
        return "\n".join(out)


def first_difference(a: list[Shift], b: list[Shift]) -> int:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def describe(a: Shift | None) -> str:
    return "(none)" if a is None else f"{a[1]} .. {a[2]} {a[0]}"


# --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--oncall",
        default=str(Path(__file__).resolve().parent.parent / "target" / "debug" / "oncall"),
        help="the oncall binary (default: target/debug/oncall of this repository)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"RNG seed (default {DEFAULT_SEED})")
    parser.add_argument("--rotas", type=int, default=DEFAULT_ROTAS, help=f"rotas to generate (default {DEFAULT_ROTAS})")
    parser.add_argument("--keep", type=Path, help="write the rota files to this new folder and keep them")
    parser.add_argument("--show", type=int, default=5, help="mismatches printed in full (default 5)")
    args = parser.parse_args()

    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        print(f"differential: --keep {args.keep} is not empty; give a new or empty folder", file=sys.stderr)
        return 2
    if tzdata.IANA_VERSION != EXPECTED_TZDATA:
        print(
            f"differential: tzdata {tzdata.IANA_VERSION} is installed but chrono-tz bundles {EXPECTED_TZDATA}; "
            "pip install -r tests/requirements.txt",
            file=sys.stderr,
        )
        return 2
    began = time.monotonic()
    print(
        f"differential: seed {args.seed}, {args.rotas} rotas, tzdata {tzdata.IANA_VERSION}, "
        f"python-dateutil {dateutil.__version__}, oncall {args.oncall}"
    )

    rng = Random(args.seed)
    windows = make_windows(rng)
    rotas = make_rotas(rng, args.rotas, windows)
    for rota in rotas:
        rota.windows = windows_for(rota, windows)
    print("differential: windows " + ", ".join(str(w) for w in windows))

    with tempfile.TemporaryDirectory(prefix="oncall-differential-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        failures: dict[tuple[str, str], list[Failure]] = {}

        # Rotas oncall refuses: each is a disagreement (the model accepts them).
        accepted = list(rotas)
        for _ in range(5):
            where = write_folder(folder, accepted)
            rejected = rejected_rotas(args.oncall, folder, where)
            if not rejected:
                break
            for rota in accepted:
                if rota.key in rejected:
                    message = f"oncall check rejects it: {rejected[rota.key]}"
                    failures[rota.key] = [Failure(rota, message=message)]
            accepted = [r for r in accepted if r.key not in rejected]
        else:
            raise HarnessError("oncall check keeps failing")

        # The binary works through the windows while the model expands the rotas.
        with ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1)) as pool:
            runs = {w: pool.submit(shifts_output, args.oncall, folder, w) for w in windows}
            timelines = {rota.key: expand(rota, max(w.end for w in rota.windows)) for rota in accepted}
            actual = {w: parse_shifts(run.result()) for w, run in runs.items()}

    compared = skipped = 0
    uncompared = set()
    seen: Counter = Counter()
    for rota in accepted:
        timeline = timelines[rota.key]
        uncompared.add(rota.key)
        for window in rota.windows:
            active = active_instants(rota.active, rota.zone, window.start, window.end) if rota.active else None
            expected = timeline.shifts(window, active)
            if rota.active:
                seen["windows of a rota with `active`"] += 1
            if rota.first and rota.first not in rota.members[0]:
                seen["windows of a rota with `first` not its first member"] += 1
            if expected is None:
                skipped += 1
                continue
            compared += 1
            uncompared.discard(rota.key)
            timeline.tally(window, seen)
            if rota.rule.startswith("FREQ=SECONDLY"):
                seen["windows of a turn in seconds"] += 1
            if any(len(m) > 1 for m in rota.members):
                seen["windows of a rota with groups"] += 1
            got = sorted(actual[window].get(rota.key, []), key=in_order)
            if expected != got:
                k = first_difference(expected, got)
                message = (
                    f"shift #{k}: expected {describe(expected[k] if k < len(expected) else None)}, "
                    f"got {describe(got[k] if k < len(got) else None)}"
                )
                failures.setdefault(rota.key, []).append(Failure(rota, window, expected, got, message))

    all_failures = [f for fs in failures.values() for f in fs]
    for f in all_failures[: args.show]:
        print()
        print(f.details())
    if len(all_failures) > args.show:
        print()
        for f in all_failures[args.show :]:
            print(f.headline())
    if all_failures:
        print()
        print(f"differential: reproduce with --seed {args.seed} --rotas {args.rotas}")

    failed = len(failures)
    passed = len(rotas) - failed - len(uncompared)
    print(
        f"differential: {compared} rota-window comparisons ({skipped} beyond the model's budget, "
        f"{len(uncompared)} rotas not compared at all), {time.monotonic() - began:.1f}s"
    )
    print("differential: covered " + ", ".join(f"{n} {what}" for what, n in sorted(seen.items())))
    print(f"differential: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except HarnessError as e:
        print(f"differential: cannot run: {e}", file=sys.stderr)
        sys.exit(2)
