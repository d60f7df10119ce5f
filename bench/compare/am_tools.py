#!/usr/bin/env python3
"""Helpers for bench/compare/alertmanager.sh (standard library only).

  am_tools.py receiver PORTFILE
      A webhook receiver on a free loopback port (written to PORTFILE) that
      counts notifications and the alerts inside them; GET /count returns
      "notifications alerts".
  am_tools.py post URL FILE BATCH CLIENTS
      Posts the JSON-lines alerts of FILE to URL (Alertmanager's
      /api/v2/alerts) as JSON arrays of BATCH alerts from CLIENTS parallel
      processes with keep-alive connections; prints "alerts seconds".
"""
import http.client
import http.server
import json
import multiprocessing
import sys
import threading
import time
import urllib.parse


def receiver(portfile):
    lock = threading.Lock()
    counts = [0, 0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                n = len(json.loads(body).get("alerts", []))
            except ValueError:
                n = 0
            with lock:
                counts[0] += 1
                counts[1] += n
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            with lock:
                text = "%d %d\n" % (counts[0], counts[1])
            self.send_response(200)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(portfile + ".tmp", portfile)
    server.serve_forever()


def _client(args):
    url, bodies = args
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    for body in bodies:
        conn.request("POST", u.path, body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("POST %s: HTTP %d" % (url, r.status))
    conn.close()


def post(url, path, batch, clients):
    with open(path, "rb") as f:
        lines = [line.rstrip(b"\n") for line in f if line.strip()]
    bodies = [b"[" + b",".join(lines[i:i + batch]) + b"]" for i in range(0, len(lines), batch)]
    # Batches dealt round-robin, so every client carries a share of the storm
    # in order.
    shares = [(url, bodies[c::clients]) for c in range(clients)]
    t0 = time.monotonic()
    with multiprocessing.Pool(clients) as pool:
        pool.map(_client, shares)
    print("%d %.3f" % (len(lines), time.monotonic() - t0))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "receiver":
        receiver(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "post":
        post(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
