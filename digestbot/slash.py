"""The `/digest` slash command (slack-bolt): a way to start a run from Slack, beside the scheduler.

    /digest                 the digests, their topics, channels and next run (only you see it)
    /digest NAME            post that digest here now (a manual run in the ledger)
    /digest NAME preview    show it only to you; posts nothing

Bolt acknowledges within Slack's 3 seconds; the digest is built and posted after, and the answer
goes back through the response_url. Transports: HTTP (`POST /slack/events`, signatures checked,
beside `GET /healthz`) when PORT is set, or Socket Mode when SLACK_APP_TOKEN is set.

The answers are short Slack messages of their own (mrkdwn, escaped with compose's `escape`);
digests themselves come from compose and are posted by deliver, as for every other run.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from socketserver import ThreadingMixIn
from typing import Any, Protocol
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from digestbot.compose import escape
from digestbot.config import Config, DigestConfig, Settings
from digestbot.errors import ConfigError, DigestbotError
from digestbot.pipeline import Library, plan
from digestbot.runs import Outcome, Run, Sender

log = logging.getLogger(__name__)

USAGE = (
    "`/digest` lists the digests · `/digest NAME` posts one here now · "
    "`/digest NAME preview` shows it only to you"
)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
Answer = dict[str, Any]


class Host(Protocol):
    """What the command needs from the running bot (the worker provides it)."""

    config: Config
    sender: Sender | None

    def library(self) -> AbstractContextManager[Library]: ...

    def next_run(self, name: str) -> datetime | None: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...


def check_settings(settings: Settings) -> None:
    """Refuse to start with a transport whose secrets are missing, naming the variable."""
    wanted = settings.port is not None or settings.slack_app_token is not None
    if wanted and settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set: the /digest command needs the bot token")
    if settings.slack_app_token is not None:
        if not settings.slack_app_token.get_secret_value().startswith("xapp-"):
            raise ConfigError("SLACK_APP_TOKEN must be an app-level token (it starts with xapp-)")
    elif settings.port is not None and settings.slack_signing_secret is None:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: /digest over HTTP (PORT is set) needs the app's "
            "signing secret to verify requests"
        )


def create_app(host: Host, settings: Settings) -> App:
    """The Bolt app with the /digest command."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret
    # Bolt also reads SLACK_BOT_TOKEN itself and warns that the client's token wins: it is the
    # same token, so that warning only confuses whoever reads the log.
    logging.getLogger("slack_bolt.App").addFilter(_SAME_TOKEN)  # once: filters are a set
    try:
        app = App(
            client=WebClient(token=token, base_url=settings.slack_api_url),
            signing_secret=secret.get_secret_value() if secret else "",
            request_verification_enabled=secret is not None,
            process_before_response=False,
        )
    except BoltError as error:
        raise DigestbotError(f"the Slack app cannot start: {error}") from None

    @app.command("/digest")
    def digest(
        ack: Callable[..., None], command: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        ack()  # first: Slack gives up after 3 seconds; building and posting come after
        for answer in answers(host, command):
            respond(response_type="ephemeral", **answer)

    return app


class _SameToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_SAME_TOKEN = _SameToken()


def answers(host: Host, command: dict[str, Any]) -> list[Answer]:
    """What to tell the person who typed the command (never nothing)."""
    words = (command.get("text") or "").split()
    try:
        if not words or words[0] in ("list", "ls"):
            return [_list(host)]
        if words[0] in ("help", "-h", "--help"):
            return [{"text": USAGE}]
        digest = host.config.digests.get(words[0])
        if digest is None:
            known = ", ".join(f"`{name}`" for name in host.config.digests) or "none"
            unknown = f"There is no digest called `{escape(words[0])}`. Digests: {known}."
            return [{"text": f"{unknown}\n{USAGE}"}]
        if words[1:] == ["preview"]:
            return _preview(host, digest, command)
        if words[1:]:
            return [{"text": f"I did not understand `{escape(' '.join(words[1:]))}`.\n{USAGE}"}]
        return [_post(host, digest, command)]
    except DigestbotError as error:
        return [{"text": f"Sorry, that did not work: {escape(str(error))}"}]
    except Exception:
        log.exception("slash command failed text=%r", command.get("text"))
        return [{"text": "Sorry, something went wrong inside digestbot; the logs say more."}]


def _list(host: Host) -> Answer:
    lines = []
    for digest in host.config.digests.values():
        upcoming = host.next_run(digest.name)
        when = upcoming.strftime("%a %d %b %H:%M %Z") if upcoming else "by hand only"
        topics, channels = ", ".join(digest.topics), ", ".join(digest.channels)
        lines.append(
            f"• *{escape(digest.name)}* ({escape(digest.heading)}): {escape(topics)}"
            f" → {escape(channels)} · next: {when}"
        )
    if not lines:
        return {"text": "No digests are configured yet."}
    return {"text": "\n".join(["*Digests*", *lines, USAGE])}


def _here(command: dict[str, Any]) -> str:
    """The channel the command was typed in, as the ledger and chat.postMessage know it."""
    name = command.get("channel_name") or ""
    if name and name not in ("directmessage", "privategroup"):
        return f"#{name}"
    return str(command.get("channel_id"))


def _post(host: Host, digest: DigestConfig, command: dict[str, Any]) -> Answer:
    if not _allowed(host.config, command):
        return {"text": "You may not post digests with /digest here; /digest NAME preview works."}
    if host.sender is None:
        return {"text": "digestbot runs without a bot token, so it cannot post."}
    channel = _here(command)
    run = Run.manual(digest, datetime.now(host.config.digest_timezone(digest)))
    with host.library() as library:
        [outcome] = host.sender.send(run, library, channels=[channel])
    log.info(
        "slash post digest=%s channel=%s user=%s status=%r",
        digest.name,
        channel,
        command.get("user_id"),
        outcome.status,
    )
    return {"text": _say(outcome, digest)}


def _say(outcome: Outcome, digest: DigestConfig) -> str:
    name = f"*{escape(digest.name)}*"
    if outcome.status == "delivered":
        return f"Posted {name} here: {escape(outcome.detail)}"
    if outcome.status == "nothing new":
        topics = escape(", ".join(digest.topics))
        return f"Nothing new for {name} here: no article on {topics} that this channel has not had."
    return f"Could not post {name}: {escape(outcome.detail or outcome.status)}"


def _preview(host: Host, digest: DigestConfig, command: dict[str, Any]) -> list[Answer]:
    now = datetime.now(host.config.digest_timezone(digest))
    seen = host.sender.ledger.seen if host.sender else None
    with host.library() as library:
        [channel_plan] = plan(
            host.config, library, [digest], now, channels=[_here(command)], seen=seen
        )
    if not channel_plan.messages:
        topics = escape(", ".join(digest.topics))
        return [{"text": f"*{escape(digest.name)}* has nothing new to show here ({topics})."}]
    return [{"text": m.text, "blocks": m.blocks} for m in channel_plan.messages]


def _allowed(config: Config, command: dict[str, Any]) -> bool:
    users, channels = config.slash.allowed_users, config.slash.allowed_channels
    # User IDs only: user_name is deprecated and its owner can change it.
    user_ok = not users or command.get("user_id") in users
    here = {
        command.get("channel_id"),
        command.get("channel_name"),
        f"#{command.get('channel_name')}",
    }
    channel_ok = not channels or bool(here & set(channels))
    return user_ok and channel_ok


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http request line=%r", format % args)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class HttpServer:
    """POST /slack/events (Bolt) and GET /healthz, in a thread beside the scheduler."""

    def __init__(self, host: Host, app: App | None, port: int, address: str = "0.0.0.0") -> None:
        self.host = host
        self.events = SlackRequestHandler(app, path=EVENTS_PATH) if app else None
        self.server = make_server(
            address, port, self._wsgi, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()
        log.info("http listening port=%d events=%s", self.port, self.events is not None)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            alive, body = self.host.health()
            return _json(start_response, 200 if alive else 503, body)
        if path == EVENTS_PATH and self.events is not None:
            return self.events(environ, start_response)
        return _json(start_response, 404, {"error": "not found"})


def _json(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> Iterator[bytes]:
    data = json.dumps(body).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    yield data


class SocketMode:
    """Slash commands over Socket Mode: no public URL needed."""

    def __init__(self, app: App, settings: Settings) -> None:
        app_token = settings.slack_app_token.get_secret_value()  # type: ignore[union-attr]
        web = WebClient(base_url=settings.slack_api_url)
        self.handler = SocketModeHandler(app, app_token, web_client=web)

    def start(self) -> None:
        try:
            self.handler.connect()
        except SlackApiError as error:
            self.handler.close()
            code = error.response.get("error", "an error")
            raise ConfigError(f"Slack refused SLACK_APP_TOKEN for Socket Mode ({code})") from None
        except (OSError, ValueError) as error:
            self.handler.close()
            name = type(error).__name__
            raise DigestbotError(f"cannot connect to Slack for Socket Mode ({name})") from None
        log.info("socket mode connected")

    def stop(self) -> None:
        self.handler.close()


def health_body(config: Config, upcoming: list[tuple[str, datetime]]) -> dict[str, Any]:
    soonest = min(upcoming, key=lambda item: item[1], default=None)
    return {
        "status": "ok",
        "digests": len(config.digests),
        "next_run": soonest[1].astimezone(UTC).isoformat() if soonest else None,
        "next_digest": soonest[0] if soonest else None,
    }
