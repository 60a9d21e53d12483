"""The HTTP front door of `digestbot run` (when PORT is set): one WSGI app, served by waitress.

Routes: `GET /healthz` (the bot's health), every `/slack/*` path to Bolt's WSGI handler
(`POST /slack/events` for the /digest command; Bolt's OAuth paths live there too) but the
dashboard's Sign in with Slack redirect, and everything else to the dashboard (404 when it is
off). waitress is
a production server in pure Python: a thread for its loop and a small pool of workers, which
run beside the scheduler in the same process.

Facing the internet, it is bounded before anything is read: a body over `MAX_BODY` gets 413
from waitress itself, a POST without a length 411, a body that is not what it claims (not
UTF-8, broken JSON or `payload=`) 400 with one log line; idle and half-sent connections are
dropped after `IDLE_SECONDS`, and up to `connection_limit()` connections are served at once,
so that slow clients never keep /healthz from answering.
"""

from __future__ import annotations

import io
import json
import logging
import resource
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server
from waitress.wasyncore import close_all

from digestbot.errors import DigestbotError

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
SLACK_PREFIX = "/slack/"
EVENTS_PATH = "/slack/events"
THREADS = 8
MAX_BODY = 64 * 1024  # Slack's requests are a few KB; anything larger is not from Slack
IDLE_SECONDS = 10  # a connection that sends nothing (or half a request) for this long is closed
MAX_CONNECTIONS = 1000

Health = Callable[[], tuple[bool, dict[str, Any]]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
DASHBOARD_SLACK_PATHS = ("/slack/oidc_redirect",)  # under /slack/, yet the dashboard's
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def connection_limit() -> int:
    """As many connections as the file descriptors allow, leaving some for everything else."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(16, min(MAX_CONNECTIONS, soft - 64))


def _check_free(host: str, port: int, setting: str) -> None:
    """Bind the port once as waitress will, first: waitress starts its threads and its wake-up
    pipe before it binds, and a port in use would leave them behind an unexpected OSError."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            raise DigestbotError(
                f"cannot listen on {host}:{port} ({reason}): choose another port with {setting}"
            ) from None


class FrontDoor:
    """The WSGI app and its waitress server, in a thread of its own."""

    def __init__(
        self,
        port: int,
        health: Health,
        slack: App | None,
        *,
        dashboard: WSGIApp | None = None,
        host: str = "0.0.0.0",
        setting: str = "PORT",
    ) -> None:
        """Listen on `host`:`port` (which `setting` chose: a failure to listen names it)."""
        self.health = health
        self.slack = SlackRequestHandler(slack, path=EVENTS_PATH) if slack else None
        self.dashboard = dashboard
        _check_free(host, port, setting)
        self.server = create_server(
            self.wsgi,
            host=host,
            port=port,
            threads=THREADS,
            ident="digestbot",
            max_request_body_size=MAX_BODY,
            channel_timeout=IDLE_SECONDS,
            cleanup_interval=max(1, IDLE_SECONDS // 2),
            connection_limit=connection_limit(),
            expose_tracebacks=False,
        )
        self.thread = threading.Thread(target=self._serve, name="front-door", daemon=True)
        self._closed_under_loop = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def _serve(self) -> None:
        try:
            self.server.run()
        except OSError:
            # A stop that could not wake the loop closed its sockets under it: the loop's
            # select() then fails on them, which ends it as asked.
            if not self._closed_under_loop.is_set():
                raise

    def start(self) -> None:
        self.thread.start()
        log.info(
            "http listening port=%d slack=%s dashboard=%s",
            self.port,
            self.slack is not None,
            self.dashboard is not None,
        )

    def stop(self) -> None:
        # Closing waitress's sockets from its own loop thread (via its trigger) ends the loop
        # cleanly; closing them from here would race with it.
        try:
            self.server.trigger.pull_trigger(lambda: close_all(self.server._map))
        except OSError as error:  # its wake-up pipe is gone: the loop cannot be asked
            log.warning("http stop: the server loop cannot be woken (%s); closing here", error)
            self._closed_under_loop.set()
            close_all(self.server._map)
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == HEALTH_PATH:
            if method not in ("GET", "HEAD"):
                return _json(start_response, 405, {"error": "use GET"})
            alive, body = self.health()
            return _json(start_response, 200 if alive else 503, body)
        if path.startswith(SLACK_PREFIX) and path not in DASHBOARD_SLACK_PATHS:
            if self.slack is not None:
                return self._to_slack(environ, start_response)
        elif self.dashboard is not None:
            return self.dashboard(environ, start_response)
        return _json(start_response, 404, {"error": "not found"})

    def _to_slack(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Bolt's handler, for requests whose body is what it says it is."""
        assert self.slack is not None
        if environ.get("REQUEST_METHOD") == "POST":
            problem = _body_problem(environ)
            if problem is not None:
                status, reason = problem
                log.warning("request refused path=%s status=%d reason=%s", _path(environ), *problem)
                return _json(start_response, status, {"error": reason})
        try:
            return self.slack(environ, start_response)
        except Exception as error:  # a bug or a request Bolt chokes on: one line, no traceback
            log.error("request failed path=%s error=%s", _path(environ), type(error).__name__)
            return _json(start_response, 500, {"error": "internal error"})


def _body_problem(environ: dict[str, Any]) -> tuple[int, str] | None:
    """Why a POST body cannot be handed to Bolt (None: it can), after reading it whole (waitress
    has already refused one over MAX_BODY); the body is put back for Bolt to read."""
    length = environ.get("CONTENT_LENGTH") or ""
    if not length.isdigit():
        return 411, "a Content-Length is required"
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return 400, "the body is not UTF-8"
    kind = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            json.loads(text)
        else:
            for payload in parse_qs(text).get("payload", []):
                json.loads(payload)
    except ValueError:
        return 400, "the body's JSON is malformed"
    return None


def _path(environ: dict[str, Any]) -> str:
    return str(environ.get("PATH_INFO", ""))[:100]


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
