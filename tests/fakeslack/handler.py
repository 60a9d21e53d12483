"""The HTTP side: parse each request, apply any injected failure, upgrade WebSockets, answer.

Requests are Web API calls (/api/<method>), response URL posts (/response/<key>), Socket Mode
WebSockets (/socket/<n>) and the few pages of slack.com the fake has (FakeSlack._page), such as
the OAuth authorize pages a browser is sent to.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .websocket import ProtocolError, WebSocket, ws_accept
from .workspace import Reply

if TYPE_CHECKING:
    from .server import FakeSlack


class Server(ThreadingHTTPServer):
    """FakeSlack's HTTP server on a free port of 127.0.0.1, one thread per connection."""

    daemon_threads = True  # a handler stuck in slow_after must not block stop()

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, our own drops) are expected; other errors are not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Serves one connection: a Web API call, a response URL post, a page or a WebSocket."""

    # HTTP/1.0: one request per connection, so a dropped connection never hits a later request.
    protocol_version = "HTTP/1.0"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: test output should only show failures."""

    def do_GET(self) -> None:
        """WebSocket upgrades; otherwise as POST (Slack accepts GET with a query string too)."""
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self._websocket()
        else:
            self.do_POST()

    def _websocket(self) -> None:
        """Handshake on an issued /socket/<n>, hello, then serve frames until either side closes."""
        fake = self.server.fake
        self.close_connection = True  # never read another HTTP request off this connection
        key = self.headers.get("Sec-WebSocket-Key", "")
        number = fake._socket_number(urlsplit(self.path).path)
        if number is None:
            self._send((404, "not found", {}))
            return
        if not key or self.headers.get("Sec-WebSocket-Version") != "13":
            self._send((400, "bad WebSocket handshake", {}))
            return
        self.protocol_version = "HTTP/1.1"  # for the status line of the 101
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", ws_accept(key))
        self.end_headers()
        ws = WebSocket(self.connection, number)
        try:
            fake._socket_opened(ws)
            ws.serve(self.rfile, fake._socket_message)
        except (OSError, EOFError):  # the client hung up, or stop() cut it off
            pass
        except ProtocolError as err:
            ws.close(err.code, str(err))
        finally:
            fake._socket_closed(ws)

    def do_POST(self) -> None:
        """Route the request, apply any injected failure and answer."""
        fake = self.server.fake
        url = urlsplit(self.path)
        try:
            params = self._params(url.query)
        except ValueError:  # Slack answers a malformed body with an error, not a hang-up
            self._send((200, {"ok": False, "error": "invalid_json"}, {}))
            return
        fake._pause(fake.latency)
        if url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
            auth = self.headers.get("Authorization", "")

            def action() -> Reply:
                return fake._call_api(method, params, auth)
        elif url.path.startswith("/response/"):
            method, key = "response_url", url.path.removeprefix("/response/")

            def action() -> Reply:
                return fake._record_response(key, params)
        elif (page := fake._page(url.path)) is not None:
            method = url.path.strip("/")

            def action() -> Reply:
                return page(params)
        else:
            self._send((404, "not found", {}))
            return
        mode = fake._begin(method, params)
        if mode in ("503_before", "drop_before"):
            self._fail(mode)
            fake._answered(method, 503 if mode == "503_before" else 0)
            return
        reply = fake._run(action)
        fake._answered(method, 503 if mode == "503_after" else 0 if mode else reply[0])
        if mode == "slow_after":
            fake._pause(fake.slow_seconds)
        if mode in ("503_after", "drop_after"):
            self._fail(mode)
        else:
            self._send(reply)

    def _params(self, query: str) -> dict[str, Any]:
        """Query string, then the body: JSON, or form-encoded (`payload=` JSON for webhooks)."""
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return params
        if self.headers.get_content_type() == "application/json":
            body = json.loads(raw)
            params.update(body if isinstance(body, dict) else {})
        else:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
            if "payload" in params:
                params.update(json.loads(params.pop("payload")))
        return params

    def _fail(self, mode: str) -> None:
        if mode.startswith("503"):
            self._send((503, {"ok": False, "error": "service_unavailable"}, {}))
            return
        # Drop: close without writing a byte, so the client sees the peer hang up.
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already be gone
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, reply: Reply) -> None:
        status, body, headers = reply
        if isinstance(body, bytes):
            data, ctype = body, "application/octet-stream"
        elif isinstance(body, str):
            data, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(body).encode(), "application/json; charset=utf-8"
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            for name, value in {"Content-Type": ctype, **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (slow_after): nothing left to tell it
            self.close_connection = True
