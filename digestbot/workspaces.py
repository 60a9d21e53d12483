"""One digestbot for many workspaces: which workspace each digest posts to, and a sender for
each workspace with its own token, Slack client and pace (a 429 in one never slows another).

`Settings.many_workspaces` tells the modes apart: `SLACK_BOT_TOKEN` is one workspace (as
ever); `SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET` and `SLACK_SIGNING_SECRET` without it install the
app in any number of workspaces (Bolt's OAuth flow on the front door: `install`). A token Slack
calls invalid, revoked or inactive marks its workspace as needing a reinstall, and the others go
on; uninstalling the app stops that workspace's digests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from digestbot.clock import SYSTEM, Clock
from digestbot.config import Config, DigestConfig, Settings
from digestbot.deliver import Slack
from digestbot.errors import ConfigError, DeliveryError
from digestbot.installations import Installations, Installed, team_of
from digestbot.ledger import Ledger
from digestbot.sender import Sender

log = logging.getLogger(__name__)


class Workspaces:
    """The workspaces the app is installed in, and a sender for each."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        config: Callable[[], Config],
        *,
        clock: Clock = SYSTEM,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.config = config  # read at each run: config edits apply
        self.clock = clock
        self.stop = stop or threading.Event()
        self.installations = Installations(settings, ledger, clock=clock, stop=self.stop)
        self._senders: dict[str, tuple[str, Sender]] = {}  # team -> (its token, its sender)
        self._lock = threading.Lock()

    def team_for(self, digest: DigestConfig) -> str:
        """The workspace a digest posts to: its `workspace`, else the only one installed."""
        if digest.workspace:
            return digest.workspace
        teams = self.installations.teams()
        if len(teams) == 1:
            return teams[0]
        if not teams:
            raise DeliveryError(f"{digest.name}: the app is not installed in any workspace yet")
        raise ConfigError(
            f"digests.{digest.name}.workspace: the app is installed in {len(teams)} workspaces "
            f"({', '.join(teams)}): say which one this digest posts to"
        )

    def sender(self, team: str) -> Sender:
        """A sender with the workspace's current token (refreshed first when it expires soon)."""
        bot = self.installations.usable(team)
        with self._lock:
            cached = self._senders.get(team)
            if cached and cached[0] == bot.bot_token:
                cached[1].config = self.config()
                return cached[1]
        slack = Slack(
            bot.bot_token,
            self.settings.slack_api_url,
            stop=self.stop,
            clock=self.clock,
            on_revoked=lambda code: self.needs_reinstall(team, code),
        )
        ledger = self.ledger.scoped(team)
        sender = Sender(self.config(), ledger, slack, stop=self.stop, clock=self.clock)
        sender.connect()
        with self._lock:
            self._senders[team] = (bot.bot_token, sender)
        return sender

    def senders(self) -> list[Sender]:
        """A sender for every workspace that can be sent to (sweeps go through them all)."""
        found = []
        for bot in self.installations.bots():
            try:
                found.append(self.sender(team_of(bot)))
            except DeliveryError as error:
                log.warning("workspace skipped team=%s reason=%r", team_of(bot), str(error))
        return found

    def needs_reinstall(self, team: str, reason: str) -> None:
        """Slack refused the workspace's token: its digests stop until the app is reinstalled."""
        log.warning("workspace needs reinstall team=%s reason=%s", team, reason)
        self.installations.refused(team, reason)
        self._drop(team)

    def uninstalled(self, team: str, event_time: float) -> bool:
        """app_uninstalled or tokens_revoked: forget the workspace, unless it was installed
        again after the event (events can arrive late). True when forgotten."""
        bot = self.installations.find(team)
        if bot is not None and bot.installed_at > event_time:
            log.info("uninstall event older than the installation ignored team=%s", team)
            return False
        self.installations.forget(team)
        self._drop(team)
        log.info("workspace uninstalled team=%s", team)
        return True

    def installed(self) -> list[Installed]:
        return self.installations.listed()

    def _drop(self, team: str) -> None:
        with self._lock:
            self._senders.pop(team, None)
