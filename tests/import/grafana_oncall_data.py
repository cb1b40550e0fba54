"""The Grafana OnCall instance the loopback server serves
(tests/import/grafana_oncall_server.py).

Objects are shaped as Grafana OnCall's HTTP API v1 documents them (see
README.md, "Grafana OnCall"): users, teams, personal notification rules,
schedules of type `calendar` listing their shifts, on-call shifts of the
types `rolling_users` (groups of users taking turns), `recurrent_event`,
`single_event` and `override`, with `frequency` (hourly, daily, weekly),
`interval`, `by_day`, `week_start`, `until`, `start_rotation_from_user_index`
and `level`, and escalation chains with their policies.

NOW is the fixed "now" of the tests (the same as Opsgenie's): the 90 days
from it hold the spring changes of New York, London and Berlin and the
autumn change of Sydney.

`dataset(fault)` returns a fresh copy, changed for one bad-input test when
`fault` is given (see FAULTS).
"""

import copy

NOW = "2027-02-01T00:00:00Z"

FAULTS = (
    "none",
    "no-contacts",  # user go-u-ivan has no email
    "unknown-zone",  # schedule go-s-business has time_zone Mars/Olympus_Mons
    "missing-schedule",  # GET of schedule go-s-nights answers 404
    "wrong-shape",  # the on-call shifts listing's `results` is an object
)

_PEOPLE = [
    ("alice", "Europe/London"),
    ("bob", "Europe/London"),
    ("carol", "Europe/London"),
    ("dave", "America/New_York"),
    ("erin", "America/New_York"),
    ("frank", "America/New_York"),
    ("grace", "Europe/Berlin"),
    ("heidi", "Australia/Sydney"),
    ("ivan", "Asia/Tokyo"),
    ("judy", "Asia/Tokyo"),
]


def uid(name):
    return "go-u-" + name


TEAMS = [
    {"id": "go-t-payments", "name": "Payments", "email": "payments@example.com", "avatar_url": ""},
    {"id": "go-t-platform", "name": "Platform", "email": "platform@example.com", "avatar_url": ""},
    {"id": "go-t-search", "name": "Search", "email": "search@example.com", "avatar_url": ""},
]


def _users():
    out = []
    for name, zone in _PEOPLE:
        out.append(
            {
                "id": uid(name),
                "email": f"{name}@example.com",
                "slack": None,
                "username": name,
                "name": name.capitalize(),
                "role": "user",
                "timezone": zone,
                "is_phone_number_verified": name in ("alice", "dave"),
                "teams": [],
            }
        )
    return out


def _notification_rules():
    rules = []
    for name, _ in _PEOPLE:
        rules.append({"id": f"go-nr-{name}-0", "user_id": uid(name), "position": 0, "important": False, "type": "notify_by_email"})
        rules.append({"id": f"go-nr-{name}-1", "user_id": uid(name), "position": 1, "important": False, "type": "wait", "duration": 300})
        rules.append(
            {
                "id": f"go-nr-{name}-2",
                "user_id": uid(name),
                "position": 2,
                "important": False,
                "type": "notify_by_sms" if name in ("alice", "dave") else "notify_by_mobile_app",
            }
        )
    return rules


def _shift(sid, name, stype, start, duration, level=0, zone=None, **kw):
    s = {
        "id": sid,
        "name": name,
        "type": stype,
        "team_id": None,
        "time_zone": zone,
        "level": level,
        "start": start,
        "duration": duration,
    }
    if stype in ("rolling_users", "recurrent_event"):
        s.update(
            {
                "frequency": kw.pop("frequency"),
                "interval": kw.pop("interval", 1),
                "until": kw.pop("until", None),
                "week_start": kw.pop("week_start", "SU"),
                "by_day": kw.pop("by_day", None),
                "by_month": None,
                "by_monthday": None,
            }
        )
    if stype == "rolling_users":
        s["rolling_users"] = [[uid(n) for n in group] for group in kw.pop("groups")]
        s["start_rotation_from_user_index"] = kw.pop("from_index", 0)
    else:
        s["users"] = [uid(n) for n in kw.pop("users")]
    assert not kw, kw
    return s


H = 3600
D = 24 * H
W = 7 * D


def _shifts():
    return [
        # go-s-weekly: a plain weekly rotation, London.
        _shift("go-h-weekly", "Weekly", "rolling_users", "2026-11-02T09:00:00", W, frequency="weekly", groups=[["alice"], ["bob"], ["carol"]]),
        # go-s-pairs: groups of two, daily, starting from the second group, New York.
        _shift(
            "go-h-pairs",
            "Pairs",
            "rolling_users",
            "2026-12-01T08:00:00",
            D,
            frequency="daily",
            groups=[["dave", "erin"], ["frank"], ["erin", "alice"]],
            from_index=1,
        ),
        # go-s-business: weekdays 09:00-17:00, a new person each week, Berlin.
        _shift(
            "go-h-business",
            "Business hours",
            "rolling_users",
            "2026-11-04T09:00:00",
            8 * H,
            frequency="weekly",
            by_day=["MO", "TU", "WE", "TH", "FR"],
            week_start="MO",
            groups=[["grace"], ["heidi"]],
        ),
        # go-s-nights: 20:00 for 12 hours, across midnight, London.
        _shift("go-h-nights", "Nights", "rolling_users", "2026-11-01T20:00:00", 12 * H, frequency="daily", groups=[["alice"], ["dave"], ["erin"]]),
        # go-s-hourly: 12-hour turns, Tokyo.
        _shift("go-h-12h", "Twelve hours", "rolling_users", "2026-12-01T08:00:00", 12 * H, frequency="hourly", interval=12, groups=[["ivan"], ["judy"]]),
        # go-s-36h: turns of 36 hours (not whole days), Sydney.
        _shift(
            "go-h-36h",
            "Thirty-six hours",
            "rolling_users",
            "2026-12-01T09:00:00",
            36 * H,
            frequency="hourly",
            interval=36,
            groups=[["heidi"], ["judy"], ["grace"]],
        ),
        # go-s-until: a rotation that ends (until), and the one after it one level up, New York.
        _shift(
            "go-h-until-old",
            "Old rotation",
            "rolling_users",
            "2026-11-02T09:00:00",
            W,
            frequency="weekly",
            until="2027-03-08T09:00:00",
            groups=[["bob"], ["carol"]],
        ),
        _shift(
            "go-h-until-new",
            "New rotation",
            "rolling_users",
            "2027-03-15T09:00:00",
            W,
            level=1,
            frequency="weekly",
            groups=[["dave"], ["frank"]],
        ),
        # go-s-weekend: a weekly base, weekends covered one level up, the weekend
        # turn changing on Sundays (week_start SU), London.
        _shift("go-h-base", "Base", "rolling_users", "2026-11-02T09:00:00", W, frequency="weekly", groups=[["alice"], ["bob"]]),
        _shift(
            "go-h-weekend",
            "Weekends",
            "rolling_users",
            "2026-11-07T00:00:00",
            D,
            level=1,
            frequency="weekly",
            by_day=["SA", "SU"],
            week_start="SU",
            groups=[["carol"], ["dave"]],
        ),
        # go-s-overrides: daily rotation with two overrides, Berlin.
        _shift("go-h-daily", "Daily", "rolling_users", "2026-12-01T08:00:00", D, frequency="daily", groups=[["grace"], ["heidi"], ["ivan"]]),
        _shift("go-h-ov-1", "Override", "override", "2027-02-10T08:00:00", 2 * D, zone="UTC", users=["frank"]),
        _shift("go-h-ov-2", "Override", "override", "2027-03-27T22:00:00", 10 * H, zone="UTC", users=["alice"]),
        # go-s-single: weekly rotation, a single event at level 2 across the US spring change, New York.
        _shift("go-h-single-base", "Base", "rolling_users", "2026-11-02T09:00:00", W, frequency="weekly", groups=[["dave"], ["erin"]]),
        _shift("go-h-single", "Cover", "single_event", "2027-03-13T20:00:00", 2 * D, level=2, users=["judy"]),
        # go-s-fortnight: two-week turns, Sydney.
        _shift("go-h-fortnight", "Fortnight", "rolling_users", "2026-12-07T08:00:00", 2 * W, frequency="weekly", interval=2, groups=[["frank"], ["grace"]]),
        # go-s-team-evenings: every evening the same two people (recurrent_event), London.
        _shift(
            "go-h-evenings",
            "Evenings",
            "recurrent_event",
            "2026-12-01T18:00:00",
            4 * H,
            frequency="daily",
            users=["bob", "carol"],
        ),
    ]


def _schedule(sid, name, zone, team, shifts):
    return {
        "id": sid,
        "name": name,
        "type": "calendar",
        "team_id": team,
        "time_zone": zone,
        "on_call_now": [],
        "shifts": shifts,
        "ical_url_overrides": None,
        "enable_web_overrides": False,
        "slack": {"channel_id": None, "user_group_id": None},
    }


def _schedules():
    return [
        _schedule("go-s-weekly", "Payments weekly", "Europe/London", "go-t-payments", ["go-h-weekly"]),
        _schedule("go-s-pairs", "Platform pairs", "America/New_York", "go-t-platform", ["go-h-pairs"]),
        _schedule("go-s-business", "Search business hours", "Europe/Berlin", "go-t-search", ["go-h-business"]),
        _schedule("go-s-nights", "Payments nights", "Europe/London", "go-t-payments", ["go-h-nights"]),
        _schedule("go-s-hourly", "Search twelve-hour", "Asia/Tokyo", "go-t-search", ["go-h-12h"]),
        _schedule("go-s-36h", "Search thirty-six", "Australia/Sydney", "go-t-search", ["go-h-36h"]),
        _schedule("go-s-until", "Platform handover", "America/New_York", "go-t-platform", ["go-h-until-old", "go-h-until-new"]),
        _schedule("go-s-weekend", "Payments weekends", "Europe/London", "go-t-payments", ["go-h-base", "go-h-weekend"]),
        _schedule("go-s-overrides", "Search overrides", "Europe/Berlin", "go-t-search", ["go-h-daily", "go-h-ov-1", "go-h-ov-2"]),
        _schedule("go-s-single", "Platform cover", "America/New_York", "go-t-platform", ["go-h-single-base", "go-h-single"]),
        _schedule("go-s-fortnight", "Search fortnight", "Australia/Sydney", "go-t-search", ["go-h-fortnight"]),
        _schedule("go-s-evenings", "Payments evenings", "Europe/London", "go-t-payments", ["go-h-evenings"]),
    ]


def _escalation():
    chains = [
        {"id": "go-c-payments", "name": "Payments chain", "team_id": "go-t-payments"},
        {"id": "go-c-platform", "name": "Platform chain", "team_id": "go-t-platform"},
    ]
    policies = [
        {"id": "go-p-1", "escalation_chain_id": "go-c-payments", "position": 0, "type": "notify_on_call_from_schedule", "important": False, "notify_on_call_from_schedule": "go-s-weekly"},
        {"id": "go-p-2", "escalation_chain_id": "go-c-payments", "position": 1, "type": "wait", "duration": 600},
        {"id": "go-p-3", "escalation_chain_id": "go-c-payments", "position": 2, "type": "notify_persons", "important": False, "persons_to_notify": [uid("carol"), uid("bob")]},
        {"id": "go-p-4", "escalation_chain_id": "go-c-payments", "position": 3, "type": "wait", "duration": 900},
        {"id": "go-p-5", "escalation_chain_id": "go-c-payments", "position": 4, "type": "notify_on_call_from_schedule", "important": True, "notify_on_call_from_schedule": "go-s-nights"},
        {"id": "go-p-6", "escalation_chain_id": "go-c-payments", "position": 5, "type": "repeat_escalation"},
        {"id": "go-p-7", "escalation_chain_id": "go-c-platform", "position": 0, "type": "notify_on_call_from_schedule", "important": False, "notify_on_call_from_schedule": "go-s-pairs"},
        {"id": "go-p-8", "escalation_chain_id": "go-c-platform", "position": 1, "type": "wait", "duration": 300},
        {"id": "go-p-9", "escalation_chain_id": "go-c-platform", "position": 2, "type": "notify_persons", "important": False, "persons_to_notify": [uid("frank")]},
    ]
    return chains, policies


def dataset(fault="none"):
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
    chains, policies = _escalation()
    data = {
        "users": _users(),
        "teams": copy.deepcopy(TEAMS),
        "notification_rules": _notification_rules(),
        "schedules": _schedules(),
        "shifts": _shifts(),
        "escalation_chains": chains,
        "escalation_policies": policies,
    }
    if fault == "no-contacts":
        ivan = next(u for u in data["users"] if u["id"] == uid("ivan"))
        ivan["email"] = None
        data["notification_rules"] = [r for r in data["notification_rules"] if r["user_id"] != uid("ivan")]
    if fault == "unknown-zone":
        s = next(s for s in data["schedules"] if s["id"] == "go-s-business")
        s["time_zone"] = "Mars/Olympus_Mons"
    return copy.deepcopy(data)
