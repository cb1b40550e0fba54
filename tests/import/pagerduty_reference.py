"""PagerDuty's final schedule, worked out from its documentation alone.

This is the independent reference `oncall import pagerduty --verify` is
checked against: it reads the schedule as PagerDuty's REST API v2 returns it
(`schedule_layers`, listed last-first, with their `restrictions`) and the
schedule's overrides, and renders `final_schedule.rendered_schedule_entries`
for a window. It was written from PagerDuty's documentation of schedules
(quoted in tests/import/README.md), not from oncall's Rust code, and shares
no code with it. The rules it follows:

1. A layer's users take turns of `rotation_turn_length_seconds`, counted
   from `rotation_virtual_start`; the turns keep their local time of day in
   the schedule's `time_zone` across daylight-saving changes. Turns count
   backwards as well as forwards from the virtual start.
2. A layer counts only from its `start` until its `end` (if any).
3. With restrictions, a layer counts only inside one of them: a
   `daily_restriction` every day from `start_time_of_day` for
   `duration_seconds`, a `weekly_restriction` from `start_day_of_week`
   (ISO: 1 is Monday) at `start_time_of_day` for `duration_seconds`. The
   turns go on meanwhile. Times are local wall-clock times of the zone.
4. Where several layers count, the one listed first in the API's answer
   (the highest layer in PagerDuty's web UI) wins.
5. An override puts its user on call from its `start` to its `end`, over
   all layers; of overlapping overrides, the one starting later wins.
6. Nobody on call is no entry. Entries are cut to the window and a user's
   consecutive entries are one.
"""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def to_utc(tz, naive):
    # fold=0: a repeated local time is its first pass; a skipped one is read
    # with the offset before the jump.
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def local(tz, t):
    return t.astimezone(tz).replace(tzinfo=None)


class Layer:
    def __init__(self, raw, tz):
        self.tz = tz
        self.start = parse(raw["start"])
        self.end = parse(raw["end"]) if raw.get("end") else None
        self.virtual = local(tz, parse(raw["rotation_virtual_start"]))
        self.turn = timedelta(seconds=raw["rotation_turn_length_seconds"])
        self.users = [u["user"]["id"] for u in raw["users"]]
        self.restrictions = raw.get("restrictions") or []

    def handoff(self, k):
        return to_utc(self.tz, self.virtual + k * self.turn)

    def turn_at(self, t):
        k = int((local(self.tz, t) - self.virtual) // self.turn)
        while self.handoff(k) > t:
            k -= 1
        while self.handoff(k + 1) <= t:
            k += 1
        return k

    def restriction_spans(self, since, until):
        """Every restriction's (start, end) near the window, in UTC."""
        spans = []
        first = local(self.tz, since).date() - timedelta(days=8)
        last = local(self.tz, until).date() + timedelta(days=1)
        for r in self.restrictions:
            h, m, s = (int(x) for x in r["start_time_of_day"].split(":"))
            d = first
            while d <= last:
                if r["type"] == "daily_restriction" or d.isoweekday() == r["start_day_of_week"]:
                    begin = datetime.combine(d, time(h, m, s))
                    spans.append(
                        (to_utc(self.tz, begin), to_utc(self.tz, begin + timedelta(seconds=r["duration_seconds"])))
                    )
                d += timedelta(days=1)
        return spans

    def boundaries(self, since, until):
        out = [self.start] + ([self.end] if self.end else [])
        k = self.turn_at(since)
        while self.handoff(k) < until:
            out.append(self.handoff(k))
            k += 1
        for a, b in self.restriction_spans(since, until):
            out += [a, b]
        return out

    def user_at(self, t, spans):
        if t < self.start or (self.end is not None and t >= self.end):
            return None
        if self.restrictions and not any(a <= t < b for a, b in spans):
            return None
        return self.users[self.turn_at(t) % len(self.users)]


def render(schedule, overrides, since, until):
    """`rendered_schedule_entries` of `schedule` between `since` and `until`
    (aware datetimes), each {start, end, user} in the schedule's zone."""
    tz = ZoneInfo(schedule["time_zone"])
    layers = [Layer(raw, tz) for raw in schedule["schedule_layers"]]
    spans = [layer.restriction_spans(since, until) for layer in layers]
    ovs = [(parse(o["start"]), parse(o["end"]), o["user"]) for o in overrides]
    cuts = {since, until}
    for layer in layers:
        cuts.update(layer.boundaries(since, until))
    for a, b, _ in ovs:
        cuts.update((a, b))
    cuts = sorted(c for c in cuts if since <= c <= until)
    users = {}
    for layer_raw in schedule["schedule_layers"]:
        for u in layer_raw["users"]:
            users[u["user"]["id"]] = u["user"]
    for _, _, u in ovs:
        users[u["id"]] = u
    entries = []
    for a, b in zip(cuts, cuts[1:]):
        if a >= b:
            continue
        covering = [o for o in ovs if o[0] <= a < o[1]]
        if covering:
            who = max(covering, key=lambda o: o[0])[2]["id"]
        else:
            who = None
            for layer, sp in zip(layers, spans):
                who = layer.user_at(a, sp)
                if who is not None:
                    break
        if who is None:
            continue
        if entries and entries[-1][1] == a and entries[-1][2] == who:
            entries[-1][1] = b
        else:
            entries.append([a, b, who])
    return [
        {
            "start": a.astimezone(tz).isoformat(),
            "end": b.astimezone(tz).isoformat(),
            "user": {
                "id": who,
                "type": "user_reference",
                "summary": users[who].get("summary", who),
            },
        }
        for a, b, who in entries
    ]


def _selftest():
    # PagerDuty's documented shape of a weekly layer: a Monday 09:00 hand-off
    # in New York keeps 09:00 local across the March change.
    layer = {
        "id": "PL",
        "start": "2027-03-01T09:00:00-05:00",
        "end": None,
        "rotation_virtual_start": "2027-03-01T09:00:00-05:00",
        "rotation_turn_length_seconds": 604800,
        "users": [{"user": {"id": "A", "summary": "A"}}, {"user": {"id": "B", "summary": "B"}}],
        "restrictions": [],
    }
    sched = {"time_zone": "America/New_York", "schedule_layers": [layer]}
    out = render(sched, [], parse("2027-03-01T14:00:00Z"), parse("2027-03-29T13:00:00Z"))
    assert [e["user"]["id"] for e in out] == ["A", "B", "A", "B"], out
    # The week of the change is 167 hours; the next hand-off is 09:00 EDT.
    assert out[1]["start"] == "2027-03-08T09:00:00-05:00", out
    assert out[2]["start"] == "2027-03-15T09:00:00-04:00", out
    # A daily restriction 20:00 for 12 hours crosses midnight.
    layer["restrictions"] = [{"type": "daily_restriction", "start_time_of_day": "20:00:00", "duration_seconds": 43200}]
    out = render(sched, [], parse("2027-03-02T00:00:00Z"), parse("2027-03-03T00:00:00Z"))
    assert [(e["start"], e["end"], e["user"]["id"]) for e in out] == [
        ("2027-03-01T20:00:00-05:00", "2027-03-02T08:00:00-05:00", "A"),
    ], out

if __name__ == "__main__":
    _selftest()
    print("ok")
