"""What every way of starting a run asks of the bot: the live config, the articles, plans and
deliveries.

The scheduler, the /digest command and the CLI receive one `DigestService` from the
composition root (`bot`); none of them builds a ledger, a Slack client or an article index.
Without a sender (no bot token) the service can only plan, which is what previews and dry runs
need.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from digestbot.clock import SYSTEM, Clock
from digestbot.config import Config, DigestConfig, Settings, timezone
from digestbot.errors import DigestbotError
from digestbot.index import ArticleIndex, Progress, Skipped
from digestbot.pipeline import ChannelPlan, Decay, Library, SeenLookup, plan
from digestbot.sources.base import Copy
from digestbot.sources.registry import ProgressFor, Refreshed, Sources

if TYPE_CHECKING:  # SQLAlchemy and slack-sdk are slow to import; a preview may need neither
    from digestbot.ledger import Ledger
    from digestbot.runs import Outcome, Run
    from digestbot.sender import Sender
    from digestbot.workspaces import Workspaces

CANNOT_POST = "SLACK_BOT_TOKEN is not set: digestbot cannot post"


@dataclass(frozen=True)
class Preview:
    """What the digests would post now, and the files that could not be read on the way."""

    plans: list[ChannelPlan]
    skipped: list[Skipped]
    failed_sources: list[Refreshed]


@dataclass(frozen=True)
class Verified:
    """One source's copy read completely: its files, and those that are not articles."""

    source: str
    copy: Copy | None  # None: no copy yet (never refreshed)
    files: int
    skipped: list[Skipped]


@dataclass(frozen=True)
class Delivery:
    """What runs delivered, per channel, and the files that could not be read on the way."""

    outcomes: list[Outcome]
    skipped: list[Skipped]
    failed_sources: list[Refreshed]


class DigestService:
    """The config, the articles, the ledger and the sender of one running bot."""

    def __init__(
        self,
        settings: Settings,
        config: Config,
        *,
        clock: Clock = SYSTEM,
        ledger: Ledger | None = None,
        sender: Sender | None = None,
        progress: Progress | None = None,
        copying: ProgressFor | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.ledger = ledger
        self.sender = sender  # one workspace (SLACK_BOT_TOKEN)
        self.workspaces: Workspaces | None = None  # many: a sender for each
        self._config = config
        self._progress = progress
        self.copying = copying
        self.sources = Sources(config.all_sources, settings.cache_dir, clock=clock)

    @property
    def config(self) -> Config:
        return self._config

    def replace_config(self, config: Config) -> None:
        """Use an edited config from the next run on."""
        self._config = config
        self.sources = Sources(config.all_sources, self.settings.cache_dir, clock=self.clock)
        if self.sender is not None:
            self.sender.config = config

    @property
    def can_post(self) -> bool:
        return self.sender is not None or self.workspaces is not None

    def sender_for(self, digest: DigestConfig, team: str | None = None) -> Sender:
        """Who posts the digest: the one sender, or its workspace's (`team`: another one,
        where /digest was typed)."""
        if self.workspaces is not None:
            return self.workspaces.sender(team or self.workspaces.team_for(digest))
        if self.sender is None:
            raise DigestbotError(CANNOT_POST)
        return self.sender

    def ledger_for(self, digest: DigestConfig, team: str | None = None) -> Ledger | None:
        """The ledger, speaking of the channels of the digest's workspace (or `team`'s)."""
        if self.ledger is None or self.workspaces is None:
            return self.ledger
        try:
            return self.ledger.scoped(team or self.workspaces.team_for(digest))
        except DigestbotError:
            return None  # not installed anywhere yet: nothing was delivered

    def now(self, digest: DigestConfig | None = None) -> datetime:
        """The current time in the digest's timezone (or the config's)."""
        zone = self.config.digest_timezone(digest) if digest else timezone(self.config.timezone)
        return self.clock.now().astimezone(zone)

    @contextmanager
    def library(
        self, digests: Iterable[DigestConfig] | None = None, *, refresh: bool = True
    ) -> Iterator[Library]:
        """The articles of the digests' sources (all when none is given) for one run, each
        source refreshed first when its copy is stale (unless `refresh` is False)."""
        config = self.config
        names = (
            list(config.all_sources)
            if digests is None
            else [name for digest in digests for name in config.digest_sources(digest)]
        )
        reading = self.sources.copies(names, refresh=refresh, progress=self.copying)
        decays = {
            name: Decay(source.weight, source.half_life)
            for name, source in config.all_sources.items()
            if source.kind == "feed"
        }
        with ExitStack() as stack:
            indexes = [
                stack.enter_context(self._index(name, copy))
                for name, copy in reading.copies.items()
            ]
            library = Library(indexes, self._progress, decays)
            library.failed_sources = reading.failed
            yield library

    def verify(self, reading: Progress | None = None) -> list[Verified]:
        """Every article file of every source's copy read completely (what `check` does)."""
        copies = self.sources.copies(self.config.all_sources, refresh=False).copies
        verified = []
        for name in self.config.all_sources:
            copy = copies.get(name)
            if copy is None:
                verified.append(Verified(name, None, 0, []))
                continue
            with self._index(name, copy) as index:
                files = index.refresh(self._progress).files
                verified.append(Verified(name, copy, files, index.verify(reading)))
        return verified

    def _index(self, name: str, copy: Copy) -> ArticleIndex:
        # A source's copies move from snapshot to snapshot: its index is named for the source.
        folder_source = self.config.all_sources[name].kind == "folder"
        key = None if folder_source else str(self.sources.home(name))
        limit = self.config.max_front_matter
        return ArticleIndex(copy.folder, self.settings.cache_dir, source=name, key=key, limit=limit)

    def seen(
        self, digest: DigestConfig, force: bool = False, team: str | None = None
    ) -> SeenLookup | None:
        """What each channel of the digest's workspace (or `team`'s) already had (None: leave
        nothing out)."""
        ledger = None if force else self.ledger_for(digest, team)
        return ledger.seen if ledger else None

    def preview(
        self,
        digests: Sequence[DigestConfig],
        now: datetime,
        *,
        channels: Sequence[str] = (),
        force: bool = False,
        refresh: bool = True,
        team: str | None = None,
    ) -> Preview:
        """What the digests would post now to their channels (or to `channels`, of `team`'s
        workspace)."""
        with self.library(digests, refresh=refresh) as library:
            plans = [
                found
                for digest in digests
                for found in plan(
                    self.config,
                    library,
                    [digest],
                    now,
                    channels=channels,
                    seen=self.seen(digest, force, team),
                )
            ]
            return Preview(plans, library.skipped(), library.failed_sources)

    def deliver(
        self,
        runs: Sequence[Run],
        *,
        channels: Sequence[str] = (),
        force: bool = False,
        recover: bool = True,
        refresh: bool = True,
        team: str | None = None,
    ) -> Delivery:
        """Post the runs (to `team`'s workspace, else each digest's); with `recover`, first
        finish what earlier runs of their digests left open."""
        if not self.can_post:
            raise DigestbotError(CANNOT_POST)
        outcomes: list[Outcome] = []
        with self.library([run.digest for run in runs], refresh=refresh) as library:
            for run in runs:
                try:
                    sender = self.sender_for(run.digest, team)
                except DigestbotError as error:  # one workspace's trouble stops only its runs
                    outcomes += _failed(run, channels, str(error))
                    continue
                if recover:
                    outcomes += sender.recover([run.digest.name])
                outcomes += sender.send(run, library, channels=channels, force=force)
            return Delivery(outcomes, library.skipped(), library.failed_sources)

    def recover(self, names: Sequence[str]) -> list[Outcome]:
        """Finish deliveries that a dead process or a lost answer left pending."""
        if self.workspaces is not None:
            return [o for sender in self.workspaces.senders() for o in sender.recover(names)]
        if self.sender is None:
            raise DigestbotError(CANNOT_POST)
        return self.sender.recover(names)

    def delivered(self, run: Run) -> bool:
        """Whether every channel of the run has its result (delivered or nothing new)."""
        ledger = self.ledger_for(run.digest)
        if ledger is None:
            return False
        from digestbot.ledger import ClaimStatus

        finished = (ClaimStatus.DELIVERED, ClaimStatus.EMPTY)
        done = {c.channel for c in ledger.claims(run.run_id) if c.status in finished}
        return all(ledger.key(channel) in done for channel in run.digest.channels)

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()


def _failed(run: Run, channels: Sequence[str], reason: str) -> list[Outcome]:
    from digestbot.runs import Outcome, Status

    return [
        Outcome(run.digest.name, channel, Status.FAILED, reason)
        for channel in channels or run.digest.channels
    ]
