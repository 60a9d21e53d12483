"""The app's installations, in the ledger's database: each workspace's bot (slack-sdk's
SQLAlchemy store, whose tables `store` creates with the ledger's), its standing, and its token
kept fresh.

A rotating token is refreshed before it expires by one process at a time: a lease row in
`workspace_states` (a refresh token works once, so two replicas must never both use it). A
workspace whose token Slack refused needs the app reinstalled; installing it again clears that.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import Connection, select, update

from digestbot.clock import SYSTEM, Clock
from digestbot.config import Settings
from digestbot.errors import DeliveryError
from digestbot.ledger import Ledger
from digestbot.owners import new_owner, release
from digestbot.store import insert_ignore, workspace_states

log = logging.getLogger(__name__)

ROTATE_BEFORE = 10  # minutes before a token expires that it is refreshed
LEASE_SECONDS = 60.0  # how long one process may hold a workspace's rotation
LEASE_WAIT = 0.2  # seconds between looks at a lease someone else holds


@dataclass(frozen=True)
class Installed:
    """One workspace the app is installed in, as `digestbot workspaces` lists it."""

    team: str
    name: str
    bot_user: str
    installed_at: datetime
    scopes: str
    token: str  # its state in words: valid, expiring at, needs a reinstall


@dataclass(frozen=True)
class Standing:
    """Why Slack refused a workspace's token, and when (None: it did not)."""

    refused: str | None
    at: float

    def holds_for(self, bot: Bot) -> bool:
        """Whether the refusal still stands: the app was not installed again since."""
        return self.refused is not None and self.at >= bot.installed_at


def team_of(bot: Bot) -> str:
    """A workspace's ID, or an Enterprise Grid org's for an org-wide install."""
    return bot.team_id or bot.enterprise_id or ""


class Installations:
    """Each workspace's bot and token, read from and kept in the ledger's database."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        *,
        clock: Clock = SYSTEM,
        stop: threading.Event | None = None,
    ) -> None:
        client_id = settings.slack_client_id or ""
        secret = settings.slack_client_secret
        self.ledger = ledger
        self.clock = clock
        self.stop = stop or threading.Event()
        self.store = SQLAlchemyInstallationStore(client_id, ledger.engine)
        self._rotator = TokenRotator(
            client_id=client_id,
            client_secret=secret.get_secret_value() if secret else "",
            client=WebClient(base_url=settings.slack_api_url),
        )

    def bots(self) -> list[Bot]:
        """The newest bot of each workspace the app is installed in."""
        found = (self.store.find_bot(enterprise_id=e, team_id=t) for t, e in self._installs())
        return [bot for bot in found if bot is not None]

    def teams(self) -> list[str]:
        """The workspaces (or Grid orgs) the app is installed in, without reading their bots."""
        return sorted({team or enterprise or "" for team, enterprise in self._installs()})

    def _installs(self) -> list[tuple[str | None, str | None]]:
        columns = self.store.bots.c
        with self.ledger.reads.connect() as db:
            rows = db.execute(
                select(columns.team_id, columns.enterprise_id)
                .where(columns.client_id == self.store.client_id)
                .distinct()
            ).all()
        return [(team, enterprise) for team, enterprise in rows]

    def find(self, team: str) -> Bot | None:
        if team.startswith("E"):  # an org-wide install is known by its enterprise
            return self.store.find_bot(enterprise_id=team, team_id=None, is_enterprise_install=True)
        return self.store.find_bot(enterprise_id=None, team_id=team)

    def usable(self, team: str) -> Bot:
        """The workspace's bot, its token refreshed first when it expires soon."""
        bot = self._usable(team)
        if not _expiring(bot):
            return bot
        owner = new_owner()
        try:
            self._lease(team, owner)
            bot = self._usable(team)  # another process may have refreshed it meanwhile
            if _expiring(bot):
                bot = self._rotate(team, bot)
        finally:
            self._unlease(team, owner)
            release(owner)
        return bot

    def refused(self, team: str, reason: str) -> None:
        """Slack refused the workspace's token: it needs the app reinstalled."""
        with self.ledger.engine.begin() as db:
            self._ensure_state(db, team)
            db.execute(
                update(workspace_states)
                .where(workspace_states.c.team_id == team)
                .values(needs_reinstall=reason, updated_at=time.time())  # as installed_at
            )

    def forget(self, team: str) -> None:
        enterprise, team_id = (team, None) if team.startswith("E") else (None, team)
        self.store.delete_bot(enterprise_id=enterprise, team_id=team_id)
        self.store.delete_installation(enterprise_id=enterprise, team_id=team_id)

    def listed(self) -> list[Installed]:
        standings = self._standings()
        return [
            Installed(
                team=team_of(bot),
                name=bot.team_name or bot.enterprise_name or "",
                bot_user=bot.bot_user_id,
                installed_at=datetime.fromtimestamp(bot.installed_at, UTC),
                scopes=",".join(bot.bot_scopes),
                token=_token_state(bot, standings.get(team_of(bot))),
            )
            for bot in self.bots()
        ]

    def _usable(self, team: str) -> Bot:
        bot = self.find(team)
        if bot is None:
            raise DeliveryError(f"the app is not installed in workspace {team}: install it")
        standing = self._standing(team)
        if standing is not None and standing.holds_for(bot):
            raise DeliveryError(f"workspace {team} needs the app reinstalled ({standing.refused})")
        return bot

    def _rotate(self, team: str, bot: Bot) -> Bot:
        try:
            fresh = self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_BEFORE
            )
        except SlackApiError as error:
            self.refused(team, str(error.response.get("error")))
            raise DeliveryError(f"workspace {team}: its token could not be refreshed") from None
        if fresh is None:
            return bot
        self.store.save_bot(fresh)
        log.info("token rotated team=%s", team)
        return fresh

    def _lease(self, team: str, owner: str) -> None:
        """Hold the workspace's rotation lease, waiting for whoever holds it."""
        while True:
            now = self.clock.time()
            with self.ledger.engine.begin() as db:
                self._ensure_state(db, team)
                taken = db.execute(
                    update(workspace_states)
                    .where(
                        workspace_states.c.team_id == team,
                        (workspace_states.c.rotating_until.is_(None))
                        | (workspace_states.c.rotating_until < now),
                    )
                    .values(rotating_by=owner, rotating_until=now + LEASE_SECONDS)
                ).rowcount
            if taken == 1:
                return
            # Another replica is refreshing: its token will do once it is done.
            if self.clock.wait(self.stop, LEASE_WAIT):
                raise DeliveryError(f"workspace {team}: stopped while its token was refreshed")

    def _unlease(self, team: str, owner: str) -> None:
        with self.ledger.engine.begin() as db:
            db.execute(
                update(workspace_states)
                .where(workspace_states.c.team_id == team, workspace_states.c.rotating_by == owner)
                .values(rotating_by=None, rotating_until=None)
            )

    def _ensure_state(self, db: Connection, team: str) -> None:
        db.execute(insert_ignore(self.ledger.engine, workspace_states).values(team_id=team))

    def _standings(self, team: str | None = None) -> dict[str, Standing]:
        """Each workspace's standing (or only `team`'s)."""
        columns = workspace_states.c
        query = select(columns.team_id, columns.needs_reinstall, columns.updated_at)
        if team is not None:
            query = query.where(columns.team_id == team)
        with self.ledger.reads.connect() as db:
            rows = db.execute(query).all()
        return {found: Standing(reason, at or 0.0) for found, reason, at in rows}

    def _standing(self, team: str) -> Standing | None:
        return self._standings(team).get(team)


def _expiring(bot: Bot) -> bool:
    # By the system clock, as slack-sdk dates the tokens it stores and refreshes.
    expires = bot.bot_token_expires_at
    soon = time.time() + ROTATE_BEFORE * 60
    return bool(bot.bot_refresh_token) and expires is not None and expires < soon


def _token_state(bot: Bot, standing: Standing | None) -> str:
    if standing is not None and standing.holds_for(bot):
        return f"needs reinstall ({standing.refused})"
    if bot.bot_token_expires_at:
        when = datetime.fromtimestamp(bot.bot_token_expires_at, UTC).isoformat(timespec="minutes")
        return f"valid, rotating (expires {when})"
    return "valid"
