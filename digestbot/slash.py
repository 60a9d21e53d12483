"""The `/digest` slash command (slack-bolt): a way to start a run from Slack, beside the scheduler.

    /digest                 the digests, their topics, channels and next run (only you see it)
    /digest NAME            post that digest here now (a manual run in the ledger)
    /digest NAME preview    show it only to you; posts nothing

Bolt acknowledges within Slack's 3 seconds; the digest is built and posted after, and the answer
goes back through the response_url. Transports: HTTP (`POST /slack/events` on the front door,
signatures checked) when PORT is set, or Socket Mode when SLACK_APP_TOKEN is set.

The answers are short Slack messages of their own (mrkdwn, escaped with compose's `escape`);
digests themselves come from compose and are posted by deliver, as for every other run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.error import BoltError
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from digestbot import status
from digestbot.compose import escape, shorten
from digestbot.config import Config, DigestConfig, Settings
from digestbot.config.settings import stand_in_origin
from digestbot.errors import ConfigError, DigestbotError
from digestbot.runs import Outcome, Run, Status
from digestbot.service import DigestService

log = logging.getLogger(__name__)

USAGE = (
    "`/digest` lists the digests · `/digest NAME` posts one here now · "
    "`/digest NAME preview` shows it only to you"
)
SLACK_HOOKS = "hooks.slack.com"
CLIENT_VARIABLES = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
ECHO_MAX = 80  # characters of what someone typed that an answer quotes back
Answer = dict[str, Any]


def create_app(
    service: DigestService,
    *,
    oauth: OAuthSettings | None = None,
    authorize: Authorize | None = None,
) -> App:
    """The Bolt app with the /digest command: with the bot token, or, given `oauth` and
    `authorize`, for every workspace that installs it."""
    settings = service.settings
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret
    # Bolt also reads SLACK_BOT_TOKEN itself and warns that the client's token wins: it is the
    # same token, so that warning only confuses whoever reads the log.
    logging.getLogger("slack_bolt.App").addFilter(_SAME_TOKEN)  # once: filters are a set
    try:
        # Bolt turns its OAuth flow on by itself, with files under $HOME, when it sees
        # SLACK_CLIENT_ID and SLACK_CLIENT_SECRET; with one token they are the dashboard's.
        with _hidden(() if oauth else CLIENT_VARIABLES):
            app = App(
                client=WebClient(token=token, base_url=settings.slack_api_url),
                signing_secret=secret.get_secret_value() if secret else "",
                request_verification_enabled=secret is not None,
                process_before_response=False,
                oauth_settings=oauth,
                authorize=authorize,
                # Bolt's loggers copy the root's level unless given a base: this one's
                # (WARNING unless debugging) keeps a request's details out of the log.
                logger=logging.getLogger("slack_bolt"),
            )
    except BoltError as error:
        raise DigestbotError(f"the Slack app cannot start: {error}") from None

    @app.command("/digest")
    def digest(
        ack: Callable[..., None], command: dict[str, Any], respond: Callable[..., Any]
    ) -> None:
        ack()  # first: Slack gives up after 3 seconds; building and posting come after
        where = str(command.get("response_url") or "")
        if not replies_go_to_slack(where, settings.slack_api_url):
            host = urlsplit(where).netloc[:100]
            log.warning("slash command ignored: its response_url is not Slack's host=%s", host)
            return
        for answer in answers(service, command):
            respond(response_type="ephemeral", **answer)

    return app


@contextmanager
def _hidden(names: Iterable[str]) -> Iterator[None]:
    """The environment without these variables, for as long as the block runs."""
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


class _SameToken(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


_SAME_TOKEN = _SameToken()


def replies_go_to_slack(response_url: str, api_url: str) -> bool:
    """Whether a command's answers would go to Slack (hooks.slack.com over https, or the
    host of SLACK_API_URL when it points elsewhere, as in tests), not to a stranger."""
    try:
        target = urlsplit(response_url)
        stand_in = stand_in_origin(api_url)
    except ValueError:
        return False
    origin = f"{target.scheme}://{target.netloc}"
    return origin == f"https://{SLACK_HOOKS}" or origin == stand_in


def answers(service: DigestService, command: dict[str, Any]) -> list[Answer]:
    """What to tell the person who typed the command (never nothing)."""
    words = (command.get("text") or "").split()
    try:
        if not words or words[0] in ("list", "ls"):
            return [_list(service)]
        if words[0] in ("help", "-h", "--help"):
            return [{"text": USAGE}]
        digest = service.config.digests.get(words[0])
        if digest is None:
            known = ", ".join(f"`{name}`" for name in service.config.digests) or "none"
            unknown = f"There is no digest called `{_echo(words[0])}`. Digests: {known}."
            return [{"text": f"{unknown}\n{USAGE}"}]
        if words[1:] == ["preview"]:
            return _preview(service, digest, command)
        if words[1:]:
            return [{"text": f"I did not understand `{_echo(' '.join(words[1:]))}`.\n{USAGE}"}]
        return [_post(service, digest, command)]
    except DigestbotError as error:
        return [{"text": f"Sorry, that did not work: {escape(str(error))}"}]
    except Exception:
        log.exception("slash command failed text=%r", command.get("text"))
        return [{"text": "Sorry, something went wrong inside digestbot; the logs say more."}]


def _echo(text: str) -> str:
    """What someone typed, quoted back: escaped, and short whatever they sent."""
    return escape(shorten(text, ECHO_MAX))


def _list(service: DigestService) -> Answer:
    lines = []
    for digest in service.config.digests.values():
        upcoming = status.next_runs(service.config, digest, service.now(digest), 1)
        when = upcoming[0].strftime("%a %d %b %H:%M %Z") if upcoming else "by hand only"
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


def _post(service: DigestService, digest: DigestConfig, command: dict[str, Any]) -> Answer:
    if not _allowed(service.config, command):
        return {"text": "You may not post digests with /digest here; /digest NAME preview works."}
    if not service.can_post:
        return {"text": "digestbot runs without a bot token, so it cannot post."}
    channel = _here(command)
    run = Run.manual(digest, service.now(digest))
    team = command.get("team_id")  # with many workspaces, the one it was typed in
    [outcome] = service.deliver([run], channels=[channel], recover=False, team=team).outcomes
    log.info(
        "slash post digest=%s channel=%s user=%s status=%r",
        digest.name,
        channel,
        command.get("user_id"),
        str(outcome.status),
    )
    return {"text": _say(outcome, digest)}


def _say(outcome: Outcome, digest: DigestConfig) -> str:
    name = f"*{escape(digest.name)}*"
    if outcome.status is Status.DELIVERED:
        return f"Posted {name} here: {escape(outcome.detail)}"
    if outcome.status is Status.NOTHING_NEW:
        topics = escape(", ".join(digest.topics))
        return f"Nothing new for {name} here: no article on {topics} that this channel has not had."
    return f"Could not post {name}: {escape(outcome.detail or outcome.status)}"


def _preview(service: DigestService, digest: DigestConfig, command: dict[str, Any]) -> list[Answer]:
    now, here, team = service.now(digest), [_here(command)], command.get("team_id")
    preview = service.preview([digest], now, channels=here, team=team)
    [channel_plan] = preview.plans
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
