"""Reads an iCalendar file with the `icalendar` package (independent of
oncall) and prints its events as JSON lines, in file order:
{"uid", "start", "end", "summary"}, times as RFC 3339 UTC.

Used by tests/it/calendar.rs: python3 tests/ics_events.py FEED.ics
"""

import json
import sys
from datetime import timezone

import icalendar


def main(path):
    with open(path, "rb") as f:
        calendar = icalendar.Calendar.from_ical(f.read())
    assert calendar.get("VERSION") == "2.0", calendar.get("VERSION")
    assert calendar.get("PRODID"), "no PRODID"
    for event in calendar.walk("VEVENT"):
        for required in ("UID", "DTSTAMP", "DTSTART", "DTEND"):
            assert event.get(required) is not None, f"an event without {required}"
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND")
        assert start.tzinfo is not None and end.tzinfo is not None, "floating times"
        print(
            json.dumps(
                {
                    "uid": str(event.get("UID")),
                    "start": start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "end": end.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "summary": str(event.get("SUMMARY")),
                }
            )
        )


if __name__ == "__main__":
    main(sys.argv[1])
