"""The Opsgenie account the loopback server serves (tests/import/opsgenie_server.py).

Objects are shaped as Opsgenie's REST API v2 documents them (see README.md,
"Opsgenie"): users with contacts and notification rules, teams with members,
schedules with rotations (daily, weekly, hourly, lengths other than 1,
participants that are users or teams, `time-of-day` and
`weekday-and-time-of-day` restrictions, rotations that end), schedule
overrides, and escalations.

NOW is the fixed "now" of the tests: the 90 days from it hold the spring
clock changes of New York (14 March 2027), London and Berlin (28 March 2027)
and the autumn change of Sydney (4 April 2027).

`dataset(fault)` returns a fresh copy, changed for one bad-input test when
`fault` is given (see FAULTS).
"""

import copy

NOW = "2027-02-01T00:00:00Z"

# The reserved fault names the server and the tests share.
FAULTS = (
    "none",
    "no-contacts",  # a user (og-u-ivan) has no contact methods at all
    "unknown-zone",  # schedule og-s-daily-tod has timezone Mars/Olympus_Mons
    "missing-schedule",  # GET of schedule og-s-weekday-window answers 404
    "wrong-shape",  # the schedules listing's `data` is an object, not a list
)

_PEOPLE = [
    # id suffix, full name, zone, contacts (method, to)
    ("alice", "Alice Archer", "Europe/London", [("email", "alice@example.com"), ("sms", "447700900101")]),
    ("bob", "Bob Baker", "Europe/London", [("email", "bob@example.com"), ("voice", "447700900102")]),
    ("carol", "Carol Clark", "Europe/London", [("email", "carol@example.com")]),
    ("dave", "Dave Dawson", "America/New_York", [("email", "dave@example.com"), ("sms", "12025550104")]),
    ("erin", "Erin Evans", "America/New_York", [("email", "erin@example.com"), ("mobile", "Erin's phone")]),
    ("frank", "Frank Fisher", "America/New_York", [("sms", "12025550106")]),
    ("grace", "Grace Green", "Europe/Berlin", [("email", "grace@example.com")]),
    ("heidi", "Heidi Hart", "Australia/Sydney", [("email", "heidi@example.com"), ("sms", "61491570107")]),
    ("ivan", "Ivan Irving", "Asia/Tokyo", [("email", "ivan@example.com")]),
    ("judy", "Judy Jones", "Asia/Tokyo", [("email", "judy@example.com"), ("voice", "81312345678")]),
]


def uid(name):
    return "og-u-" + name


def _users():
    users = []
    for i, (name, full, zone, contacts) in enumerate(_PEOPLE):
        users.append(
            {
                "id": uid(name),
                "username": f"{name}@example.com",
                "fullName": full,
                "role": {"id": "User", "name": "User"},
                "timeZone": zone,
                "locale": "en_US",
                "blocked": False,
                "verified": True,
                "createdAt": "2025-01-0%dT10:00:00.000Z" % (i % 9 + 1),
                "_contacts": [
                    {"id": f"og-c-{name}-{j}", "method": m, "to": to, "enabled": True}
                    for j, (m, to) in enumerate(contacts)
                ],
                "_notification_rules": [
                    {
                        "id": f"og-nr-{name}-0",
                        "name": "New Alert",
                        "actionType": "create-alert",
                        "order": 0,
                        "enabled": True,
                        "steps": [
                            {
                                "id": f"og-nrs-{name}-0",
                                "contact": {"method": contacts[0][0], "to": contacts[0][1]},
                                "sendAfter": {"timeAmount": 0, "timeUnit": "minutes"},
                                "enabled": True,
                            }
                        ],
                    }
                ],
            }
        )
    return users


def _user_ref(name):
    return {"type": "user", "id": uid(name), "username": f"{name}@example.com"}


TEAMS = [
    {"id": "og-t-payments", "name": "Payments", "description": "Card payments", "members": ["alice", "bob", "carol"]},
    {"id": "og-t-platform", "name": "Platform", "description": "Hosts and network", "members": ["dave", "erin", "frank"]},
    {"id": "og-t-search", "name": "Search", "description": "", "members": ["grace", "heidi"]},
    {"id": "og-t-mobile", "name": "Mobile", "description": "Apps", "members": ["ivan", "judy"]},
]


def _teams():
    out = []
    for t in TEAMS:
        out.append(
            {
                "id": t["id"],
                "name": t["name"],
                "description": t["description"],
                "members": [{"user": {"id": uid(m), "username": f"{m}@example.com"}, "role": "user"} for m in t["members"]],
            }
        )
    return out


def _team_ref(tid):
    t = next(t for t in TEAMS if t["id"] == tid)
    return {"type": "team", "id": t["id"], "name": t["name"]}


def _rot(rid, name, start, rtype, length, participants, end=None, restriction=None):
    r = {
        "id": rid,
        "name": name,
        "startDate": start,
        "type": rtype,
        "length": length,
        "participants": participants,
    }
    if end is not None:
        r["endDate"] = end
    if restriction is not None:
        r["timeRestriction"] = restriction
    return r


def _tod(sh, sm, eh, em):
    return {"type": "time-of-day", "restriction": {"startHour": sh, "startMin": sm, "endHour": eh, "endMin": em}}


def _wtod(*windows):
    return {
        "type": "weekday-and-time-of-day",
        "restrictions": [
            {"startDay": sd, "startHour": sh, "startMin": sm, "endDay": ed, "endHour": eh, "endMin": em}
            for (sd, sh, sm, ed, eh, em) in windows
        ],
    }


def _schedules():
    u = _user_ref
    return [
        {
            "id": "og-s-weekly",
            "name": "Payments weekly",
            "description": "one weekly rotation, London",
            "timezone": "Europe/London",
            "enabled": True,
            "ownerTeam": {"id": "og-t-payments", "name": "Payments"},
            "rotations": [
                _rot("og-r-weekly", "Primary", "2026-11-02T09:00:00Z", "weekly", 1, [u("alice"), u("bob"), u("carol")]),
            ],
        },
        {
            "id": "og-s-daily-tod",
            "name": "Platform daytime",
            "description": "daily, 09:00-17:00 time-of-day restriction, New York",
            "timezone": "America/New_York",
            "enabled": True,
            "ownerTeam": {"id": "og-t-platform", "name": "Platform"},
            "rotations": [
                _rot(
                    "og-r-daytime",
                    "Daytime",
                    "2026-12-01T14:00:00Z",
                    "daily",
                    1,
                    [u("dave"), u("erin")],
                    restriction=_tod(9, 0, 17, 0),
                ),
            ],
        },
        {
            "id": "og-s-nights",
            "name": "Search nights",
            "description": "daily, 22:00-06:00 across midnight, Berlin",
            "timezone": "Europe/Berlin",
            "enabled": True,
            "ownerTeam": {"id": "og-t-search", "name": "Search"},
            "rotations": [
                _rot(
                    "og-r-nights",
                    "Nights",
                    "2026-12-01T21:00:00Z",
                    "daily",
                    1,
                    [u("grace"), u("heidi"), u("ivan")],
                    restriction=_tod(22, 0, 6, 0),
                ),
            ],
        },
        {
            "id": "og-s-weekday-window",
            "name": "Payments working week",
            "description": "weekly, Monday 09:00 to Friday 17:30 in one window, London",
            "timezone": "Europe/London",
            "enabled": True,
            "ownerTeam": {"id": "og-t-payments", "name": "Payments"},
            "rotations": [
                _rot(
                    "og-r-workweek",
                    "Working week",
                    "2026-11-02T09:00:00Z",
                    "weekly",
                    1,
                    [u("alice"), u("dave")],
                    restriction=_wtod(("monday", 9, 0, "friday", 17, 30)),
                ),
            ],
        },
        {
            "id": "og-s-weekend-wrap",
            "name": "Platform weekends",
            "description": "weekly, Friday 18:00 to Monday 08:00 (wraps the week) and a Wednesday lunch hour, New York",
            "timezone": "America/New_York",
            "enabled": True,
            "ownerTeam": {"id": "og-t-platform", "name": "Platform"},
            "rotations": [
                _rot(
                    "og-r-weekends",
                    "Weekends",
                    "2026-11-06T23:00:00Z",
                    "weekly",
                    1,
                    [u("bob"), u("erin"), u("frank")],
                    restriction=_wtod(("friday", 18, 0, "monday", 8, 0), ("wednesday", 12, 0, "wednesday", 13, 0)),
                ),
            ],
        },
        {
            "id": "og-s-hourly",
            "name": "Mobile twelve-hour",
            "description": "hourly, length 12, Tokyo",
            "timezone": "Asia/Tokyo",
            "enabled": True,
            "ownerTeam": {"id": "og-t-mobile", "name": "Mobile"},
            "rotations": [
                _rot("og-r-12h", "Twelve hours", "2026-11-30T23:00:00Z", "hourly", 12, [u("judy"), u("ivan"), u("grace")]),
            ],
        },
        {
            "id": "og-s-three-days",
            "name": "Search three-day",
            "description": "daily, length 3, Sydney (clocks go back on 4 April 2027)",
            "timezone": "Australia/Sydney",
            "enabled": True,
            "ownerTeam": {"id": "og-t-search", "name": "Search"},
            "rotations": [
                _rot("og-r-3d", "Three days", "2026-11-30T22:00:00Z", "daily", 3, [u("heidi"), u("judy")]),
            ],
        },
        {
            "id": "og-s-thirty-hours",
            "name": "Platform thirty-hour",
            "description": "hourly, length 30 (not whole days), London",
            "timezone": "Europe/London",
            "enabled": True,
            "ownerTeam": {"id": "og-t-platform", "name": "Platform"},
            "rotations": [
                _rot("og-r-30h", "Thirty hours", "2026-12-01T09:00:00Z", "hourly", 30, [u("frank"), u("dave"), u("erin")]),
            ],
        },
        {
            "id": "og-s-handover",
            "name": "Payments handover",
            "description": "one rotation ends on 1 March 2027, the next starts then, London",
            "timezone": "Europe/London",
            "enabled": True,
            "ownerTeam": {"id": "og-t-payments", "name": "Payments"},
            "rotations": [
                _rot(
                    "og-r-old",
                    "Old rota",
                    "2026-11-02T09:00:00Z",
                    "weekly",
                    1,
                    [u("alice"), u("bob")],
                    end="2027-03-01T09:00:00Z",
                ),
                _rot("og-r-new", "New rota", "2027-03-01T09:00:00Z", "weekly", 1, [u("carol"), u("dave")]),
            ],
        },
        {
            "id": "og-s-teams",
            "name": "Cross-team weekly",
            "description": "weekly, participants two teams and a user, Berlin",
            "timezone": "Europe/Berlin",
            "enabled": True,
            "ownerTeam": {"id": "og-t-search", "name": "Search"},
            "rotations": [
                _rot(
                    "og-r-teams",
                    "Teams",
                    "2026-11-02T08:00:00Z",
                    "weekly",
                    1,
                    [_team_ref("og-t-payments"), _team_ref("og-t-mobile"), u("grace")],
                ),
            ],
        },
        {
            "id": "og-s-overrides",
            "name": "Platform with overrides",
            "description": "two rotations on call together, overrides of the whole schedule and of one rotation, New York",
            "timezone": "America/New_York",
            "enabled": True,
            "ownerTeam": {"id": "og-t-platform", "name": "Platform"},
            "rotations": [
                _rot("og-r-ov-daily", "Daily", "2026-12-01T13:00:00Z", "daily", 1, [u("dave"), u("erin"), u("frank")]),
                _rot(
                    "og-r-ov-evening",
                    "Evenings",
                    "2026-12-01T13:00:00Z",
                    "daily",
                    2,
                    [u("bob"), u("judy")],
                    restriction=_tod(18, 30, 23, 0),
                ),
            ],
        },
        {
            "id": "og-s-follow-sun",
            "name": "Mobile follow the sun",
            "description": "business hours on weekdays beside an all-day rotation, ending mid-window, Sydney",
            "timezone": "Australia/Sydney",
            "enabled": True,
            "ownerTeam": {"id": "og-t-mobile", "name": "Mobile"},
            "rotations": [
                _rot("og-r-fs-all", "All day", "2026-11-30T22:00:00Z", "weekly", 2, [u("ivan"), u("judy")]),
                _rot(
                    "og-r-fs-office",
                    "Office",
                    "2026-11-30T22:00:00Z",
                    "daily",
                    1,
                    [u("heidi"), u("grace")],
                    end="2027-04-15T03:00:00Z",
                    restriction=_wtod(
                        ("monday", 9, 0, "monday", 17, 0),
                        ("tuesday", 9, 0, "tuesday", 17, 0),
                        ("wednesday", 9, 0, "wednesday", 17, 0),
                        ("thursday", 9, 0, "thursday", 17, 0),
                        ("friday", 9, 0, "friday", 17, 0),
                    ),
                ),
            ],
        },
    ]


def _overrides():
    return {
        "og-s-overrides": [
            {
                "alias": "og-o-whole",
                "user": _user_ref("alice"),
                "startDate": "2027-02-10T05:00:00Z",
                "endDate": "2027-02-12T17:00:00Z",
                "rotations": [],
            },
            {
                "alias": "og-o-evening",
                "user": _user_ref("carol"),
                "startDate": "2027-03-13T20:00:00Z",
                "endDate": "2027-03-15T12:00:00Z",
                "rotations": [{"id": "og-r-ov-evening", "name": "Evenings"}],
            },
        ],
        "og-s-weekly": [
            {
                "alias": "og-o-weekly",
                "user": _user_ref("dave"),
                "startDate": "2027-03-26T18:00:00Z",
                "endDate": "2027-03-29T09:00:00Z",
                "rotations": [],
            }
        ],
    }


def _escalations():
    return [
        {
            "id": "og-e-payments",
            "name": "Payments escalation",
            "description": "",
            "ownerTeam": {"id": "og-t-payments", "name": "Payments"},
            "rules": [
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                    "recipient": {"type": "schedule", "id": "og-s-weekly", "name": "Payments weekly"},
                },
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 10, "timeUnit": "minutes"},
                    "recipient": {"type": "schedule", "id": "og-s-handover", "name": "Payments handover"},
                },
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 25, "timeUnit": "minutes"},
                    "recipient": _user_ref("carol"),
                },
            ],
            "repeat": {"waitInterval": 10, "count": 2, "resetRecipientStates": False, "closeAlertAfterAll": False},
        },
        {
            "id": "og-e-platform",
            "name": "Platform escalation",
            "description": "",
            "ownerTeam": {"id": "og-t-platform", "name": "Platform"},
            "rules": [
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                    "recipient": {"type": "schedule", "id": "og-s-overrides", "name": "Platform with overrides"},
                },
                {
                    "condition": "if-not-acked",
                    "notifyType": "default",
                    "delay": {"timeAmount": 15, "timeUnit": "minutes"},
                    "recipient": {"type": "team", "id": "og-t-platform", "name": "Platform"},
                },
            ],
        },
    ]


def dataset(fault="none"):
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; one of {FAULTS}")
    data = {
        "users": _users(),
        "teams": _teams(),
        "schedules": _schedules(),
        "overrides": _overrides(),
        "escalations": _escalations(),
    }
    if fault == "no-contacts":
        ivan = next(x for x in data["users"] if x["id"] == uid("ivan"))
        ivan["_contacts"] = []
        ivan["_notification_rules"] = []
    if fault == "unknown-zone":
        s = next(x for x in data["schedules"] if x["id"] == "og-s-daily-tod")
        s["timezone"] = "Mars/Olympus_Mons"
    return copy.deepcopy(data)
