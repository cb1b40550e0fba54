"""A loopback PagerDuty REST API v2 for `oncall import pagerduty` tests.

    python pagerduty_server.py [--token T] [--scenario NAME] [--page N] [--log FILE]
        prints `http://127.0.0.1:PORT` on its first line, then serves until killed.
    python pagerduty_server.py --dump DIR --since T --until T [--scenario NAME]
        writes the same answers as the files `--from-dir` reads, and exits.

Speaks the API as PagerDuty documents it (README.md): the `Authorization:
Token token=...` header and the versioned `Accept` header are required (401
otherwise), listings are paged by `offset`/`limit` with `more` (at most
`--page` items a page, whatever `limit` asks, so that paging happens), and
the second page of GET /users is first answered 429 with `Retry-After: 1`.
GET /schedules/{id} with `since`/`until` carries `final_schedule`, rendered
by pagerduty_reference.py. Scenarios: `ok`; `bad-shape` (schedule PS03
without `schedule_layers`); `unknown-zone` (schedule PS04 in `Mars/Olympus`); `throttled` (GET /teams
answers 429 every time).
Every request is logged to `--log`, one line: `METHOD PATH?QUERY STATUS`.
"""

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pagerduty_fixtures as fx  # noqa: E402
import pagerduty_reference as reference  # noqa: E402

ACCEPT = "application/vnd.pagerduty+json;version=2"


def schedules(scenario):
    out = {}
    for entry in fx.SCHEDULES:
        s = fx.schedule(entry)
        if scenario == "bad-shape" and s["id"] == "PS03":
            s["layers"] = s.pop("schedule_layers")
        if scenario == "unknown-zone" and s["id"] == "PS04":
            s["time_zone"] = "Mars/Olympus"
        out[s["id"]] = s
    return out


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def schedule_answer(s, query):
    s = dict(s)
    if "since" in query and "until" in query and "schedule_layers" in s:
        since, until = parse_time(query["since"][0]), parse_time(query["until"][0])
        s["final_schedule"] = {
            "name": "Final Schedule",
            "rendered_schedule_entries": reference.render(s, fx.overrides(s["id"]), since, until),
            "rendered_coverage_percentage": None,
        }
    return {"schedule": s}


def listing(key, items, query, page):
    offset = int(query.get("offset", ["0"])[0])
    limit = min(int(query.get("limit", ["25"])[0]), page)
    chunk = items[offset:offset + limit]
    return {key: chunk, "limit": limit, "offset": offset, "more": offset + len(chunk) < len(items), "total": None}


def answer(path, query, scenario, page):
    """(status, body) for GET path?query."""
    scheds = schedules(scenario)
    parts = [p for p in path.split("/") if p]
    if parts == ["users"]:
        include = query.get("include[]", [])
        return 200, listing("users", [fx.user(u, include) for u in fx.USERS_RAW], query, page)
    if parts == ["teams"]:
        return 200, listing("teams", fx.TEAMS, query, page)
    if parts == ["escalation_policies"]:
        return 200, listing("escalation_policies", fx.ESCALATION_POLICIES, query, page)
    if parts == ["schedules"]:
        brief = [fx.schedule(e, detail=False) for e in fx.SCHEDULES]
        return 200, listing("schedules", brief, query, page)
    if len(parts) >= 2 and parts[0] == "schedules":
        if parts[1] not in scheds:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        if len(parts) == 2:
            return 200, schedule_answer(scheds[parts[1]], query)
        if len(parts) == 3 and parts[2] == "overrides":
            return 200, {"overrides": fx.overrides(parts[1])}
    return 404, {"error": {"message": "Not Found", "code": 2100}}


def serve(args):
    state = {"throttled": False}
    log = open(args.log, "a", buffering=1) if args.log else None

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            if log:
                log.write(f"GET {self.path} {status}\n")

        def do_GET(self):
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if self.headers.get("Authorization") != f"Token token={args.token}" or self.headers.get("Accept") != ACCEPT:
                return self.send(401, {"error": {"message": "Unauthorized", "code": 2006}})
            if args.scenario == "throttled" and url.path == "/teams":
                return self.send(429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                                 [("Retry-After", "1")])
            if url.path == "/users" and query.get("offset", ["0"])[0] != "0" and not state["throttled"]:
                state["throttled"] = True
                return self.send(429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                                 [("Retry-After", "1")])
            status, body = answer(url.path, query, args.scenario, args.page)
            self.send(status, body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


def dump(args):
    """The answers as the files `--from-dir` reads: the path plus `.json`."""
    q = {"since": [args.since], "until": [args.until]}
    big = 10 ** 6

    def put(path, body):
        file = os.path.join(args.dump, path + ".json")
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(file, "w") as f:
            json.dump(body, f, indent=1)

    for key in ("users", "teams", "escalation_policies", "schedules"):
        extra = {"include[]": ["contact_methods", "notification_rules"]} if key == "users" else {}
        put(key, answer("/" + key, {**extra, "limit": [str(big)]}, args.scenario, big)[1])
    for sid in schedules(args.scenario):
        put(f"schedules/{sid}", answer(f"/schedules/{sid}", q, args.scenario, big)[1])
        put(f"schedules/{sid}/overrides", answer(f"/schedules/{sid}/overrides", {}, args.scenario, big)[1])


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--token", default="test-token")
    p.add_argument("--scenario", default="ok")
    p.add_argument("--page", type=int, default=4)
    p.add_argument("--log")
    p.add_argument("--dump")
    p.add_argument("--since")
    p.add_argument("--until")
    a = p.parse_args()
    dump(a) if a.dump else serve(a)
