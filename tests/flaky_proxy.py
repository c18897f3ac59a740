"""A misbehaving provider for tests: an HTTP proxy in front of a real OpenAI-compatible
server that answers the first requests with a scripted failure, then forwards."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    """``failures``: how many requests fail before the proxy forwards; ``kind``: how."""

    kind: str = "ok"  # ok | rate_limit | server_error | hang | malformed | refuse
    failures: int = 0
    retry_after: str | None = "1"
    hang_s: float = 5.0
    requests: list[float] = field(default_factory=list)
    forwarded: int = 0


def start_proxy(upstream: str, script: Script) -> tuple[ThreadingHTTPServer, str]:
    """``upstream`` like http://127.0.0.1:PORT/v1; returns (server, base_url)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: dict | str, headers: dict[str, str] | None = None):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            """Forwarded whatever the script says, as ``fitsense serve``'s proxy answers
            ``GET /v1/models`` itself while a backend fails."""
            request = urllib.request.Request(
                upstream + self.path.removeprefix("/v1"),
                headers={k: v for k, v in self.headers.items() if k.lower() == "authorization"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return self._send(response.status, response.read().decode())
            except urllib.error.HTTPError as exc:
                return self._send(exc.code, exc.read().decode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            payload = self.rfile.read(length)
            script.requests.append(time.monotonic())
            if len(script.requests) <= script.failures:
                if script.kind == "rate_limit":
                    headers = {"Retry-After": script.retry_after} if script.retry_after else {}
                    return self._send(
                        429,
                        {"error": {"message": "Rate limit reached", "type": "rate_limit"}},
                        headers,
                    )
                if script.kind == "server_error":
                    return self._send(500, {"error": {"message": "upstream exploded"}})
                if script.kind == "hang":
                    time.sleep(script.hang_s)
                    return self._send(504, {"error": {"message": "too late"}})
                if script.kind == "refuse":
                    return self._send(
                        400,
                        {
                            "error": {
                                "message": "This request was refused by the content policy.",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                if script.kind == "malformed":
                    body = json.loads(payload)
                    return self._send(
                        200,
                        {
                            "id": "x",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body.get("model", "m"),
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {
                                        "role": "assistant",
                                        "content": "{this is not json",
                                    },
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 1,
                                "completion_tokens": 1,
                                "total_tokens": 2,
                            },
                        },
                    )
            request = urllib.request.Request(
                upstream + self.path.removeprefix("/v1"),
                data=payload,
                method="POST",
                headers={
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() in ("content-type", "authorization")
                },
            )
            script.forwarded += 1
            try:
                with urllib.request.urlopen(request, timeout=300) as response:
                    return self._send(response.status, response.read().decode())
            except urllib.error.HTTPError as exc:
                return self._send(exc.code, exc.read().decode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"
