"A fault-injecting HTTP proxy for the LLM tests: forwards to a real server, but answers some requests with 429/500 or delays them."
import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class FaultProxy:
    """Proxy on 127.0.0.1 in front of `upstream` (http://host:port). `faults` is consumed one entry per POST:
    'pass', an HTTP status such as '429' or '500', or 'delay:<seconds>'; when it runs out, `default` applies."""

    def __init__(self, upstream: str, faults=(), default: str = "pass"):
        self.upstream, self.faults, self.default = urlsplit(upstream), list(faults), default
        self.lock, self.seen = threading.Lock(), []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args): pass

            def _forward(self, body: bytes | None):
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=120)
                conn.request(self.command, self.path, body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                self.send_header("Content-Type", resp.getheader("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            def _fail(self, status: int):
                data = b'{"error": {"message": "injected fault", "type": "injected"}}'
                self.send_response(status)
                if status == 429: self.send_header("Retry-After", "0.2")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self): self._forward(None)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    action = proxy.faults.pop(0) if proxy.faults else proxy.default
                    proxy.seen.append(action)
                if action.isdigit(): return self._fail(int(action))
                if action.startswith("delay:"):
                    threading.Event().wait(float(action.split(":")[1]))
                try: self._forward(body)
                except OSError: pass     # the client gave up (timeout) while we were delaying

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str: return f"http://127.0.0.1:{self.server.server_address[1]}{self.upstream.path}"

    def __enter__(self):
        self.thread.start(); return self

    def __exit__(self, *exc):
        self.server.shutdown(); self.server.server_close()
