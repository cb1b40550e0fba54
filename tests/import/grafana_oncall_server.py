#!/usr/bin/env python3
"""A loopback Grafana OnCall HTTP API v1 for the `oncall import grafana-oncall` tests.

    grafana_oncall_server.py --token TOKEN [--fault NAME] [--log FILE]
    grafana_oncall_server.py --dump DIR [--fault NAME]

Serves tests/import/grafana_oncall_data.py on 127.0.0.1 (the port on the
first stdout line, `PORT <n>`), at the paths Grafana OnCall documents
(README.md, "Grafana OnCall"). Every request needs `Authorization: TOKEN`
(401 otherwise). Listings come a few at a time, each page naming the next
in `next`; the second page of users is answered once with 429 and
`Retry-After: 1`. Final shifts come from grafana_oncall_reference.py, never
from `oncall`.

`--fault` changes the data for one bad-input test (grafana_oncall_data.FAULTS).
`--dump DIR` writes the same answers as JSON files instead of serving them.
"""

import argparse
import json
import os
import sys
from datetime import date, datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grafana_oncall_data  # noqa: E402
import grafana_oncall_reference as ref  # noqa: E402
import loopback  # noqa: E402

PAGE_SIZE = {"users": 4, "schedules": 5, "on_call_shifts": 6, "final_shifts": 50}


def not_found():
    return loopback.Answer(404, {"detail": "Not found."})


def listing(items, query, base, path, per_page, keep_query=()):
    n = int(query.get("page", 1))
    total_pages = max(1, (len(items) + per_page - 1) // per_page)
    chunk = items[(n - 1) * per_page : n * per_page]
    extra = "".join(f"&{k}={query[k]}" for k in keep_query if k in query)
    return {
        "count": len(items),
        "next": f"{base}{path}?page={n + 1}{extra}" if n < total_pages else None,
        "previous": f"{base}{path}?page={n - 1}{extra}" if n > 1 else None,
        "results": chunk,
        "page_size": per_page,
        "current_page_number": n,
        "total_pages": total_pages,
    }


class Api:
    def __init__(self, data, fault, state):
        self.data, self.fault, self.state = data, fault, state

    def schedule(self, sid):
        if self.fault == "missing-schedule" and sid == "go-s-nights":
            raise not_found()
        s = next((s for s in self.data["schedules"] if s["id"] == sid), None)
        if s is None:
            raise not_found()
        return s

    def route(self, path, query, base):
        if not path.startswith("/api/v1/"):
            raise not_found()
        parts = [p for p in path[len("/api/v1/") :].split("/") if p]
        if parts == ["users"]:
            body = listing(self.data["users"], query, base, "/api/v1/users/", PAGE_SIZE["users"])
            if body["current_page_number"] == 2 and self.state.throttle_once():
                raise loopback.Answer(429, {"detail": "Request was throttled. Expected available in 1 second."}, {"Retry-After": "1"})
            return body
        if parts == ["teams"]:
            return listing(self.data["teams"], query, base, "/api/v1/teams/", 50)
        if parts == ["personal_notification_rules"]:
            rules = self.data["notification_rules"]
            if "user_id" in query:
                rules = [r for r in rules if r["user_id"] == query["user_id"]]
            return listing(rules, query, base, "/api/v1/personal_notification_rules/", 50, ("user_id",))
        if parts == ["schedules"]:
            return listing(self.data["schedules"], query, base, "/api/v1/schedules/", PAGE_SIZE["schedules"])
        if len(parts) == 2 and parts[0] == "schedules":
            return self.schedule(parts[1])
        if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "final_shifts":
            return self.final_shifts(self.schedule(parts[1]), query, base, path)
        if parts == ["on_call_shifts"]:
            shifts = self.data["shifts"]
            if "schedule_id" in query:
                wanted = self.schedule(query["schedule_id"])["shifts"]
                shifts = [s for s in shifts if s["id"] in wanted]
            body = listing(shifts, query, base, "/api/v1/on_call_shifts/", PAGE_SIZE["on_call_shifts"], ("schedule_id",))
            if self.fault == "wrong-shape":
                body["results"] = {"shifts": body["results"]}
            return body
        if len(parts) == 2 and parts[0] == "on_call_shifts":
            s = next((s for s in self.data["shifts"] if s["id"] == parts[1]), None)
            if s is None:
                raise not_found()
            return s
        if parts == ["escalation_chains"]:
            return listing(self.data["escalation_chains"], query, base, "/api/v1/escalation_chains/", 50)
        if parts == ["escalation_policies"]:
            pols = self.data["escalation_policies"]
            if "escalation_chain_id" in query:
                pols = [p for p in pols if p["escalation_chain_id"] == query["escalation_chain_id"]]
            return listing(pols, query, base, "/api/v1/escalation_policies/", 50, ("escalation_chain_id",))
        raise not_found()

    def final_shifts(self, s, query, base, path):
        try:
            start = date.fromisoformat(query["start_date"])
            end = date.fromisoformat(query["end_date"])
        except (KeyError, ValueError):
            raise loopback.Answer(400, {"detail": "start_date and end_date are required, as ISO 8601 dates"})
        if end < start or (end - start).days > 365:
            raise loopback.Answer(400, {"detail": "end_date must be from start_date to 365 days after it"})
        # The dates are days in UTC, end_date included.
        lo = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
        hi = datetime(end.year, end.month, end.day, tzinfo=timezone.utc) + timedelta(days=1)
        rows = ref.rows(self.data, s["id"], lo, hi)
        return listing(rows, query, base, path, PAGE_SIZE["final_shifts"], ("start_date", "end_date"))


def dump(api, out_dir, days):
    """Write what the importer reads, one JSON file per answer, as
    `oncall import --from-dir` reads them: the path after /api/v1/ without
    its last `/`, with `.json`; a listing as one file holding every item
    under `results`."""

    def write(rel, body):
        p = os.path.join(out_dir, rel + ".json")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w", encoding="utf-8") as f:
            json.dump(body, f, indent=1, sort_keys=True)
            f.write("\n")

    base = "http://saved"

    def everything(path, query):
        n, items = 1, []
        while True:
            body = api.route(path, dict(query, page=str(n)), base)
            items += body["results"]
            if not body["next"]:
                return {"count": len(items), "next": None, "previous": None, "results": items}
            n += 1

    for name in ("users", "teams", "personal_notification_rules", "schedules", "on_call_shifts", "escalation_chains", "escalation_policies"):
        write(name, everything(f"/api/v1/{name}/", {}))
    lo = date.fromisoformat(grafana_oncall_data.NOW[:10])
    q = {"start_date": lo.isoformat(), "end_date": (lo + timedelta(days=days - 1)).isoformat()}
    for s in api.data["schedules"]:
        write(f"schedules/{s['id']}", api.route(f"/api/v1/schedules/{s['id']}/", {}, base))
        write(f"schedules/{s['id']}/final_shifts", everything(f"/api/v1/schedules/{s['id']}/final_shifts", q))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token", help="the API token the server accepts")
    parser.add_argument("--fault", default="none", choices=grafana_oncall_data.FAULTS)
    parser.add_argument("--log", help="append each answer here: STATUS METHOD PATH")
    parser.add_argument("--dump", help="write the answers into this folder instead of serving")
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()

    data = grafana_oncall_data.dataset(args.fault)
    state = loopback.State(args.log)
    api = Api(data, args.fault, state)
    if args.dump:
        state.throttled = True
        dump(api, args.dump, args.days)
        return
    if not args.token:
        parser.error("--token is required to serve")
    handler = loopback.make_handler(state, lambda header: header == args.token, api.route, {"detail": "Invalid token."})
    loopback.serve(handler)


if __name__ == "__main__":
    main()
