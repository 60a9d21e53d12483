"""What every way of starting a run asks of the bot: the live config, the articles, plans and
deliveries.

The scheduler, the /digest command and the CLI receive one `DigestService` from the
composition root (`bot`); none of them builds a ledger, a Slack client or an article index.
Without a sender (no bot token) the service can only plan, which is what previews and dry runs
need.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from digestbot.clock import SYSTEM, Clock
from digestbot.config import Config, DigestConfig, Settings, timezone
from digestbot.errors import DigestbotError
from digestbot.index import ArticleIndex, Progress, Skipped
from digestbot.pipeline import ChannelPlan, Library, SeenLookup, plan

if TYPE_CHECKING:  # SQLAlchemy and slack-sdk are slow to import; a preview may need neither
    from digestbot.ledger import Ledger
    from digestbot.runs import Outcome, Run, Sender


@dataclass(frozen=True)
class Preview:
    """What the digests would post now, and the files that could not be read on the way."""

    plans: list[ChannelPlan]
    skipped: list[Skipped]


@dataclass(frozen=True)
class Delivery:
    """What runs delivered, per channel, and the files that could not be read on the way."""

    outcomes: list[Outcome]
    skipped: list[Skipped]


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
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.ledger = ledger
        self.sender = sender
        self._config = config
        self._progress = progress

    @property
    def config(self) -> Config:
        return self._config

    def replace_config(self, config: Config) -> None:
        """Use an edited config from the next run on."""
        self._config = config
        if self.sender is not None:
            self.sender.config = config

    @property
    def can_post(self) -> bool:
        return self.sender is not None

    def now(self, digest: DigestConfig | None = None) -> datetime:
        """The current time in the digest's timezone (or the config's)."""
        zone = self.config.digest_timezone(digest) if digest else timezone(self.config.timezone)
        return self.clock.now().astimezone(zone)

    @contextmanager
    def library(self) -> Iterator[Library]:
        """The articles, indexed afresh for one run."""
        with ArticleIndex(self.config.articles, self.settings.cache_dir) as index:
            yield Library(index, self._progress)

    def seen(self, force: bool = False) -> SeenLookup | None:
        """What each channel already had (None: nothing to leave out)."""
        return None if force or self.ledger is None else self.ledger.seen

    def preview(
        self,
        digests: Sequence[DigestConfig],
        now: datetime,
        *,
        channels: Sequence[str] = (),
        force: bool = False,
    ) -> Preview:
        """What the digests would post now to their channels (or to `channels`)."""
        with self.library() as library:
            plans = plan(
                self.config, library, digests, now, channels=channels, seen=self.seen(force)
            )
            return Preview(plans, library.skipped())

    def deliver(
        self,
        runs: Sequence[Run],
        *,
        channels: Sequence[str] = (),
        force: bool = False,
        recover: bool = True,
    ) -> Delivery:
        """Post the runs; with `recover`, first finish what earlier runs of their digests left
        open."""
        sender = self._sender()
        outcomes: list[Outcome] = []
        with self.library() as library:
            for run in runs:
                if recover:
                    outcomes += sender.recover([run.digest.name])
                outcomes += sender.send(run, library, channels=channels, force=force)
            return Delivery(outcomes, library.skipped())

    def recover(self, names: Sequence[str]) -> list[Outcome]:
        """Finish deliveries that a dead process or a lost answer left pending."""
        return self._sender().recover(names)

    def delivered(self, run: Run) -> bool:
        """Whether every channel of the run has its result (delivered or nothing new)."""
        if self.ledger is None:
            return False
        from digestbot.ledger import ClaimStatus

        finished = (ClaimStatus.DELIVERED, ClaimStatus.EMPTY)
        done = {c.channel for c in self.ledger.claims(run.run_id) if c.status in finished}
        return all(self.ledger.key(channel) in done for channel in run.digest.channels)

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()

    def _sender(self) -> Sender:
        if self.sender is None:
            raise DigestbotError("SLACK_BOT_TOKEN is not set: digestbot cannot post")
        return self.sender
