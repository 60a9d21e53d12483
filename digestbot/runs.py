"""A run delivered: plan, claim, post each message part, record. Never twice, never lost.

A run is a scheduled occurrence (digest + scheduled time) or a manual send. `Sender.send`
claims each channel in the ledger before posting, records every part as it lands and closes
the claim; `Sender.recover` completes claims a crashed process left pending, checking the
channel's history before posting anything again.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from digestbot.config import Config, DigestConfig
from digestbot.deliver import Posted, Slack, Workspace, message_metadata, permalink
from digestbot.errors import DeliveryError
from digestbot.ledger import DELIVERED, EMPTY, FAILED, PENDING, Claim, Ledger
from digestbot.pipeline import ChannelPlan, Library, plan
from digestbot.selection import title_key

log = logging.getLogger(__name__)

WORKERS = 32  # posts in flight; Slack answers 429 past its workspace limit and we slow down
HEARTBEAT_EVERY = 15.0
HISTORY_SLACK = 120.0  # seconds before the claim to search history from (clock skew)


@dataclass(frozen=True)
class Run:
    """One occurrence of a digest: its ledger key and the time it is built for."""

    run_id: str
    digest: DigestConfig
    at: datetime
    scheduled: bool

    @classmethod
    def manual(cls, digest: DigestConfig, now: datetime) -> Run:
        stamp = now.astimezone(UTC).isoformat(timespec="seconds")
        return cls(f"{digest.name}@manual:{stamp}:{uuid.uuid4().hex[:8]}", digest, now, False)

    @classmethod
    def scheduled_at(cls, digest: DigestConfig, at: datetime) -> Run:
        return cls(f"{digest.name}@{at.astimezone(UTC).isoformat()}", digest, at, True)


@dataclass(frozen=True)
class Outcome:
    """What happened in one channel, in words for the person who ran it."""

    digest: str
    channel: str
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.digest} → {self.channel}: {self.status}{detail}"


def payload(channel_plan: ChannelPlan) -> dict[str, Any]:
    """What a claim stores: the messages to post and the articles in each."""
    messages = channel_plan.messages
    return {
        "channel": channel_plan.channel,
        "messages": [
            {key: value for key, value in m.arguments("").items() if key != "channel"}
            for m in messages
        ],
        "articles": [[[a.url, title_key(a.title)] for a in m.articles] for m in messages],
    }


class Sender:
    """Delivers runs through one Slack connection and one ledger."""

    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        slack: Slack,
        *,
        stop: threading.Event | None = None,
        workers: int = WORKERS,
    ) -> None:
        self.config, self.ledger, self.slack = config, ledger, slack
        self.stop = stop or threading.Event()
        self.workers = workers
        self.workspace: Workspace | None = None

    def connect(self) -> None:
        """Check the token before touching any channel."""
        self.workspace = self.slack.check_auth()

    def send(
        self,
        run: Run,
        library: Library,
        *,
        channels: Sequence[str] = (),
        force: bool = False,
    ) -> list[Outcome]:
        """Deliver one run to its channels (or to `channels`)."""
        self.ledger.start_run(
            run.run_id, run.digest.name, run.at.timestamp() if run.scheduled else None
        )
        seen = None if force else self.ledger.seen
        plans = plan(self.config, library, [run.digest], run.at, channels=channels, seen=seen)
        return self._parallel([lambda p=p: self._claim_and_deliver(run, p) for p in plans])

    def recover(self, digests: Sequence[str]) -> list[Outcome]:
        """Complete the claims a crashed run left pending for these digests."""
        orphans = self.ledger.orphaned(digests)
        return self._parallel([lambda c=c: self._take_over(c) for c in orphans])

    def _parallel(self, jobs: list[Any]) -> list[Outcome]:
        if not jobs:
            return []
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(beating,), daemon=True)
        heart.start()
        try:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
                return list(pool.map(lambda job: job(), jobs))
        finally:
            beating.set()
            heart.join()

    def _heartbeat(self, done: threading.Event) -> None:
        while not done.wait(HEARTBEAT_EVERY):
            try:
                self.ledger.heartbeat()
            except Exception as error:  # a missed beat only delays a takeover
                log.warning("heartbeat failed error=%s", error)

    def _claim_and_deliver(self, run: Run, channel_plan: ChannelPlan) -> Outcome:
        name, channel = run.digest.name, channel_plan.channel
        if self.stop.is_set():
            return Outcome(name, channel, "not started", "digestbot is stopping")
        claim, created = self.ledger.claim(run.run_id, channel, name, payload(channel_plan))
        if created:
            return self._deliver(claim, recovering=False)
        if claim.status == DELIVERED:
            return Outcome(name, channel, "already delivered", self._link(claim))
        if claim.status == EMPTY:
            return Outcome(name, channel, "nothing new")
        if claim.status == PENDING and not self.ledger.abandoned(claim):
            return Outcome(name, channel, "in progress elsewhere")
        return self._take_over(claim)

    def _take_over(self, claim: Claim) -> Outcome:
        channel = claim.payload["channel"]
        taken = self.ledger.take_over(claim)
        if taken is None:
            return Outcome(claim.digest, channel, "in progress elsewhere")
        log.info("claim taken over run=%s channel=%s from=%s", claim.run_id, channel, claim.owner)
        outcome = self._deliver(taken, recovering=True)
        if outcome.status == "delivered":
            return Outcome(
                outcome.digest,
                outcome.channel,
                "delivered (completed an interrupted run)",
                outcome.detail,
            )
        return outcome

    def _deliver(self, claim: Claim, *, recovering: bool) -> Outcome:
        channel = claim.payload["channel"]
        messages = claim.payload["messages"]
        with self.ledger.working(claim):
            if not messages:
                self.ledger.finish(claim, EMPTY)
                return Outcome(claim.digest, channel, "nothing new")
            try:
                posted = self._post_parts(claim, recovering)
            except DeliveryError as error:
                self.ledger.finish(claim, FAILED, error=error.reason)
                log.warning(
                    "delivery failed run=%s channel=%s reason=%r",
                    claim.run_id,
                    channel,
                    error.reason,
                )
                return Outcome(claim.digest, channel, "failed", error.reason)
            except Exception as error:  # a bug must not cost the other channels
                log.exception("delivery crashed run=%s channel=%s", claim.run_id, channel)
                self.ledger.finish(claim, FAILED, error=f"internal error: {error!r}")
                return Outcome(claim.digest, channel, "failed", f"internal error: {error!r}")
        count = sum(len(part) for part in claim.payload["articles"])
        parts = len(messages)
        detail = (
            f"{count} article{'s' * (count != 1)} in {parts} message{'s' * (parts != 1)}, "
            f"{permalink(self.workspace, posted)}"
        )
        log.info(
            "delivered run=%s channel=%s ts=%s articles=%d", claim.run_id, channel, posted.ts, count
        )
        return Outcome(claim.digest, channel, "delivered", detail)

    def _post_parts(self, claim: Claim, recovering: bool) -> Posted:
        channel = claim.payload["channel"]
        posted = list(claim.posted)
        channel_id = claim.channel_id
        since = claim.claimed_at - HISTORY_SLACK
        for part in range(len(posted), len(claim.payload["messages"])):
            metadata = message_metadata(claim.run_id, claim.channel, part, claim.digest)
            thread_ts = posted[0] if part else None
            arguments = {**claim.payload["messages"][part], "metadata": metadata}
            if thread_ts:
                arguments["thread_ts"] = thread_ts

            def locate(
                cid: str | None = channel_id, meta: dict = metadata, ts: str | None = thread_ts
            ):
                return self.slack.find(self._channel_id(channel, cid), meta, since, ts)

            found = locate() if recovering and part == len(claim.posted) else None
            landed = found or self.slack.post(channel, arguments, locate)
            posted.append(landed.ts)
            channel_id = landed.channel_id
            self.ledger.record_part(claim, posted, channel_id)
        return Posted(posted[0], channel_id or "")

    def _channel_id(self, channel: str, known: str | None) -> str:
        channel_id = known or self.ledger.channel_id(channel)
        if channel_id is None:
            channel_id = self.slack.resolve(channel)
            if channel_id:
                self.ledger.remember_channels({channel: channel_id})
        if channel_id is None:
            raise DeliveryError(
                f"cannot look in {channel}'s history to see whether the digest landed: "
                "check the channel name and the bot's channels:read scope"
            )
        return channel_id

    def _link(self, claim: Claim) -> str:
        if not claim.posted:
            return ""
        return permalink(self.workspace, Posted(claim.posted[0], claim.channel_id or ""))
