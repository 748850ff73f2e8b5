#!/usr/bin/env python3
"""Server-sent events from a baton topic: a browser (or any SSE client) that loses its
connection reconnects, to this host or another, with the last id it saw in `Last-Event-ID`,
and gets every later event once, in order. The only state is the id the browser holds: each
host reads the topic from it through its own batond (EVENTS READ ... BLOCK), so a load balancer
may send the reconnect anywhere.

    BATON_SOCKET=/run/baton/baton.sock examples/events_sse.py --port 8080
    curl -N http://127.0.0.1:8080/events/orders            # from the oldest event kept
    curl -N -H 'Last-Event-ID: 1764662400000-3' http://127.0.0.1:8080/events/orders

Each event is sent as `id: <event id>` and `data: <payload>` (a payload with newlines is sent
as several data lines, as SSE wants); a comment line every 15 s of quiet keeps proxies from
closing the stream. Standard library and python3-redis only."""
import argparse
import os
import re
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

TOPIC = re.compile(r"^/events/([^/?{} ]{1,128})(?:\?.*)?$")
EVENT_ID = re.compile(r"^(0|\d{1,20}-\d{1,20})$")


class Handler(BaseHTTPRequestHandler):
    baton_socket = os.environ.get("BATON_SOCKET", "/run/baton/baton.sock")
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: one line per request is noise for a stream
        pass

    def do_GET(self):
        match = TOPIC.match(self.path)
        if not match:
            self.send_error(404, "GET /events/<topic>")
            return
        topic = match.group(1)
        last = self.headers.get("Last-Event-ID", "0").strip() or "0"
        if not EVENT_ID.match(last):
            self.send_error(400, "Last-Event-ID is not an event id")
            return
        client = redis.Redis(unix_socket_path=self.baton_socket, socket_timeout=30)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            while True:
                events = client.execute_command("EVENTS", "READ", topic, "FROM", last,
                                                "COUNT", "100", "BLOCK", "15000")
                if not events:
                    self.wfile.write(b": quiet\n\n")
                for event_id, payload in events:
                    last = event_id.decode()
                    # SSE ends a line at CR, LF or CRLF: each is a line of data here, so a
                    # payload cannot end the event early or set its own id.
                    lines = re.split(r"\r\n|\r|\n", payload.decode("utf-8", "replace"))
                    data = "".join(f"data: {line}\n" for line in lines)
                    self.wfile.write(f"id: {last}\n{data}\n".encode())
                self.wfile.flush()
        except OSError:
            pass  # the browser went away; it comes back with Last-Event-ID
        except redis.RedisError as e:
            # batond is gone or answered an error: end the stream; the browser reconnects
            # (maybe elsewhere) with the last id it got, and misses nothing.
            try:
                self.wfile.write(f": baton: {e}\n\n".encode())
            except OSError:
                pass
        finally:
            client.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--socket", default=None, help="batond's socket (default $BATON_SOCKET)")
    args = parser.parse_args()
    if args.socket:
        Handler.baton_socket = args.socket
    with Server((args.host, args.port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    socketserver.TCPServer.allow_reuse_address = True
    main()
