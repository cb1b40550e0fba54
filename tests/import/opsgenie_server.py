#!/usr/bin/env python3
"""A loopback Opsgenie REST API v2 for the `oncall import opsgenie` tests.

    opsgenie_server.py --key KEY [--fault NAME] [--log FILE]
    opsgenie_server.py --dump DIR [--fault NAME]

Serves tests/import/opsgenie_data.py on 127.0.0.1 (the port on the first
stdout line, `PORT <n>`), at the paths Opsgenie documents (README.md,
"Opsgenie"). Every request needs `Authorization: GenieKey KEY` (401
otherwise). The users and schedules listings come a few at a time, each
page linking the next in `paging.next`; the second page of users is answered
once with 429 and `Retry-After: 1`. The schedule timeline comes from
opsgenie_reference.py, never from `oncall`.

`--fault` changes the data for one bad-input test (opsgenie_data.FAULTS).
`--dump DIR` writes the same answers as JSON files instead of serving them
(see README.md for the layout), for `oncall import --from-dir`.
"""

import argparse
import json
import os
import sys
from datetime import timedelta
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loopback  # noqa: E402
import opsgenie_data  # noqa: E402
import opsgenie_reference as ref  # noqa: E402

USERS_PER_PAGE = 4
SCHEDULES_PER_PAGE = 5


def public_user(u):
    return {k: v for k, v in u.items() if not k.startswith("_")}


def envelope(data, **extra):
    body = {"data": data, "took": 0.01, "requestId": "00000000-0000-4000-8000-000000000000"}
    body.update(extra)
    return body


def not_found(what):
    return loopback.Answer(404, {"message": f"{what} not found", "took": 0.0, "requestId": "0"})


def paged(items, query, base, path, per_page, extra_query=""):
    chunk, offset, limit = loopback.page(items, query, "limit", "offset", per_page)
    paging = {"first": f"{base}{path}?limit={limit}&offset=0{extra_query}"}
    if offset + limit < len(items):
        paging["next"] = f"{base}{path}?limit={limit}&offset={offset + limit}{extra_query}"
    last = max(0, (len(items) - 1) // limit * limit)
    paging["last"] = f"{base}{path}?limit={limit}&offset={last}{extra_query}"
    return chunk, offset, {"paging": paging, "totalCount": len(items)}


class Api:
    def __init__(self, data, fault, state):
        self.data, self.fault, self.state = data, fault, state

    def schedule(self, sid):
        if self.fault == "missing-schedule" and sid == "og-s-weekday-window":
            raise not_found("Schedule")
        s = next((s for s in self.data["schedules"] if s["id"] == sid), None)
        if s is None:
            raise not_found("Schedule")
        return s

    def user(self, uid):
        u = next((u for u in self.data["users"] if u["id"] == uid), None)
        if u is None:
            raise not_found("User")
        return u

    def route(self, path, query, base):
        parts = [p for p in path.split("/") if p]
        if parts[:1] != ["v2"]:
            raise not_found("Path")
        rest = parts[1:]
        if rest == ["users"]:
            users = [public_user(u) for u in self.data["users"]]
            chunk, offset, extra = paged(users, query, base, "/v2/users", USERS_PER_PAGE)
            if offset > 0 and self.state.throttle_once():
                raise loopback.Answer(
                    429,
                    {"message": "You are making too many requests! To avoid errors, we recommend you limit requests.", "took": 0.0, "requestId": "0"},
                    {"Retry-After": "1", "X-RateLimit-State": "THROTTLED"},
                )
            return envelope(chunk, **extra)
        if len(rest) == 3 and rest[0] == "users" and rest[2] == "contacts":
            return envelope(self.user(rest[1])["_contacts"])
        if len(rest) == 3 and rest[0] == "users" and rest[2] == "notification-rules":
            return envelope(self.user(rest[1])["_notification_rules"])
        if rest == ["teams"]:
            return envelope([{k: t[k] for k in ("id", "name", "description")} for t in self.data["teams"]])
        if len(rest) == 2 and rest[0] == "teams":
            t = next((t for t in self.data["teams"] if t["id"] == rest[1]), None)
            if t is None:
                raise not_found("Team")
            return envelope(t)
        if rest == ["schedules"]:
            if self.fault == "wrong-shape":
                return envelope({"schedules": self.data["schedules"]})
            expand = "&expand=rotation" if query.get("expand") == "rotation" else ""
            scheds = self.data["schedules"]
            if not expand:
                scheds = [{k: v for k, v in s.items() if k != "rotations"} for s in scheds]
            chunk, _, extra = paged(scheds, query, base, "/v2/schedules", SCHEDULES_PER_PAGE, expand)
            return envelope(chunk, expandable=["rotation"], **extra)
        if len(rest) == 2 and rest[0] == "schedules":
            return envelope(self.schedule(rest[1]))
        if len(rest) == 3 and rest[0] == "schedules" and rest[2] == "overrides":
            s = self.schedule(rest[1])
            overrides = []
            for o in self.data["overrides"].get(s["id"], []):
                overrides.append(dict(o, _parent={"id": s["id"], "name": s["name"], "enabled": True}))
            return envelope(overrides)
        if len(rest) == 3 and rest[0] == "schedules" and rest[2] == "timeline":
            return envelope(self.timeline(self.schedule(rest[1]), query), expandable=["base", "forwarding", "override"])
        if rest == ["escalations"]:
            return envelope(self.data["escalations"])
        raise not_found("Path")

    def timeline(self, s, query):
        unit = query.get("intervalUnit", "weeks")
        interval = int(query.get("interval", 1))
        if unit not in ("days", "weeks", "months"):
            raise loopback.Answer(422, {"message": "intervalUnit must be one of days, weeks, months", "took": 0.0, "requestId": "0"})
        if "date" not in query:
            # The tests always name the date: "now" is fixed (opsgenie_data.NOW).
            raise loopback.Answer(422, {"message": "date is required by this test server", "took": 0.0, "requestId": "0"})
        lo = ref.parse_instant(query["date"])
        if unit == "months":
            raise loopback.Answer(422, {"message": "this test server answers days and weeks", "took": 0.0, "requestId": "0"})
        hi = lo + (timedelta(days=interval) if unit == "days" else timedelta(weeks=interval))
        rows = []
        for row in ref.timeline(self.data, s["id"], lo, hi):
            periods = [
                {"startDate": ref.fmt(a), "endDate": ref.fmt(b), "type": kind, "recipient": recipient}
                for a, b, (recipient, _people), kind in row["periods"]
            ]
            rows.append({"id": row["id"], "name": row["name"], "order": float(row["order"]), "periods": periods})
        return {
            "_parent": {"id": s["id"], "name": s["name"], "enabled": s.get("enabled", True)},
            "startDate": ref.fmt(lo),
            "endDate": ref.fmt(hi),
            "finalTimeline": {"rotations": rows},
        }


def dump(api, out_dir, days):
    """Write what the importer reads, one JSON file per answer, as
    `oncall import --from-dir` reads them: the path after /v2/ with `.json`,
    a listing as one file holding every item under `data`."""

    def write(rel, body):
        path = os.path.join(out_dir, rel + ".json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(body, f, indent=1, sort_keys=True)
            f.write("\n")

    base = "http://saved"
    everything = {"limit": "1000"}
    write("users", api.route("/v2/users", everything, base))
    for u in api.data["users"]:
        write(f"users/{u['id']}/contacts", api.route(f"/v2/users/{u['id']}/contacts", {}, base))
        write(f"users/{u['id']}/notification-rules", api.route(f"/v2/users/{u['id']}/notification-rules", {}, base))
    write("teams", api.route("/v2/teams", {}, base))
    for t in api.data["teams"]:
        write(f"teams/{t['id']}", api.route(f"/v2/teams/{t['id']}", {}, base))
    write("schedules", api.route("/v2/schedules", dict(everything, expand="rotation"), base))
    for s in api.data["schedules"]:
        write(f"schedules/{s['id']}", api.route(f"/v2/schedules/{s['id']}", {}, base))
        write(f"schedules/{s['id']}/overrides", api.route(f"/v2/schedules/{s['id']}/overrides", {}, base))
        q = {"date": opsgenie_data.NOW, "interval": str(days), "intervalUnit": "days"}
        write(f"schedules/{s['id']}/timeline", api.route(f"/v2/schedules/{s['id']}/timeline", q, base))
    write("escalations", api.route("/v2/escalations", {}, base))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", help="the API key the server accepts (GenieKey)")
    parser.add_argument("--fault", default="none", choices=opsgenie_data.FAULTS)
    parser.add_argument("--log", help="append each answer here: STATUS METHOD PATH")
    parser.add_argument("--dump", help="write the answers into this folder instead of serving")
    parser.add_argument("--days", type=int, default=90, help="with --dump: the timeline's length")
    args = parser.parse_args()

    data = opsgenie_data.dataset(args.fault)
    state = loopback.State(args.log)
    api = Api(data, args.fault, state)
    if args.dump:
        state.throttled = True
        dump(api, args.dump, args.days)
        return
    if not args.key:
        parser.error("--key is required to serve")
    expected = f"GenieKey {args.key}"
    handler = loopback.make_handler(
        state,
        lambda header: header == expected,
        api.route,
        {"message": "Could not authenticate", "took": 0.0, "requestId": "0"},
    )
    loopback.serve(handler)


if __name__ == "__main__":
    main()
