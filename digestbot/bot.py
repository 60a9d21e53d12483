"""The composition root: builds the running bot from `Settings` and `Config`, and stops it.

`open_service` wires what a run needs (the ledger, the Slack connection, the sender) for the
CLI's one-shot commands; `build` adds what `digestbot run` keeps running: the scheduler, the
HTTP front door and Socket Mode. Nothing else constructs these parts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from digestbot.clock import SYSTEM, Clock
from digestbot.config import Config, Settings, load_config
from digestbot.errors import DigestbotError
from digestbot.index import Progress
from digestbot.service import DigestService
from digestbot.sources.registry import ProgressFor

# SQLAlchemy, slack-sdk, Bolt and APScheduler take most of a second to import, and a preview
# needs none of them: the parts that use them are imported where they are built.
if TYPE_CHECKING:
    from slack_bolt import App

    from digestbot.frontdoor import Health
    from digestbot.ledger import Ledger
    from digestbot.scheduler import Printer, Scheduler
    from digestbot.sender import Sender
    from digestbot.web.app import Dashboard
    from digestbot.web.auth import SlackSignIn, TokenLogin
    from digestbot.workspaces import Workspaces

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0  # how often `run` looks for an edited config
LOCALHOST = "127.0.0.1"  # `digestbot dashboard` is for the person at this machine only


def open_service(
    settings: Settings,
    config: Config,
    *,
    post: bool = False,
    record: bool = False,
    clock: Clock = SYSTEM,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    copying: ProgressFor | None = None,
) -> DigestService:
    """The parts a run needs. `post`: connect to Slack (the token is checked and the channels'
    IDs learned; with many workspaces, each when first sent to); `record`: open the ledger,
    creating it. Neither: read the ledger if there is one (what each channel already had),
    creating nothing."""
    many = settings.many_workspaces()
    if not (post or record):
        ledger = _existing_ledger(settings, clock)
        service = DigestService(
            settings, config, clock=clock, ledger=ledger, progress=progress, copying=copying
        )
        if many and ledger is not None:
            service.workspaces = _workspaces(service, stop)
        return service
    token = settings.slack_bot_token
    if post and token is None and not many:
        raise DigestbotError(
            "SLACK_BOT_TOKEN is not set: digestbot needs the app's bot token to post "
            "(`digestbot send --dry-run` shows what it would post)"
        )
    from digestbot.ledger import Ledger

    ledger = Ledger(settings.database_url, clock=clock)
    service = DigestService(
        settings, config, clock=clock, ledger=ledger, progress=progress, copying=copying
    )
    try:
        if many:
            service.workspaces = _workspaces(service, stop)
        elif token is not None and post:
            service.sender = _connect(token.get_secret_value(), service, stop)
    except BaseException:
        service.close()
        raise
    return service


def _existing_ledger(settings: Settings, clock: Clock) -> Ledger | None:
    sqlite_file = settings.sqlite_file
    if sqlite_file is not None and not sqlite_file.is_file():
        return None  # decided without importing SQLAlchemy: a preview stays fast
    from digestbot.ledger import Ledger

    return Ledger.existing(settings.database_url, clock=clock)


def _connect(token: str, service: DigestService, stop: threading.Event | None) -> Sender:
    """A sender on a checked Slack connection that knows the configured channels' IDs."""
    from digestbot.deliver import Slack
    from digestbot.sender import Sender

    clock, ledger = service.clock, service.ledger
    slack = Slack(token, service.settings.slack_api_url, stop=stop, clock=clock)
    sender = Sender(service.config, ledger, slack, stop=stop, clock=clock)  # type: ignore[arg-type]
    sender.connect()
    return sender


def _workspaces(service: DigestService, stop: threading.Event | None) -> Workspaces:
    """The app's installations, each workspace sent to with its own token."""
    from digestbot.workspaces import Workspaces

    assert service.ledger is not None
    config = lambda: service.config  # noqa: E731 -- read at each run: edits apply
    return Workspaces(service.settings, service.ledger, config, clock=service.clock, stop=stop)


def slack_app(service: DigestService) -> App:
    """The Bolt app: /digest, and with many workspaces "Add to Slack" and their uninstalls."""
    from digestbot import slash

    workspaces = service.workspaces
    if workspaces is None:
        return slash.create_app(service)
    from digestbot import install

    app = slash.create_app(
        service,
        oauth=install.oauth_settings(service.settings, workspaces),
        authorize=install.WorkspaceAuthorize(workspaces),
    )
    install.listen_for_uninstalls(app, workspaces)
    return app


class Bot:
    """`digestbot run`: the scheduler, and /digest and /healthz when configured."""

    def __init__(self, service: DigestService, scheduler: Scheduler, stop: threading.Event):
        self.service = service
        self.scheduler = scheduler
        self.stop = stop
        self._transports: list[Any] = []

    def start(self) -> None:
        """Schedule every digest, deliver runs missed while down, open the transports."""
        self.scheduler.start()
        settings = self.service.settings
        app = slack_app(self.service) if settings.slack_app_token or settings.port else None
        if settings.slack_app_token and app is not None:
            from digestbot import slash

            self._transports.append(slash.SocketMode(app, settings))
            if self.service.workspaces is None:
                app = None  # Socket Mode instead of the HTTP endpoint (but for installs)
        if settings.port:
            from digestbot.frontdoor import FrontDoor

            door = FrontDoor(
                settings.port, self.health, app, dashboard=dashboard(self.service, self.health)
            )
            self._transports.append(door)
        for transport in self._transports:
            transport.start()

    def serve(self) -> None:
        """Run until `stop` is set (SIGTERM, SIGINT), applying config edits as they come."""
        try:
            while not self.service.clock.wait(self.stop, POLL_SECONDS):
                self.scheduler.reload_if_changed()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.stop.set()
        for transport in self._transports:
            transport.stop()
        self._transports.clear()
        self.scheduler.shutdown()
        self.service.close()
        log.info("stopped")

    def health(self) -> tuple[bool, dict[str, Any]]:
        """For /healthz: alive while the scheduler runs, with digests loaded and the next run."""
        from digestbot import status

        alive = self.scheduler.running and not self.stop.is_set()
        return alive, status.health(self.service.config, self.service.clock.now())


def dashboard(
    service: DigestService, health: Health | None, one_time: TokenLogin | None = None
) -> Dashboard | None:
    """The dashboard, when a way to log in is configured (never open by default): the one-time
    token of `digestbot dashboard`, else DIGESTBOT_DASHBOARD_TOKEN and Sign in with Slack."""
    from digestbot.web.app import Dashboard, Logins
    from digestbot.web.auth import TokenLogin
    from digestbot.web.session import Signer

    if one_time is not None:
        return Dashboard(service, Logins(token=one_time), Signer(os.urandom(32), service.clock))
    settings = service.settings
    token = settings.dashboard_token
    logins = Logins(
        token=TokenLogin(token.get_secret_value()) if token else None,
        slack=_slack_sign_in(service),
    )
    if logins.token is None and logins.slack is None:
        log.info(
            "dashboard off: set DIGESTBOT_DASHBOARD_TOKEN, or SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET for Sign in with Slack"
        )
        return None
    material = "\n".join(settings.secrets()).encode()
    key = hmac.new(material, b"digestbot dashboard sessions", hashlib.sha256).digest()
    return Dashboard(service, logins, Signer(key, service.clock), health)


def _slack_sign_in(service: DigestService) -> SlackSignIn | None:
    from digestbot.web.auth import SlackSignIn

    settings = service.settings
    client_id, secret = settings.slack_client_id, settings.slack_client_secret
    if client_id is None and secret is None:
        return None
    if client_id is None or secret is None:
        missing = "SLACK_CLIENT_ID" if client_id is None else "SLACK_CLIENT_SECRET"
        log.warning("dashboard sign in with Slack off: %s is not set", missing)
        return None
    return SlackSignIn(
        client_id,
        secret.get_secret_value(),
        settings.slack_api_url,
        lambda: _teams(service),
        lambda: service.config.dashboard.allowed_users,
    )


def _teams(service: DigestService) -> set[str]:
    """The workspaces whose members may sign in: the bot token's, or every one installed."""
    if service.workspaces is not None:
        return set(service.workspaces.installations.teams())
    workspace = service.sender.workspace if service.sender else None
    return {workspace.team_id} if workspace and workspace.team_id else set()


class LocalDashboard:
    """`digestbot dashboard`: the dashboard alone, on 127.0.0.1, behind a one-time token."""

    def __init__(self, settings: Settings, port: int, clock: Clock = SYSTEM) -> None:
        from digestbot.frontdoor import FrontDoor
        from digestbot.web.auth import TokenLogin

        config = load_config(settings.config_path)
        self.stop = threading.Event()
        post = settings.slack_bot_token is not None or settings.many_workspaces()
        self.service = open_service(settings, config, post=post, clock=clock, stop=self.stop)
        self.login = TokenLogin.one_time()
        pages = dashboard(self.service, None, self.login)
        self.door = FrontDoor(
            port, self.health, None, dashboard=pages, host=LOCALHOST, setting="--port"
        )

    @property
    def url(self) -> str:
        """The address to open: it logs in once with the one-time token."""
        return f"http://{LOCALHOST}:{self.door.port}/login?token={self.login.token}"

    def health(self) -> tuple[bool, dict[str, Any]]:
        from digestbot import status

        return True, status.health(self.service.config, self.service.clock.now())

    def serve(self) -> None:
        """Until `stop` is set (SIGTERM, Ctrl-C); the door must be started."""
        try:
            self.stop.wait()
        finally:
            self.door.stop()
            self.service.close()


def build(settings: Settings, printer: Printer, *, clock: Clock = SYSTEM) -> Bot:
    """The bot `digestbot run` starts: without a token, a dry run that prints each digest."""
    from digestbot.scheduler import Scheduler

    settings.check_transports()
    if settings.many_workspaces() and settings.port is None:
        log.warning("PORT is not set: no Add to Slack page here; runs post to installed workspaces")
    config = load_config(settings.config_path)
    stop = threading.Event()
    post = settings.slack_bot_token is not None or settings.many_workspaces()
    service = open_service(settings, config, post=post, clock=clock, stop=stop)
    return Bot(service, Scheduler(service, settings.config_path, printer), stop)
