#!/usr/bin/env python3
"""`oncall shifts` against python-dateutil + zoneinfo, side by side: the Python half of
scripts/bench-shifts (which builds the binary and sets up the venv; run that).

Generates 350 rotas from a fixed seed (35 teams in zones with and without clock changes;
weekly, daily, `every:` and RRULE hand-offs; layered rotas with active windows, some
crossing midnight; full-cover overrides and swaps), writes them to a folder, and then, in
alternating rounds:

- runs `oncall shifts --from A --to A+1y --format json` as a whole process, output to a file;
- expands the same rotas in this process with the model below, timing only the expansion
  (from the rotas' fields to the list of shifts with UTC datetimes: no YAML, no formatting).

It prints the median wall-clock and CPU time of each, the shift count of each (they must
agree; the shifts themselves are compared too), the ratios, and whether the wall-clock
ratio meets the target. On a machine shared with other work the CPU-time ratio is the
steadier of the two: a short process loses more, in proportion, to waiting for a core.

The model: each layer's hand-offs come from `expand_handoffs` of tests/differential.py
(dateutil's rrule expanded by brute force from the start, each naive hand-off read through
zoneinfo with fold=0, a running maximum), then the written composition rules of
docs/schedules.md section 4 and 6: a layer's shifts clipped to its active windows (each
window's edges read like hand-offs), later layers painted over earlier ones, overrides
painted in order (a swap only over the stretches the layers give its `instead_of`),
touching shifts of one person merged.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import differential  # noqa: E402  (after the path; it checks for dateutil and tzdata itself)
from differential import expand_handoffs, rfc3339, to_utc, zone  # noqa: E402

UTC = timezone.utc
SEED = 17  # about 72,000 shifts over the year
TEAMS = 35
ROTAS_PER_TEAM = 10
FROM = datetime(2026, 1, 1, tzinfo=UTC)
TO = datetime(2027, 1, 1, tzinfo=UTC)
TARGET = 20.0
ZONES = [
    "Europe/London",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute change
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Sao_Paulo",  # no change since 2019
    "Asia/Kolkata",  # no change at all
    "UTC",
]
PEOPLE = [f"p{i:03d}" for i in range(140)]
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Far more hand-offs than any rota here has from its start to TO.
BUDGET = 10_000_000


# --------------------------------------------------------------------------
# The rotas


@dataclass
class Window:
    days: list[int]  # weekdays the window starts on, Monday = 0
    start: int  # minutes after local midnight
    end: int  # minutes, up to 1440; at or before `start`: the next day

    def yaml(self) -> str:
        def hhmm(m: int) -> str:
            return f'"{m // 60:02d}:{m % 60:02d}"'

        return f"{{days: [{', '.join(DAYS[d] for d in self.days)}], from: {hhmm(self.start)}, to: {hhmm(self.end)}}}"


@dataclass
class Layer:
    members: list[str]
    start: datetime  # naive local
    rule: str
    every: str | None = None
    active: list[Window] = field(default_factory=list)

    def yaml(self, indent: str) -> list[str]:
        lines = [
            f"members: [{', '.join(self.members)}]",
            f"start: {self.start:%Y-%m-%dT%H:%M}",
            f"every: {self.every}" if self.every else f"handoff: {self.rule}",
        ]
        if self.active:
            lines.append(f"active: [{', '.join(w.yaml() for w in self.active)}]")
        return [indent + line for line in lines]


@dataclass
class Cover:
    rota: str
    user: str
    start: datetime  # naive local
    end: datetime
    instead_of: str | None = None


@dataclass
class Rota:
    name: str
    layers: list[Layer]


@dataclass
class Team:
    name: str
    zone: str
    rotas: list[Rota]
    overrides: list[Cover]


def generate(seed: int) -> list[Team]:
    rng = Random(seed)

    def start_time(hours: list[int]) -> datetime:
        """A naive local start in 2025 or the first half of 2026; sometimes at an hour
        when some zone changes its clocks."""
        day = date(2025, 1, 1) + timedelta(days=rng.randrange(540))
        hour = rng.choice([0, 1, 2, 3]) if rng.random() < 0.22 else rng.choice(hours)
        return datetime(day.year, day.month, day.day, hour, rng.choice([0, 0, 0, 30]))

    def monday_at(hour: int) -> datetime:
        s = start_time([hour])
        return s - timedelta(days=s.weekday())

    def single(members: list[str]) -> list[Layer]:
        kind = rng.choices(
            ["weekly", "weekly-mon", "daily", "12h", "twice-daily", "weekdays", "fortnight", "monthly", "6h"],
            weights=[20, 18, 14, 4, 4, 8, 6, 5, 1],
        )[0]
        if kind == "weekly":
            return [Layer(members, start_time([9, 10, 17]), "FREQ=WEEKLY", every="1w")]
        if kind == "weekly-mon":
            return [Layer(members, monday_at(9), "FREQ=WEEKLY;BYDAY=MO")]
        if kind == "daily":
            return [Layer(members, start_time([8, 9, 18]), "FREQ=DAILY", every="1d")]
        if kind == "12h":
            return [Layer(members, start_time([8, 9]), "FREQ=HOURLY;INTERVAL=12", every="12h")]
        if kind == "twice-daily":
            return [Layer(members, start_time([9]).replace(hour=9), "FREQ=DAILY;BYHOUR=9,21")]
        if kind == "weekdays":
            return [Layer(members, monday_at(9), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR")]
        if kind == "fortnight":
            return [Layer(members, start_time([14]), "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE")]
        if kind == "monthly":
            return [Layer(members, start_time([9]), "FREQ=MONTHLY;BYDAY=1MO")]
        if kind == "6h":  # the busiest
            return [Layer(members, start_time([0, 6]), "FREQ=HOURLY;INTERVAL=6", every="6h")]
        raise AssertionError(kind)

    def layered(people: list[str]) -> list[Layer]:
        kind = rng.choice(["follow-the-sun", "business-hours", "weekend-cover"])
        a, b, c = (rng.sample(people, 2) for _ in range(3))
        if kind == "follow-the-sun":  # as in schedules/payments.yaml
            return [
                Layer(a, monday_at(8) - timedelta(days=2), "FREQ=WEEKLY", every="1w"),
                Layer(b, monday_at(8), "FREQ=DAILY", active=[Window([0, 1, 2, 3, 4], 8 * 60, 20 * 60)]),
                Layer(c, monday_at(20), "FREQ=WEEKLY", active=[Window([0, 1, 2, 3], 20 * 60, 8 * 60)]),
            ]
        if kind == "business-hours":  # working hours only: gaps at night and at weekends
            return [
                Layer(
                    a + b,
                    monday_at(9),
                    "FREQ=WEEKLY;BYDAY=MO,TH",
                    active=[Window([0, 1, 2, 3, 4], 9 * 60, 17 * 60 + 30)],
                )
            ]
        return [  # a weekly rotation with a weekend rotation over it
            Layer(a + c, monday_at(9), "FREQ=WEEKLY;BYDAY=MO"),
            Layer(
                b,
                monday_at(18) + timedelta(days=4),
                "FREQ=WEEKLY",
                every="1w",
                active=[Window([4], 18 * 60, 1440), Window([5, 6], 0, 1440)],
            ),
        ]

    teams = []
    for t in range(TEAMS):
        people = rng.sample(PEOPLE, 8)
        rotas = []
        for r in range(ROTAS_PER_TEAM):
            members = [rng.choice(people) for _ in range(rng.randint(2, 5))]
            # No one twice in a row: the model and oncall would merge them alike, but the
            # shifts are counted more plainly without.
            members = [m for i, m in enumerate(members) if i == 0 or m != members[i - 1]]
            layers = layered(people) if rng.random() < 0.22 else single(members)
            rotas.append(Rota(f"r{r:02d}", layers))
        overrides = []
        for _ in range(rng.randint(0, 6)):
            rota = rng.choice(rotas)
            day = date(2026, 1, 1) + timedelta(days=rng.randrange(360))
            begin = datetime(day.year, day.month, day.day, rng.choice([0, 9, 12, 18]))
            end = begin + timedelta(hours=rng.choice([4, 12, 24, 72, 168]))
            scheduled = sorted({m for layer in rota.layers for m in layer.members})
            swap = rng.choice(scheduled) if rng.random() < 0.4 else None
            overrides.append(Cover(rota.name, rng.choice(people), begin, end, swap))
        teams.append(Team(f"team{t:02d}", ZONES[t % len(ZONES)], rotas, overrides))
    return teams


def write(folder: Path, teams: list[Team]) -> None:
    people = ["people:"] + [f"  {p}: {{name: Person {p[1:]}, email: {p}@example.com}}" for p in PEOPLE]
    (folder / "people.yaml").write_text("\n".join(people) + "\n")
    for team in teams:
        lines = [f"team: {team.name}", f"timezone: {team.zone}", "rotas:"]
        for rota in team.rotas:
            lines.append(f"  {rota.name}:")
            if len(rota.layers) == 1 and not rota.layers[0].active:
                lines += rota.layers[0].yaml("    ")
            else:
                lines.append("    layers:")
                for layer in rota.layers:
                    entry = layer.yaml("        ")
                    entry[0] = "      - " + entry[0].lstrip()
                    lines += entry
        if team.overrides:
            lines.append("overrides:")
            for o in team.overrides:
                lines.append(f"  - rota: {o.rota}")
                lines.append(f"    user: {o.user}")
                if o.instead_of:
                    lines.append(f"    instead_of: {o.instead_of}")
                lines.append(f"    from: {o.start:%Y-%m-%dT%H:%M}")
                lines.append(f"    to: {o.end:%Y-%m-%dT%H:%M}")
        (folder / f"{team.name}.yaml").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# The model (Python)

Tile = tuple  # (user or None, start, end), aware UTC datetimes


def layer_tiles(tz_name: str, layer: Layer, a: datetime, b: datetime) -> list[Tile]:
    """The layer's shifts within [a, b), clipped to its active windows."""
    timeline = expand_handoffs(tz_name, layer.start, layer.rule, layer.members, b, budget=BUDGET)
    instants, users = timeline.instants, timeline.users
    tiles = []
    for j in range(max(0, bisect.bisect_right(instants, a) - 1), len(instants)):
        if instants[j] >= b:
            break
        begin = max(instants[j], a)
        end = min(instants[j + 1], b) if j + 1 < len(instants) else b
        if begin < end:
            tiles.append((users[j], begin, end))
    if not layer.active:
        return tiles
    return intersect(tiles, active_spans(tz_name, layer.active, a, b))


def active_spans(tz_name: str, windows: list[Window], a: datetime, b: datetime) -> list[tuple]:
    """The union of the windows' occurrences within [a, b): each starts on a local date
    it lists, its edges read as local times with fold=0."""
    tz = zone(tz_name)
    day = a.astimezone(tz).date() - timedelta(days=2)
    last = b.astimezone(tz).date() + timedelta(days=1)
    spans = []
    while day <= last:
        midnight = datetime(day.year, day.month, day.day)
        for w in windows:
            if day.weekday() not in w.days:
                continue
            end = w.end if w.end > w.start else w.end + 1440
            s = to_utc(midnight + timedelta(minutes=w.start), tz)
            e = to_utc(midnight + timedelta(minutes=end), tz)
            s, e = max(s, a), min(e, b)
            if s < e:
                spans.append((s, e))
        day += timedelta(days=1)
    spans.sort()
    out: list[list] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def intersect(tiles: list[Tile], spans: list) -> list[Tile]:
    out = []
    i = 0
    for user, ts, te in tiles:
        while i < len(spans) and spans[i][1] <= ts:
            i += 1
        k = i
        while k < len(spans) and spans[k][0] < te:
            s, e = max(ts, spans[k][0]), min(te, spans[k][1])
            if s < e:
                out.append((user, s, e))
            k += 1
    return out


def overlay(base: list[Tile], top: list[Tile]) -> list[Tile]:
    """`base` (tiling a range) with `top` (sorted, not overlapping, within it) painted over."""
    out = []
    k = 0
    for user, bs, be in base:
        cursor = bs
        while k < len(top):
            tu, ts, te = top[k]
            if ts >= be:
                break
            if ts > cursor:
                out.append((user, cursor, ts))
            s, e = max(ts, cursor), min(te, be)
            if s < e:
                out.append((tu, s, e))
            cursor = max(cursor, e)
            if te <= be:
                k += 1
            else:
                break
        if cursor < be:
            out.append((user, cursor, be))
    return out


def merge(tiles: list[Tile]) -> list[Tile]:
    out: list[list] = []
    for user, s, e in tiles:
        if s >= e:
            continue
        if out and out[-1][0] == user and out[-1][2] == s:
            out[-1][2] = e
        else:
            out.append([user, s, e])
    return [tuple(t) for t in out]


def expand_all(teams: list[Team], a: datetime, b: datetime) -> list[tuple]:
    """Every rota's shifts within [a, b) (gaps left out), in team, rota and time order,
    as (team, rota, user, start, end)."""
    out = []
    for team in teams:
        tz = zone(team.zone)
        for rota in team.rotas:
            timeline = [(None, a, b)]
            for layer in rota.layers:
                timeline = overlay(timeline, layer_tiles(team.zone, layer, a, b))
            scheduled = merge(timeline)
            timeline = scheduled
            for o in team.overrides:
                if o.rota != rota.name:
                    continue
                s, e = max(to_utc(o.start, tz), a), min(to_utc(o.end, tz), b)
                if s >= e:
                    continue
                if o.instead_of is None:
                    cover = [(o.user, s, e)]
                else:
                    cover = [
                        (o.user, max(ts, s), min(te, e))
                        for user, ts, te in scheduled
                        if user == o.instead_of and max(ts, s) < min(te, e)
                    ]
                timeline = overlay(timeline, cover)
            out += [(team.name, rota.name, user, s, e) for user, s, e in merge(timeline) if user is not None]
    return out


# --------------------------------------------------------------------------


def run_binary(oncall: str, folder: Path, out: Path) -> tuple[float, float]:
    """Runs `oncall shifts` over the year; its wall-clock and CPU (user + system) seconds."""
    args = [
        oncall,
        "shifts",
        "--schedules",
        str(folder),
        "--from",
        rfc3339(FROM),
        "--to",
        rfc3339(TO),
        "--format",
        "json",
        # No run-time overrides: a database that does not exist.
        "--database",
        str(folder / "none.db"),
    ]
    with out.open("wb") as f:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(args, stdout=f, stderr=subprocess.PIPE)
        took = time.perf_counter() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"bench-shifts: {oncall} failed (exit {done.returncode}):\n{done.stderr.decode()}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return took, cpu


def read_shifts(path: Path) -> list[tuple]:
    out = []
    with path.open() as f:
        for line in f:
            s = json.loads(line)
            out.append((s["team"], s["rota"], s["user"], s["start"], s["end"]))
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--oncall", required=True, help="the oncall binary (a release build)")
    parser.add_argument("--baseline", help="another oncall binary to time in the same rounds (say, an older build)")
    parser.add_argument("--runs", type=int, default=7, help="rounds (default 7); medians are printed")
    parser.add_argument("--keep", type=Path, help="write the rota files to this new folder and keep them")
    args = parser.parse_args()

    if differential.tzdata.IANA_VERSION != differential.EXPECTED_TZDATA:
        sys.exit(
            f"bench-shifts: tzdata {differential.tzdata.IANA_VERSION} is installed, "
            f"chrono-tz has {differential.EXPECTED_TZDATA}: pip install -r tests/requirements.txt"
        )
    teams = generate(SEED)
    layers = sum(len(r.layers) for t in teams for r in t.rotas)
    overrides = sum(len(t.overrides) for t in teams)
    with tempfile.TemporaryDirectory(prefix="oncall-bench-shifts-") as tmp:
        folder = args.keep or Path(tmp) / "schedules"
        folder.mkdir(parents=True, exist_ok=args.keep is None)
        write(folder, teams)
        binaries = {"oncall": args.oncall}
        if args.baseline:
            binaries["baseline"] = args.baseline
        print(
            f"bench-shifts: {TEAMS * ROTAS_PER_TEAM} rotas ({layers} layers, {overrides} overrides) in {TEAMS} teams, "
            f"seed {SEED}, [{rfc3339(FROM)}, {rfc3339(TO)}), {args.runs} rounds"
        )
        load = os.getloadavg()[0]
        # Wall-clock and CPU seconds of each run.
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in [*binaries, "python"]}
        outputs = {name: Path(tmp) / f"{name}.jsonl" for name in binaries}
        model: list[tuple] = []
        for _ in range(args.runs):
            # Alternating, so that the neighbours' load weighs on each side alike.
            for name, path in binaries.items():
                times[name].append(run_binary(path, folder, outputs[name]))
            began, began_cpu = time.perf_counter(), time.process_time()
            model = expand_all(teams, FROM, TO)
            times["python"].append((time.perf_counter() - began, time.process_time() - began_cpu))

        expected = [(team, rota, user, rfc3339(s), rfc3339(e)) for team, rota, user, s, e in model]
        counts = {}
        agree = True
        for name in binaries:
            got = read_shifts(outputs[name])
            counts[name] = len(got)
            if got != expected:
                agree = False
                k = next((i for i, (x, y) in enumerate(zip(expected, got)) if x != y), min(len(got), len(expected)))
                print(f"bench-shifts: {name} and the model disagree at shift #{k}:")
                print(f"  model:  {expected[k] if k < len(expected) else '(none)'}")
                print(f"  {name}: {got[k] if k < len(got) else '(none)'}")
        if args.baseline and outputs["baseline"].read_bytes() != outputs["oncall"].read_bytes():
            print("bench-shifts: the two binaries' outputs are not byte-identical")
            agree = False

    def medians(name: str) -> tuple[float, float]:
        return statistics.median(w for w, _ in times[name]), statistics.median(c for _, c in times[name])

    print(f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after ({os.cpu_count()} CPUs)")
    print(f"{'medians':<50} {'wall':>10} {'CPU':>10} {'shifts':>8}")
    rows = [("python-dateutil + zoneinfo, in-process expansion", "python", len(model))]
    rows += [(f"{name} shifts --format json, whole process", name, counts[name]) for name in binaries]
    for label, name, count in rows:
        wall, cpu = medians(name)
        print(f"{label:<50} {ms(wall):>10} {ms(cpu):>10} {count:>8}")
    python_wall, python_cpu = medians("python")
    ratios = {name: (python_wall / medians(name)[0], python_cpu / medians(name)[1]) for name in binaries}
    for name, (wall, cpu) in ratios.items():
        print(f"{name} against python: {wall:.1f}x faster by the wall clock, {cpu:.1f}x by CPU time")
    for name, runs in times.items():
        print(f"  {name} runs, wall ms: " + ", ".join(f"{w * 1000:.1f}" for w, _ in runs))
    ratio = ratios["oncall"][0]
    if not agree:
        print("bench-shifts: FAILED: the shifts differ")
        return 1
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(
        f"target: oncall at least {TARGET:.0f}x faster than the Python expansion by the wall clock: "
        f"{verdict} ({ratio:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
