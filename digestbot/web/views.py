"""What each dashboard page shows, read from the running bot: plain data for the templates.

The overview and the history come from `status` and `history` (the same functions as
`digestbot status`), the digest page from the service's preview, rendered as Slack would draw it
(`render`). Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from markupsafe import Markup

from digestbot import status
from digestbot.channels import team_of
from digestbot.compose import builder_url, preview_arguments
from digestbot.crontab import describe, parse
from digestbot.deliver import Posted, Workspace, permalink
from digestbot.history import Cursor, Filter, History
from digestbot.ledger import Claim, ClaimStatus
from digestbot.service import DigestService
from digestbot.web.render import headlines, render_message

Health = Callable[[], tuple[bool, dict[str, Any]]]
NEXT_RUNS = 3


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    status: str  # "never delivered" when it never was
    when: str
    articles: int
    link: str | None
    error: str | None


@dataclass(frozen=True)
class DigestCard:
    name: str
    title: str
    topics: list[str]
    sources: list[str]
    channels: list[ChannelRow]
    schedule: str
    zone: str
    next_runs: list[str]


@dataclass(frozen=True)
class MessageView:
    html: Markup
    builder: str
    json: str
    thread: bool


@dataclass(frozen=True)
class ChannelPreview:
    channel: str
    messages: list[MessageView]


@dataclass(frozen=True)
class DeliveryRow:
    digest: str
    channel: str
    status: str
    claimed: str
    finished: str
    articles: list[tuple[str, str]]  # (url, title)
    error: str | None
    link: str | None


def overview(service: DigestService, health: Health | None) -> dict[str, Any]:
    """Every digest with its next runs and last deliveries; the sources; the scheduler."""
    now = service.clock.now()
    addresses = _addresses(service)
    cards = [
        _card(service, digest, now, addresses)
        for digest in status.digests(service.config, service.ledger_for, now, runs=NEXT_RUNS)
    ]
    alive, body = health() if health else (None, {})
    return {
        "digests": cards,
        "sources": status.sources(service.sources),
        "scheduler": alive,
        "next_digest": body.get("next_digest"),
    }


def _card(
    service: DigestService, found: status.DigestStatus, now: datetime, addresses: dict[str, str]
) -> DigestCard:
    digest = found.digest
    rows = [_channel_row(channel, found.zone, addresses) for channel in found.channels]
    schedule = describe(parse(digest.schedule)) if digest.schedule else "sent by hand only"
    return DigestCard(
        name=digest.name,
        title=digest.heading,
        topics=list(digest.topics),
        sources=service.config.digest_sources(digest),
        channels=rows,
        schedule=schedule,
        zone=str(found.zone),
        next_runs=[_when(moment) for moment in found.next_runs],
    )


def _channel_row(
    channel: status.ChannelStatus, zone: tzinfo, addresses: dict[str, str]
) -> ChannelRow:
    last = channel.last
    if last is None:
        return ChannelRow(channel.channel, "never delivered", "", 0, None, None)
    return ChannelRow(
        channel=channel.channel,
        status=str(last.status),
        when=_when(last.at),
        articles=last.articles,
        link=_link(addresses.get(last.team), last.channel_id, last.ts),
        error=last.error,
    )


def digest_preview(service: DigestService, name: str) -> list[ChannelPreview]:
    """What the digest would post now to each of its channels (each its own "already had")."""
    digest = service.config.digests[name]
    preview = service.preview([digest], service.now(digest))
    return [
        ChannelPreview(
            plan.channel,
            [
                MessageView(
                    html=render_message(arguments),
                    builder=builder_url(message),
                    json=json.dumps(arguments, indent=2, ensure_ascii=False),
                    thread=message.thread,
                )
                for message, arguments in zip(
                    plan.messages, preview_arguments(plan.channel, plan.messages), strict=True
                )
            ],
        )
        for plan in preview.plans
    ]


def deliveries(service: DigestService, chosen: Filter, after: Cursor | None) -> dict[str, Any]:
    """A page of the delivery history, newest first."""
    if service.ledger is None:
        return {"rows": [], "older": None}
    page = History(service.ledger).page(chosen, after)
    zone = service.config.digest_timezone
    addresses = _addresses(service)
    rows = [_delivery(service, claim, zone, addresses) for claim in page.claims]
    return {"rows": rows, "older": page.older.encode() if page.older else None}


def _addresses(service: DigestService) -> dict[str, str]:
    """Each workspace's address by team: those the ledger keeps, and this process's own (also
    for a ledger from before workspaces, whose channel keys name no team)."""
    known = service.ledger.addresses() if service.ledger else {}
    workspace = service.sender.workspace if service.sender else None
    if workspace is not None and workspace.url:
        known[workspace.team_id] = known[""] = workspace.url
    return known


def _delivery(
    service: DigestService,
    claim: Claim,
    zone: Callable[[Any], tzinfo],
    addresses: dict[str, str],
) -> DeliveryRow:
    digest = service.config.digests.get(claim.digest)
    tz = zone(digest) if digest else service.now().tzinfo
    messages = claim.plan.messages
    articles = [item for message in messages for item in headlines(message.get("blocks") or [])]
    return DeliveryRow(
        digest=claim.digest,
        channel=claim.plan.channel,
        status=str(claim.status),
        claimed=_when(datetime.fromtimestamp(claim.claimed_at, tz)),
        finished=_when(datetime.fromtimestamp(claim.finished_at, tz)) if claim.finished_at else "",
        articles=articles,
        error=claim.error if claim.status is ClaimStatus.FAILED or claim.error else None,
        link=_link(
            addresses.get(team_of(claim.channel)),
            claim.channel_id,
            claim.posted[0] if claim.posted else None,
        ),
    )


def _link(url: str | None, channel_id: str | None, ts: str | None) -> str | None:
    """The Slack message's address, when its workspace's is known."""
    if not (url and channel_id and ts):
        return None
    return permalink(Workspace(url), Posted(ts, channel_id))


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y %H:%M %Z")
