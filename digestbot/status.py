"""Where each digest stands: its next runs and the last delivery to each of its channels.

One reading of the schedule and the ledger, shared by `digestbot status`, the /digest command's
list, /healthz and the dashboard, so that they never disagree.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from digestbot.channels import team_of
from digestbot.config import Config, DigestConfig
from digestbot.trigger import CrontabTrigger

if TYPE_CHECKING:
    from digestbot.ledger import Claim, ClaimStatus, Ledger
    from digestbot.sources.registry import Sources, SourceState


@dataclass(frozen=True)
class LastDelivery:
    """The most recent claim of a digest in one channel."""

    status: ClaimStatus
    at: datetime
    articles: int
    run_id: str
    error: str | None
    channel_id: str | None  # where its first message landed, for a link to it
    ts: str | None
    team: str  # the workspace it went to ("": a ledger from before workspaces)


@dataclass(frozen=True)
class ChannelStatus:
    channel: str
    last: LastDelivery | None


@dataclass(frozen=True)
class DigestStatus:
    digest: DigestConfig
    zone: tzinfo
    next_runs: list[datetime]
    channels: list[ChannelStatus]


@dataclass(frozen=True)
class SourceStatus:
    """A source's last refreshes: when, which revision, how many articles, the last error."""

    name: str
    kind: str
    location: str  # without any password
    state: SourceState


def sources(registry: Sources) -> list[SourceStatus]:
    return [
        SourceStatus(name, config.kind, config.location, registry.state(name))
        for name, config in registry.configs.items()
    ]


def next_runs(config: Config, digest: DigestConfig, now: datetime, count: int) -> list[datetime]:
    """The digest's next `count` fire times from `now`, in its timezone ([] without schedule)."""
    if digest.schedule is None:
        return []
    trigger = CrontabTrigger(digest.schedule, config.digest_timezone(digest))
    return list(itertools.islice(trigger.fire_times(now), count))


def digests(
    config: Config,
    ledger_for: Callable[[DigestConfig], Ledger | None],
    now: datetime,
    *,
    runs: int = 1,
) -> list[DigestStatus]:
    """Every digest's next `runs` fire times and last delivery per channel, read from the
    ledger of the digest's workspace (`ledger_for`; None: nothing was delivered)."""
    found = []
    for digest in config.digests.values():
        zone = config.digest_timezone(digest)
        latest = _latest(digest, ledger_for(digest))
        channels = [
            ChannelStatus(channel, _last(latest[channel], zone) if channel in latest else None)
            for channel in digest.channels
        ]
        found.append(DigestStatus(digest, zone, next_runs(config, digest, now, runs), channels))
    return found


def _latest(digest: DigestConfig, ledger: Ledger | None) -> dict[str, Claim]:
    if ledger is None:
        return {}
    from digestbot.history import History  # SQLAlchemy: only when there is a ledger

    pairs = [(digest.name, channel) for channel in digest.channels]
    return {channel: claim for (_, channel), claim in History(ledger).last(pairs).items()}


def soonest(config: Config, now: datetime) -> tuple[str, datetime] | None:
    """The digest that fires next, and when."""
    upcoming = [
        (digest.name, moment)
        for digest in config.digests.values()
        for moment in next_runs(config, digest, now, 1)
    ]
    return min(upcoming, key=lambda item: item[1], default=None)


def health(config: Config, now: datetime) -> dict[str, Any]:
    """The body of /healthz: digests loaded and the next run."""
    upcoming = soonest(config, now)
    return {
        "status": "ok",
        "digests": len(config.digests),
        "next_run": upcoming[1].astimezone(UTC).isoformat() if upcoming else None,
        "next_digest": upcoming[0] if upcoming else None,
    }


def _last(claim: Claim, zone: tzinfo) -> LastDelivery:
    delivered = range(len(claim.posted))
    return LastDelivery(
        status=claim.status,
        at=datetime.fromtimestamp(claim.finished_at or claim.claimed_at, zone),
        articles=sum(len(claim.plan.articles[part]) for part in delivered),
        run_id=claim.run_id,
        error=claim.error,
        channel_id=claim.channel_id,
        ts=claim.posted[0] if claim.posted else None,
        team=team_of(claim.channel),
    )
