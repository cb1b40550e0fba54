#!/usr/bin/env python3
"""PagerDuty's official Python client (PyPI `pagerduty`) against `oncall serve`.

Run by tests/it/pagerduty_client.rs, which starts the daemon and then checks
its store. With the library's Events API v2 client, this:

  1. triggers an alert without a dedup key (the daemon makes one up and the
     client returns it, as PagerDuty does),
  2. triggers it again with that key,
  3. acknowledges it,
  4. resolves it,

and prints one JSON line per step: {"step": ..., "returned": <what the client
returned>}. Any error from the library (a non-2xx answer, a body without
`dedup_key`) raises, so the exit code is not 0.

    tests/pagerduty_client.py --url http://127.0.0.1:PORT --routing-key KEY

The library posts to `{base}/v2/enqueue`. Its `url` setter accepts only
https:// base URLs (PagerDuty is https-only) and `oncall serve` speaks plain
HTTP (TLS is a reverse proxy's job), so for a http:// URL this sets the
attribute behind the setter: everything else (the request, its headers and
body, the answer's parsing) is the library's own.
"""

import argparse
import json
import sys

import pagerduty


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the daemon's base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--routing-key", required=True, help="the team's integration key")
    args = parser.parse_args()

    base = args.url.rstrip("/")
    if base.startswith("https://"):
        client = pagerduty.EventsApiV2Client(args.routing_key, base_url=base, trust_env=False)
    else:
        client = pagerduty.EventsApiV2Client(args.routing_key, trust_env=False)
        # See the docstring: the setter refuses http://; the getter reads this.
        client._url = base
    assert client.url == base, (client.url, base)
    # Fail fast if the daemon is not there, rather than retrying for seconds.
    client.max_network_attempts = 0
    client.timeout = 10

    def step(name: str, returned) -> None:
        print(json.dumps({"step": name, "returned": returned}), flush=True)

    key = client.trigger(
        "checkout latency above 2s",
        "checkout-1.payments.svc",
        severity="error",
        custom_details={"p99_ms": 2300},
        links=[{"href": "https://grafana.example.com/d/checkout", "text": "Checkout dashboard"}],
    )
    step("trigger", key)
    step(
        "trigger_again",
        client.trigger(
            "checkout latency above 2s",
            "checkout-1.payments.svc",
            dedup_key=key,
            severity="error",
            custom_details={"p99_ms": 2450},
        ),
    )
    step("acknowledge", client.acknowledge(key))
    step("resolve", client.resolve(key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
