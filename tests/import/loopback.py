"""What the vendor servers of tests/import share: a loopback HTTP server that
checks the authentication header, answers JSON, logs each request, and sends
one 429 with `Retry-After` in the middle of a listing.

A server prints `PORT <n>` on its first stdout line once it listens on
127.0.0.1, so a test can start it with port 0 and read where it is. With
`--log FILE` every answer is appended to FILE as `STATUS METHOD PATH?QUERY`.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Answer(Exception):
    """Raised by a route to answer with a status and a JSON body."""

    def __init__(self, status, body, headers=None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class State:
    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.log_path = log_path
        self.throttled = False

    def log(self, line):
        if self.log_path:
            with self.lock, open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def throttle_once(self):
        """True the first time only: the caller answers 429."""
        with self.lock:
            if self.throttled:
                return False
            self.throttled = True
            return True


def make_handler(state, authorized, route, unauthorized_body):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            headers = {}
            try:
                if not authorized(self.headers.get("Authorization")):
                    raise Answer(401, unauthorized_body)
                base = f"http://{self.headers.get('Host')}"
                body = route(parts.path, query, base)
                status = 200
            except Answer as a:
                status, body, headers = a.status, a.body, a.headers
            raw = body if isinstance(body, bytes) else json.dumps(body, indent=1).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)
            state.log(f"{status} GET {self.path}")

    return Handler


def serve(handler):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


def page(items, query, limit_key, offset_key, default_limit):
    limit = int(query.get(limit_key, default_limit))
    offset = int(query.get(offset_key, 0))
    return items[offset : offset + limit], offset, limit
