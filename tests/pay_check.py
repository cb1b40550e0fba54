#!/usr/bin/env python3
"""Independent check of `oncall pay --source schedule` against a model in Python.

For each seed-derived case this script writes a schedules folder (people with
holiday regions, teams in zones with clock changes, weekly / daily / 12-hourly
rotas with overrides, a pay.yaml with a rate per rota and holidays), picks a
month around a DST change in a payroll zone, and computes every person's month
itself:

- hand-offs are the rota's start and then the RRULE's occurrences strictly
  after it (python-dateutil, naive local time), read as UTC with zoneinfo and
  fold=0 (a time in a DST gap takes the offset before the gap, a repeated time
  is its first occurrence); a running maximum keeps them in order; shift j
  belongs to members[j % n]; an override puts its user on the rota for its span
  (the later override wins);
- the month runs from local midnight to local midnight in the payroll zone;
- a second covered by several of a person's rotas is paid once, by the rota
  with the highest rate (on a tie, the first in team/rota order), and counted
  as a weekday, weekend or holiday second by that rota's local date;
- amount = sum(rate * seconds) / 3600, exactly (fractions), rounded half away
  from zero to cents at the end.

It then runs `oncall pay --month M --format json --source schedule` and
compares seconds_total, seconds_weekday, seconds_weekend, seconds_holiday and
amount for every person, to the second and to the cent.

    python tests/pay_check.py --oncall target/debug/oncall [--seed N] [--cases N]
    python tests/pay_check.py --oncall ... --self-test   # must report a failure

Exit status: 0 when all agree, 1 when some differ (each is printed), 2 when
the check could not run. `--self-test` skews the model by one second and
exits 0 only if that difference is caught, so the check is known to be able
to fail.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from random import Random

zoneinfo.reset_tzpath(to=[])
zoneinfo.ZoneInfo.clear_cache()

try:
    from dateutil.rrule import rrulestr
except ImportError as e:
    sys.exit(f"pay_check: {e}; install the test's packages: pip install -r tests/requirements.txt")

UTC = timezone.utc
ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Europe/Berlin"]
PAYROLL_ZONES = ["UTC", "Europe/London", "America/New_York"]
# Months that hold a clock change somewhere above.
MONTHS = [(2026, 3), (2026, 4), (2026, 10), (2026, 11), (2025, 3), (2025, 10)]
PEOPLE = [f"p{i:02}" for i in range(12)]
REGIONS = ["north", "south"]


def zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def to_utc(naive: datetime, tz: str) -> datetime:
    return naive.replace(tzinfo=zone(tz), fold=0).astimezone(UTC)


@dataclass
class Rota:
    team: str
    zone: str
    name: str
    members: list[str]
    start: datetime  # naive local
    rule: str
    rate: int  # cents per hour
    overrides: list[tuple[str, datetime, datetime]]  # user, naive local from, to


def generate(rng: Random):
    year, month = rng.choice(MONTHS)
    payroll = rng.choice(PAYROLL_ZONES)
    regions = {p: rng.choice(REGIONS) for p in PEOPLE}
    holidays = {
        r: sorted({date(year, month, rng.randint(1, 28)) for _ in range(rng.randint(0, 3))}) for r in REGIONS
    }
    teams = []
    for t in range(rng.randint(2, 4)):
        tz = rng.choice(ZONES)
        rotas = []
        for k in range(rng.randint(1, 3)):
            members = rng.sample(PEOPLE, rng.randint(1, 4))
            start = datetime(year, month, 1) - timedelta(days=rng.randint(0, 40))
            start = start.replace(hour=rng.choice([0, 1, 2, 3, 9, 12, 23]), minute=rng.choice([0, 30]))
            rule = rng.choice(
                [
                    "FREQ=WEEKLY",
                    "FREQ=DAILY",
                    "FREQ=HOURLY;INTERVAL=12",
                    "FREQ=WEEKLY;BYDAY=MO,TH",
                    "FREQ=WEEKLY;INTERVAL=2",
                ]
            )
            overrides = []
            for _ in range(rng.randint(0, 2)):
                a = datetime(year, month, rng.randint(1, 27), rng.randint(0, 23))
                overrides.append((rng.choice(PEOPLE), a, a + timedelta(hours=rng.randint(1, 60))))
            rotas.append(Rota(f"t{t}", tz, f"r{k}", members, start, rule, rng.choice([100, 150, 200, 250]), overrides))
        teams.append((f"t{t}", tz, rotas))
    return year, month, payroll, regions, holidays, teams


def write(folder: Path, year, month, payroll, regions, holidays, teams) -> None:
    lines = ["people:"]
    for p in PEOPLE:
        lines.append(f"  {p}: {{name: Person {p}, email: {p}@example.com, region: {regions[p]}}}")
    (folder / "people.yaml").write_text("\n".join(lines) + "\n")
    for team, tz, rotas in teams:
        out = [f"team: {team}", f"timezone: {tz}", "rotas:"]
        for r in rotas:
            out += [
                f"  {r.name}:",
                f"    members: [{', '.join(r.members)}]",
                f"    start: {r.start:%Y-%m-%dT%H:%M}",
                f"    handoff: {r.rule}",
            ]
        ov = [(r, o) for r in rotas for o in r.overrides]
        if ov:
            out.append("overrides:")
            for r, (user, a, b) in ov:
                out.append(f"  - {{rota: {r.name}, user: {user}, from: {a:%Y-%m-%dT%H:%M}, to: {b:%Y-%m-%dT%H:%M}}}")
        (folder / f"{team}.yaml").write_text("\n".join(out) + "\n")
    pay = [f"currency: EUR", f"payroll_timezone: {payroll}", "rotas:"]
    for team, _, rotas in teams:
        for r in rotas:
            pay.append(f"  {team}/{r.name}: {{rate: {Decimal(r.rate) / 100}}}")
    pay += ["holidays:", "  multiplier: 1", "  regions:"]
    for region, days in holidays.items():
        pay.append(f"    {region}: [{', '.join(d.isoformat() for d in days)}]")
    (folder / "pay.yaml").write_text("\n".join(pay) + "\n")


def shifts(r: Rota, until: datetime) -> list[tuple[datetime, datetime, str]]:
    """The rota's (start, end, user) before overrides, up to `until` (UTC)."""
    rule = rrulestr(r.rule, dtstart=r.start)
    handoffs = [to_utc(r.start, r.zone)]
    for occ in rule:
        if occ <= r.start:
            continue
        t = max(to_utc(occ, r.zone), handoffs[-1])
        handoffs.append(t)
        if t > until:
            break
    out = []
    for j in range(len(handoffs) - 1):
        out.append((handoffs[j], handoffs[j + 1], r.members[j % len(r.members)]))
    return out


def who_on(r: Rota, base, t: datetime) -> str | None:
    user = None
    for a, b, u in base:
        if a <= t < b:
            user = u
    for u, a, b in r.overrides:
        if to_utc(a, r.zone) <= t < to_utc(b, r.zone):
            user = u
    return user


def model(year, month, payroll, regions, holidays, teams):
    first = to_utc(datetime(year, month, 1), payroll)
    nxt = datetime(year + month // 12, month % 12 + 1, 1)
    last = to_utc(nxt, payroll)
    # Every instant where something may change: hand-offs, overrides, midnights.
    per_rota = []
    cuts = {first, last}
    for team, tz, rotas in teams:
        for r in rotas:
            base = shifts(r, last + timedelta(days=2))
            per_rota.append((team, r, base))
            cuts.update(a for a, _, _ in base)
            cuts.update(b for _, b, _ in base)
            for _, a, b in r.overrides:
                cuts.update([to_utc(a, r.zone), to_utc(b, r.zone)])
            d = (first - timedelta(days=2)).astimezone(zone(tz)).date()
            while to_utc(datetime(d.year, d.month, d.day), tz) < last:
                cuts.add(to_utc(datetime(d.year, d.month, d.day), tz))
                d += timedelta(days=1)
    cuts = sorted(c for c in cuts if first <= c <= last)
    people: dict[str, dict] = {}
    for a, b in zip(cuts, cuts[1:]):
        secs = int((b - a).total_seconds())
        holders: dict[str, list] = {}
        for team, r, base in per_rota:
            u = who_on(r, base, a)
            if u is not None:
                holders.setdefault(u, []).append(((-r.rate, team, r.name), r))
        for u, options in holders.items():
            _, r = min(options, key=lambda o: o[0])
            local = a.astimezone(zone(r.zone)).date()
            if local in holidays[regions[u]]:
                kind = "holiday"
            elif local.weekday() >= 5:
                kind = "weekend"
            else:
                kind = "weekday"
            p = people.setdefault(u, {"total": 0, "weekday": 0, "weekend": 0, "holiday": 0, "amount": Fraction(0)})
            p["total"] += secs
            p[kind] += secs
            p["amount"] += Fraction(r.rate * secs, 3600 * 100)
    return people


def cents(x: Fraction) -> str:
    return str((Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def run_case(oncall: str, seed: int, skew: int) -> list[str]:
    rng = Random(seed)
    case = generate(rng)
    year, month = case[0], case[1]
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        write(folder, *case)
        p = subprocess.run(
            [oncall, "pay", "--schedules", d, "--month", f"{year:04}-{month:02}", "--format", "json",
             "--source", "schedule"],
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            return [f"seed {seed}: oncall pay failed ({p.returncode}): {p.stderr}"]
        got = {row["person"]: row for row in map(json.loads, p.stdout.splitlines())}
        files = {f.name: f.read_text() for f in sorted(folder.iterdir())}
    want = model(*case)
    if skew:
        for p in want.values():
            p["total"] += skew
            break
    problems = []
    for person in sorted(set(got) | set(want)):
        g, w = got.get(person), want.get(person)
        if g is None or w is None:
            problems.append(f"seed {seed}: {person}: oncall has {g is not None}, model has {w is not None}")
            continue
        for key in ["total", "weekday", "weekend", "holiday"]:
            if g[f"seconds_{key}"] != w[key]:
                problems.append(f"seed {seed}: {person}: seconds_{key} oncall {g[f'seconds_{key}']} model {w[key]}")
        if g["amount"] != cents(w["amount"]):
            problems.append(f"seed {seed}: {person}: amount oncall {g['amount']} model {cents(w['amount'])}")
    if problems:
        problems.append(f"seed {seed}: month {year}-{month:02}, payroll {case[2]}; files:")
        for name, text in files.items():
            problems.append(f"--- {name}\n{text}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--oncall", required=True)
    ap.add_argument("--seed", type=int, default=20260301)
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--self-test", action="store_true", help="skew the model by a second: must fail")
    args = ap.parse_args()
    if not Path(args.oncall).exists():
        print(f"pay_check: no binary at {args.oncall}", file=sys.stderr)
        return 2
    skew = 1 if args.self_test else 0
    problems = []
    for i in range(args.cases):
        problems += run_case(args.oncall, args.seed + i, skew)
    if args.self_test:
        if problems:
            print(f"pay_check: self-test ok: a one-second error was caught ({len(problems)} lines)")
            return 0
        print("pay_check: self-test FAILED: a one-second error went unnoticed")
        return 1
    if problems:
        print("\n".join(problems))
        return 1
    print(f"pay_check: {args.cases} generated months agree with the model to the second and the cent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
