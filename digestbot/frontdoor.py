"""The HTTP front door of `digestbot run` (when PORT is set): one WSGI app, served by waitress.

Routes: `GET /healthz` (the bot's health) and every `/slack/*` path to Bolt's WSGI handler
(`POST /slack/events` for the /digest command; Bolt's OAuth paths live there too). waitress is
a production server in pure Python: a thread for its loop and a small pool of workers, which
run beside the scheduler in the same process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server
from waitress.wasyncore import close_all

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
SLACK_PREFIX = "/slack/"
EVENTS_PATH = "/slack/events"
THREADS = 8

Health = Callable[[], tuple[bool, dict[str, Any]]]
StartResponse = Callable[..., Any]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class FrontDoor:
    """The WSGI app and its waitress server, in a thread of its own."""

    def __init__(
        self, port: int, health: Health, slack: App | None, *, host: str = "0.0.0.0"
    ) -> None:
        self.health = health
        self.slack = SlackRequestHandler(slack, path=EVENTS_PATH) if slack else None
        self.server = create_server(
            self.wsgi, host=host, port=port, threads=THREADS, ident="digestbot"
        )
        self.thread = threading.Thread(target=self.server.run, name="front-door", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def start(self) -> None:
        self.thread.start()
        log.info("http listening port=%d slack=%s", self.port, self.slack is not None)

    def stop(self) -> None:
        # Closing waitress's sockets from its own loop thread (via its trigger) ends the loop
        # cleanly; closing them from here would race with it.
        self.server.trigger.pull_trigger(lambda: close_all(self.server._map))
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == HEALTH_PATH:
            if method not in ("GET", "HEAD"):
                return _json(start_response, 405, {"error": "use GET"})
            alive, body = self.health()
            return _json(start_response, 200 if alive else 503, body)
        if path.startswith(SLACK_PREFIX) and self.slack is not None:
            return self.slack(environ, start_response)
        return _json(start_response, 404, {"error": "not found"})


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]
