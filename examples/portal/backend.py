#!/usr/bin/env python3
"""Example portal backend for ims-gateway (Python 3 standard library only).

Serves index.html, GET /config (where the gateway is) and POST /token, which trades the
client key (it never leaves this process) for a short-lived browser token bound to the page's
origin and projects. A real portal would authenticate its user and check the projects first.
"""
import argparse, json, os, sys, urllib.error, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):  # never replay the client key to another URL
        return None


# No proxy from the environment and no redirects: the key goes to the gateway only.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect)


def main():
    p = argparse.ArgumentParser(description="ims-gateway portal example backend")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--gateway", default="http://127.0.0.1:8080")
    p.add_argument("--origin", help="the origin the page is served under, when not http://HOST:PORT (a proxy)")
    args = p.parse_args()
    key = os.environ.get("PORTAL_CLIENT_KEY", "")
    if not key:
        sys.exit("PORTAL_CLIENT_KEY is not set: export the portal's client key first")
    gateway = args.gateway.rstrip("/")

    class Handler(BaseHTTPRequestHandler):
        def send(self, status, body, ctype="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def send_json(self, status, obj):
            self.send(status, json.dumps(obj).encode())

        def do_GET(self):
            if self.path in ("/", "/index.html"):
                with open(os.path.join(HERE, "index.html"), "rb") as f:
                    self.send(200, f.read(), "text/html; charset=utf-8")
            elif self.path == "/config":
                self.send_json(200, {"gateway": gateway})
            else:
                self.send_json(404, {"detail": "not found"})

        def do_POST(self):
            if self.path != "/token":
                return self.send_json(404, {"detail": "not found"})
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                projects = req["projects"]
                if not isinstance(projects, list):
                    raise ValueError("projects is not a list")
            except Exception:
                return self.send_json(400, {"detail": 'expected JSON {"projects": ["<project_id>", ...]}'})
            body = json.dumps({"origin": origin, "projects": projects, "ttl_seconds": 600}).encode()
            call = urllib.request.Request(gateway + "/browser-tokens", data=body, method="POST", headers={
                "Authorization": "Bearer " + key, "Content-Type": "application/json",
                "Accept": "application/json, application/problem+json"})
            try:
                with OPENER.open(call, timeout=15) as r:
                    status, ctype, answer = r.status, r.headers.get("Content-Type"), r.read()
            except urllib.error.HTTPError as e:  # 4xx/5xx: pass the gateway's problem on unchanged
                status, ctype, answer = e.code, e.headers.get("Content-Type"), e.read()
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                return self.send_json(502, {"detail": f"gateway {gateway} unreachable: {reason}"})
            self.send(status, answer, ctype or "application/json")

        def log_message(self, *args):  # quiet access log (and nothing secret could leak into it)
            pass

    server = ThreadingHTTPServer((args.host, args.port), Handler)  # one thread per request
    server.daemon_threads = True
    # The page's own origin, as we listen (or as a proxy in front of us serves it).
    origin = args.origin or f"http://{args.host}:{server.server_address[1]}"
    print(f"portal backend listening on {origin} ({gateway})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
