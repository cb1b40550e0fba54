"""The PagerDuty account the loopback server (pagerduty_server.py) serves:
users, teams, twelve schedules, their overrides and escalation policies,
shaped as PagerDuty's REST API v2 documents them (see README.md).

The schedules cover what the README lists: weekly, daily and 12-hour turns
and turns that are not whole days (25 h, 3 d 5 h, 2 d); daily and weekly
restrictions, ones that cross midnight and ones that cross days and the end
of the week; layers that end; layers whose `start` falls inside a turn; a
user listed twice in one layer; overrides (one across a clock change); zones
with a daylight-saving change inside the 90 days from 2027-02-01 (New York
and Chicago 14 March, London, Berlin and Paris 28 March, Sydney 4 April, Los
Angeles 14 March) and without one (Tokyo, UTC).
"""

API = "https://api.pagerduty.com"


def ref(kind, id, summary):
    return {"id": id, "type": f"{kind}_reference", "summary": summary, "self": f"{API}/{kind}s/{id}"}


USERS_RAW = [
    # id, name, email contact, sms (country, number), phone, zone, push
    ("PU01", "Alice Smith", "alice@example.com", (1, "4155550101"), None, "America/New_York", False),
    ("PU02", "Bob Jones", "bob@example.com", None, (1, "4155550102"), "America/New_York", False),
    ("PU03", "Carol Evans", "carol@example.com", (44, "7700900003"), None, "Europe/London", True),
    ("PU04", "Dave Patel", "dave@example.com", None, None, "Europe/London", False),
    ("PU05", "Erin Wu", "erin@example.com", (49, "15100000005"), None, "Europe/Berlin", False),
    ("PU06", "Frank Li", "frank@example.com", None, None, "Asia/Tokyo", False),
    ("PU07", "Grace Kim", "grace@example.com", (81, "9000000007"), None, "Asia/Tokyo", False),
    ("PU08", "Henry Ford", "henry@example.com", None, None, "America/Los_Angeles", False),
    ("PU09", "Ivy Chen", "ivy@example.com", None, (61, "400000009"), "Australia/Sydney", False),
    ("PU10", "Jack Brown", "jack@example.com", None, None, "Australia/Sydney", False),
    ("PU11", "Kate Moss", "kate@example.com", None, None, "Europe/Paris", False),
    ("PU12", "Liam Neal", "liam@example.com", None, None, "America/Chicago", False),
    # Two people of one name: the second gets another id.
    ("PU13", "Alice Smith", "alice.smith2@example.com", None, None, "Europe/Paris", False),
    # Nobody can reach them: no contact methods at all.
    ("PU14", "Mona Quiet", None, None, None, "America/Chicago", False),
]


def user(raw, include):
    uid, name, email, sms, phone, zone, push = raw
    methods = []
    if email:
        methods.append({"id": uid + "E", "type": "email_contact_method", "summary": "Work", "label": "Work", "address": email})
    if sms:
        methods.append(
            {"id": uid + "S", "type": "sms_contact_method", "summary": "Mobile", "label": "Mobile",
             "country_code": sms[0], "address": sms[1], "enabled": True}
        )
    if phone:
        methods.append(
            {"id": uid + "P", "type": "phone_contact_method", "summary": "Desk", "label": "Desk",
             "country_code": phone[0], "address": phone[1]}
        )
    if push:
        methods.append(
            {"id": uid + "N", "type": "push_notification_contact_method", "summary": "iPhone", "label": "iPhone",
             "address": "0f3a", "device_type": "ios"}
        )
    rules = []
    if methods and uid in ("PU01", "PU03"):
        rules.append(
            {"id": uid + "R", "type": "assignment_notification_rule", "start_delay_in_minutes": 0,
             "urgency": "high", "contact_method": {"id": methods[0]["id"], "type": methods[0]["type"] + "_reference"}}
        )
    out = {
        "id": uid,
        "type": "user",
        "summary": name,
        "self": f"{API}/users/{uid}",
        "html_url": f"https://example.pagerduty.com/users/{uid}",
        "name": name,
        "email": email or f"{uid.lower()}@login.example.com",
        "time_zone": zone,
        "role": "user",
        "teams": [],
    }
    if "contact_methods" in include:
        out["contact_methods"] = methods
    else:
        out["contact_methods"] = [{"id": m["id"], "type": m["type"] + "_reference"} for m in methods]
    if "notification_rules" in include:
        out["notification_rules"] = rules
    else:
        out["notification_rules"] = [{"id": r["id"], "type": "assignment_notification_rule_reference"} for r in rules]
    return out


NAMES = {u[0]: u[1] for u in USERS_RAW}

TEAMS = [
    {"id": "PT01", "type": "team", "summary": "Platform", "name": "Platform", "description": "Core platform"},
    {"id": "PT02", "type": "team", "summary": "SRE Europe", "name": "SRE Europe", "description": None},
    {"id": "PT03", "type": "team", "summary": "Data", "name": "Data", "description": None},
    {"id": "PT04", "type": "team", "summary": "Mobile", "name": "Mobile", "description": None},
    {"id": "PT05", "type": "team", "summary": "APAC", "name": "APAC", "description": None},
]
TEAM_NAMES = {t["id"]: t["name"] for t in TEAMS}


def layer(id, name, start, vstart, turn, users, end=None, restrictions=()):
    return {
        "id": id,
        "name": name,
        "start": start,
        "end": end,
        "rotation_virtual_start": vstart,
        "rotation_turn_length_seconds": turn,
        "users": [{"user": ref("user", u, NAMES[u])} for u in users],
        "restrictions": list(restrictions),
    }


def daily(start, seconds):
    return {"type": "daily_restriction", "start_time_of_day": start, "duration_seconds": seconds}


def weekly(day, start, seconds):
    return {"type": "weekly_restriction", "start_time_of_day": start, "duration_seconds": seconds,
            "start_day_of_week": day}


WEEK, DAY, HOUR = 604800, 86400, 3600

# (id, name, zone, team, layers in PagerDuty's order: the last layer first)
SCHEDULES = [
    ("PS01", "Platform Primary", "America/New_York", "PT01", [
        layer("PL011", "Layer 1", "2027-01-04T09:00:00-05:00", "2027-01-04T09:00:00-05:00", WEEK,
              ["PU01", "PU02", "PU12"]),
    ]),
    ("PS02", "Platform Secondary", "America/New_York", "PT01", [
        # Layer 2 (listed first, wins): the weekend, Saturday 00:00 for 48 hours.
        layer("PL022", "Weekend", "2027-01-02T00:00:00-05:00", "2027-01-02T00:00:00-05:00", WEEK,
              ["PU12", "PU01"], restrictions=[weekly(6, "00:00:00", 2 * DAY)]),
        # Layer 1: daily turns from a virtual start long before its start,
        # which falls inside a turn; days 08:00 to 20:00.
        layer("PL021", "Days", "2027-02-15T13:30:00-05:00", "2026-12-01T08:00:00-05:00", DAY,
              ["PU02", "PU01", "PU14"], restrictions=[daily("08:00:00", 12 * HOUR)]),
    ]),
    ("PS03", "Night Desk", "Europe/London", "PT02", [
        layer("PL031", "Nights", "2027-01-01T20:00:00+00:00", "2027-01-01T20:00:00+00:00", 12 * HOUR,
              ["PU03", "PU04", "PU05"], restrictions=[daily("20:00:00", 12 * HOUR)]),
    ]),
    ("PS04", "Berlin Business Hours", "Europe/Berlin", "PT02", [
        # Monday 09:00 to Friday 17:00 in one restriction, across days.
        layer("PL041", "Week", "2027-01-04T09:00:00+01:00", "2027-01-04T09:00:00+01:00", WEEK,
              ["PU05", "PU03"], restrictions=[weekly(1, "09:00:00", 4 * DAY + 8 * HOUR)]),
    ]),
    ("PS05", "Data Follow", "Asia/Tokyo", "PT03", [
        # Turns of 3 days 5 hours.
        layer("PL051", "Long turns", "2027-01-10T09:00:00+09:00", "2027-01-10T09:00:00+09:00", 3 * DAY + 5 * HOUR,
              ["PU06", "PU07"], restrictions=[daily("09:00:00", 10 * HOUR)]),
        layer("PL052", "Base", "2027-01-01T00:00:00+09:00", "2027-01-01T00:00:00+09:00", WEEK, ["PU07"]),
    ]),
    ("PS06", "Mobile On Call", "America/Los_Angeles", "PT04", [
        # Layer 2 ends on 1 March.
        layer("PL062", "Launch cover", "2027-01-25T09:00:00-08:00", "2027-01-25T09:00:00-08:00", WEEK,
              ["PU08"], end="2027-03-01T17:00:00-08:00"),
        layer("PL061", "Layer 1", "2027-01-04T10:00:00-08:00", "2027-01-04T10:00:00-08:00", WEEK,
              ["PU08", "PU02"]),
    ]),
    ("PS07", "Infra 25h", "UTC", None, [
        # Turns of 25 hours; no team.
        layer("PL071", "Drift", "2027-01-20T06:00:00Z", "2027-01-20T06:00:00Z", 25 * HOUR, ["PU01", "PU06", "PU09"]),
    ]),
    ("PS08", "APAC Weekends", "Australia/Sydney", "PT05", [
        # Friday 18:00 for 62 hours: across the end of the week, to Monday 08:00.
        layer("PL081", "Weekend", "2027-01-01T18:00:00+11:00", "2027-01-01T18:00:00+11:00", WEEK,
              ["PU09", "PU10"], restrictions=[weekly(5, "18:00:00", 62 * HOUR)]),
        layer("PL082", "Weekdays", "2027-01-04T08:00:00+11:00", "2027-01-04T08:00:00+11:00", DAY,
              ["PU10", "PU09"], restrictions=[daily("08:00:00", 10 * HOUR)]),
    ]),
    ("PS09", "SRE Weekly", "Europe/London", "PT02", [
        layer("PL091", "Layer 1", "2027-01-04T10:00:00+00:00", "2027-01-04T10:00:00+00:00", WEEK,
              ["PU04", "PU03"]),
    ]),
    ("PS10", "Platform Nights", "America/New_York", "PT01", [
        # Two daily restrictions, one of them up to midnight; 2-day turns.
        layer("PL101", "Edges", "2027-01-05T00:00:00-05:00", "2027-01-05T00:00:00-05:00", 2 * DAY,
              ["PU01", "PU02", "PU12", "PU14"],
              restrictions=[daily("00:00:00", 6 * HOUR), daily("18:00:00", 6 * HOUR)]),
    ]),
    ("PS11", "Paris Duty", "Europe/Paris", None, [
        # Kate twice; the layer starts inside the turn of her second place.
        layer("PL111", "Layer 1", "2027-02-07T15:00:00+01:00", "2027-01-01T09:00:00+01:00", DAY,
              ["PU11", "PU13", "PU11", "PU05"]),
    ]),
    ("PS12", "Support Late", "America/Chicago", "PT01", [
        # Monday and Wednesday 22:00 for 10 hours: across midnight into the next day.
        layer("PL121", "Late", "2027-01-04T22:00:00-06:00", "2027-01-04T22:00:00-06:00", DAY,
              ["PU12", "PU14"], restrictions=[weekly(1, "22:00:00", 10 * HOUR), weekly(3, "22:00:00", 10 * HOUR)]),
    ]),
]

OVERRIDES = {
    "PS01": [
        {"id": "PO011", "start": "2027-02-10T00:00:00-05:00", "end": "2027-02-12T00:00:00-05:00", "user": "PU12"},
        # Over the clock change of 14 March.
        {"id": "PO012", "start": "2027-03-13T18:00:00-05:00", "end": "2027-03-15T09:00:00-04:00", "user": "PU02"},
        # Already over at the start of the import: left out.
        {"id": "PO013", "start": "2027-01-10T00:00:00-05:00", "end": "2027-01-11T00:00:00-05:00", "user": "PU02"},
    ],
    "PS09": [
        {"id": "PO091", "start": "2027-03-27T20:00:00+00:00", "end": "2027-03-29T08:00:00+01:00", "user": "PU05"},
        # Overlaps PO091: the later start is on call where they overlap.
        {"id": "PO092", "start": "2027-03-28T12:00:00+01:00", "end": "2027-03-30T12:00:00+01:00", "user": "PU11"},
    ],
    "PS03": [
        # Someone outside the layer.
        {"id": "PO031", "start": "2027-02-20T21:00:00+00:00", "end": "2027-02-21T03:00:00+00:00", "user": "PU11"},
    ],
}

ESCALATION_POLICIES = [
    {
        "id": "PE01", "type": "escalation_policy", "name": "Platform", "summary": "Platform",
        "num_loops": 2, "teams": [ref("team", "PT01", "Platform")],
        "escalation_rules": [
            {"id": "PR011", "escalation_delay_in_minutes": 30, "targets": [ref("schedule", "PS01", "Platform Primary")]},
            {"id": "PR012", "escalation_delay_in_minutes": 15,
             "targets": [ref("schedule", "PS02", "Platform Secondary"), ref("user", "PU01", "Alice Smith")]},
        ],
    },
    {
        "id": "PE02", "type": "escalation_policy", "name": "SRE", "summary": "SRE",
        "num_loops": 0, "teams": [ref("team", "PT02", "SRE Europe")],
        "escalation_rules": [
            {"id": "PR021", "escalation_delay_in_minutes": 10,
             "targets": [ref("schedule", "PS03", "Night Desk"), ref("schedule", "PS09", "SRE Weekly")]},
            {"id": "PR022", "escalation_delay_in_minutes": 20, "targets": [ref("schedule", "PS05", "Data Follow")]},
        ],
    },
    {
        "id": "PE03", "type": "escalation_policy", "name": "Directors", "summary": "Directors",
        "num_loops": 0, "teams": [],
        "escalation_rules": [
            {"id": "PR031", "escalation_delay_in_minutes": 30, "targets": [ref("user", "PU06", "Frank Li")]},
        ],
    },
]


def schedule(entry, detail=True):
    sid, name, zone, team, layers = entry
    out = {
        "id": sid,
        "type": "schedule",
        "summary": name,
        "self": f"{API}/schedules/{sid}",
        "html_url": f"https://example.pagerduty.com/schedules/{sid}",
        "name": name,
        "time_zone": zone,
        "description": None,
        "teams": [ref("team", team, TEAM_NAMES[team])] if team else [],
        "escalation_policies": [],
    }
    if detail:
        out["schedule_layers"] = layers
        out["users"] = sorted({u["user"]["id"]: u["user"] for l in layers for u in l["users"]}.values(),
                              key=lambda u: u["id"])
    return out


def overrides(sid):
    return [
        {"id": o["id"], "start": o["start"], "end": o["end"], "user": ref("user", o["user"], NAMES[o["user"]])}
        for o in OVERRIDES.get(sid, [])
    ]
