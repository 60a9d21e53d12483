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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from digestbot.channels import channel_name, is_channel_id, unscoped
from digestbot.clock import SYSTEM, Clock
from digestbot.compose import split
from digestbot.config import DEFAULT_CATCH_UP, Config, DigestConfig
from digestbot.deliver import (
    Posted,
    Slack,
    TooLong,
    Workspace,
    message_metadata,
    part_arguments,
    permalink,
)
from digestbot.errors import DeliveryError, DigestbotError
from digestbot.ledger import Claim, ClaimPlan, ClaimResult, ClaimStatus, Ledger
from digestbot.pipeline import ChannelPlan, Library, plan
from digestbot.selection import title_key

log = logging.getLogger(__name__)

WORKERS = 48  # posts in flight; Slack answers 429 past its workspace limit and we slow down
HEARTBEAT_EVERY = 15.0
HISTORY_SLACK = 120.0  # seconds before the claim to search history from (clock skew)
REPLANS = 5  # attempts to claim a channel while concurrent runs keep taking its articles
MAX_SPLITS = 8  # a message refused as too long is halved at most this many times per channel


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


class Status(StrEnum):
    """How a run ended in one channel; the value is what people read."""

    DELIVERED = "delivered"
    COMPLETED = "delivered (completed an interrupted run)"
    ALREADY_DELIVERED = "already delivered"
    NOTHING_NEW = "nothing new"
    IN_PROGRESS = "in progress elsewhere"
    NOT_STARTED = "not started"
    EXPIRED = "expired"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What happened in one channel, in words for the person who ran it."""

    digest: str
    channel: str
    status: Status
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not Status.FAILED

    @property
    def delivered(self) -> bool:
        return self.status in (Status.DELIVERED, Status.COMPLETED)

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.digest} → {self.channel}: {self.status}{detail}"


def claim_plan(channel_plan: ChannelPlan, run: Run) -> ClaimPlan:
    """What a claim stores: the messages to post and the articles in each."""
    messages = channel_plan.messages
    return ClaimPlan(
        channel=channel_plan.channel,
        messages=[message.arguments() for message in messages],
        articles=[[(a.url, title_key(a.title), a.key) for a in m.articles] for m in messages],
        scheduled_for=run.at.timestamp() if run.scheduled else None,
    )


Job = Callable[[], Outcome]


def _done(outcome: Outcome) -> Job:
    return lambda: outcome


def _split_part(plan: ClaimPlan, part: int) -> ClaimPlan:
    """The plan with one part cut in two between its articles (or its text shortened)."""
    pieces = split(plan.messages[part], len(plan.articles[part]))
    articles = plan.articles[part]
    messages, parts, start = [], [], 0
    for arguments, count in pieces:
        messages.append(arguments)
        parts.append(articles[start : start + count])
        start += count
    return replace(
        plan,
        messages=[*plan.messages[:part], *messages, *plan.messages[part + 1 :]],
        articles=[*plan.articles[:part], *parts, *plan.articles[part + 1 :]],
    )


def _find_or_uncertain(locate: Callable[[], Posted | None]) -> Posted | None:
    """Look for a part that may have landed; failing to look leaves it uncertain."""
    try:
        return locate()
    except DeliveryError as error:
        raise DeliveryError(error.reason, uncertain=True) from None


def _destination(claim: Claim) -> str:
    """Post to the channel's ID when the ledger knows it (Slack's advice), else its name."""
    channel = unscoped(claim.channel)
    return channel if is_channel_id(channel) else claim.plan.channel


def _metadata(claim: Claim, part: int) -> dict[str, Any]:
    return message_metadata(claim.run_id, claim.channel, part, claim.digest)


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
        clock: Clock = SYSTEM,
    ) -> None:
        self.config, self.ledger, self.slack = config, ledger, slack
        self.stop = stop or threading.Event()
        self.clock = clock
        self.workers = workers
        self.workspace: Workspace | None = None

    def connect(self) -> None:
        """Check the token and learn the configured channels' IDs before touching any."""
        self.workspace = self.slack.check_auth()
        if self.ledger.team is None and self.workspace.team_id:
            self.ledger.adopt(self.workspace.team_id)  # a ledger from before workspaces
        configured = (ch for digest in self.config.digests.values() for ch in digest.channels)
        self.learn_channel_ids(configured)

    def learn_channel_ids(self, channels: Iterable[str]) -> None:
        """Learn the IDs of channels known only by name, so that the ledger knows a channel
        as one however it is written (one conversations.list, only when needed)."""
        unknown = {
            name for name in map(channel_name, channels) if self.ledger.channel_id(name) is None
        }
        if unknown:
            ids = self.slack.channel_ids(refresh=True)
            self.ledger.remember_channels({name: ids[name] for name in unknown if name in ids})

    def send(
        self,
        run: Run,
        library: Library,
        *,
        channels: Sequence[str] = (),
        force: bool = False,
    ) -> list[Outcome]:
        """Deliver one run to its channels (or to `channels`)."""
        targets = list(dict.fromkeys(channels or run.digest.channels))
        try:
            # Without IDs, two replicas could know one channel by two names: deliver nothing.
            self.learn_channel_ids(targets)
        except DigestbotError as error:
            return [
                Outcome(run.digest.name, channel, Status.FAILED, str(error)) for channel in targets
            ]
        # One channel written two ways (a name and its ID) gets one digest.
        targets = list(
            {self.ledger.key(channel): channel for channel in reversed(targets)}.values()
        )
        targets.reverse()
        seen = None if force else self.ledger.seen_all(targets).__getitem__
        plans = plan(self.config, library, [run.digest], run.at, channels=targets, seen=seen)
        return self._parallel(self._claim_all(run, plans, library, force))

    def run(
        self, run: Run, library: Library, *, channels: Sequence[str] = (), force: bool = False
    ) -> list[Outcome]:
        """Finish what earlier runs of the digest left open, then deliver this one."""
        return self.recover([run.digest.name]) + self.send(
            run, library, channels=channels, force=force
        )

    def recover(self, digests: Sequence[str]) -> list[Outcome]:
        """Complete the claims left pending for these digests by a crash or a lost answer."""
        orphans = self.ledger.orphaned(digests)
        return self._parallel((lambda c=c: self._take_over(c)) for c in orphans)

    def _parallel(self, jobs: Iterable[Job]) -> list[Outcome]:
        """Run the jobs in the pool as they come: claims are made one at a time in this thread
        (so that concurrent runs never plan the same article twice), posts in parallel."""
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(beating,), daemon=True)
        heart.start()
        try:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                futures = [pool.submit(job) for job in jobs]
                return [future.result() for future in futures]
        finally:
            beating.set()
            heart.join()

    def _heartbeat(self, done: threading.Event) -> None:
        while not self.clock.wait(done, HEARTBEAT_EVERY):
            try:
                self.ledger.heartbeat()
            except DigestbotError as error:  # a missed beat only delays a takeover
                log.warning("heartbeat failed error=%s", error)

    def _claim_all(
        self, run: Run, plans: list[ChannelPlan], library: Library, force: bool
    ) -> Iterator[Job]:
        """Claim every channel in one transaction; the job that follows from each claim."""
        name = run.digest.name
        if self.stop.is_set():
            yield from (
                _done(Outcome(name, p.channel, Status.NOT_STARTED, "stopping")) for p in plans
            )
            return
        try:
            claim_plans = {p.channel: claim_plan(p, run) for p in plans}
            results = self.ledger.claim_all(run.run_id, name, claim_plans, force=force)
        except DigestbotError as error:
            yield from (_done(Outcome(name, p.channel, Status.FAILED, str(error))) for p in plans)
            return
        for channel_plan in plans:
            claim, result = results[channel_plan.channel]
            if claim is None:  # another run took some of these articles: plan this one again
                yield self._replan(run, channel_plan.channel, library)
            else:
                yield self._job(claim, result, run, library)

    def _replan(self, run: Run, channel: str, library: Library) -> Job:
        name = run.digest.name
        try:
            for _ in range(REPLANS):
                channel_plan = self._plan_one(run, channel, library)
                claim, result = self.ledger.claim(
                    run.run_id, channel, name, claim_plan(channel_plan, run)
                )
                if claim is not None:
                    return self._job(claim, result, run, library)
        except DigestbotError as error:
            return _done(Outcome(name, channel, Status.FAILED, str(error)))
        return _done(
            Outcome(name, channel, Status.FAILED, "other runs kept taking its articles; retry")
        )

    def _plan_one(self, run: Run, channel: str, library: Library) -> ChannelPlan:
        """The run's plan for one channel, against what it has had up to this moment."""
        [channel_plan] = plan(
            self.config, library, [run.digest], run.at, channels=[channel], seen=self.ledger.seen
        )
        return channel_plan

    def _job(self, claim: Claim, result: ClaimResult, run: Run, library: Library) -> Job:
        if result is ClaimResult.CREATED:
            return lambda: self._deliver(claim, recovering=False)
        channel = claim.plan.channel
        if claim.status == ClaimStatus.DELIVERED:
            return _done(
                Outcome(claim.digest, channel, Status.ALREADY_DELIVERED, self._link(claim))
            )
        if claim.status == ClaimStatus.EMPTY:
            return _done(Outcome(claim.digest, channel, Status.NOTHING_NEW))
        if claim.status == ClaimStatus.PENDING and not self.ledger.abandoned(claim):
            return _done(Outcome(claim.digest, channel, Status.IN_PROGRESS))
        if claim.status == ClaimStatus.FAILED and not claim.posted:
            return self._retry(claim, run, library)
        return lambda: self._take_over(claim)

    def _retry(self, claim: Claim, run: Run, library: Library) -> Job:
        """A failed channel of this run, tried again with a fresh plan: it may have had other
        digests since the failure, and its old plan must not repeat them."""
        channel = claim.plan.channel
        try:
            taken = self.ledger.take_over(
                claim, claim_plan(self._plan_one(run, channel, library), run)
            )
        except DigestbotError as error:
            return _done(Outcome(claim.digest, channel, Status.FAILED, str(error)))
        if taken is None:
            return _done(Outcome(claim.digest, channel, Status.IN_PROGRESS))
        return lambda: self._deliver(taken, recovering=False)

    def _take_over(self, claim: Claim) -> Outcome:
        channel = claim.plan.channel
        try:
            taken = self.ledger.take_over(claim)
        except DigestbotError as error:
            return Outcome(claim.digest, channel, Status.FAILED, str(error))
        if taken is None:
            return Outcome(claim.digest, channel, Status.IN_PROGRESS)
        log.info("claim taken over run=%s channel=%s from=%s", claim.run_id, channel, claim.owner)
        outcome = self._deliver(taken, recovering=True)
        if outcome.status is Status.DELIVERED:
            return Outcome(outcome.digest, outcome.channel, Status.COMPLETED, outcome.detail)
        return outcome

    def _deliver(self, claim: Claim, *, recovering: bool) -> Outcome:
        channel = claim.plan.channel
        try:
            if not claim.plan.messages:
                self.ledger.finish(claim, ClaimStatus.EMPTY)
                return Outcome(claim.digest, channel, Status.NOTHING_NEW)
            if recovering and (expired := self._expire(claim)):
                return expired
            posted, claim = self._post_parts(claim, recovering)
        except DeliveryError as error:
            return self._failed(claim, error)
        except DigestbotError as error:
            return Outcome(claim.digest, channel, Status.FAILED, str(error))
        except Exception as error:  # a bug must not cost the other channels
            log.exception("delivery crashed run=%s channel=%s", claim.run_id, channel)
            return self._failed(claim, DeliveryError(f"internal error: {error!r}", uncertain=True))
        finally:
            self.ledger.release(claim)
        count = sum(len(part) for part in claim.plan.articles)
        parts = len(claim.plan.messages)
        log.info(
            "delivered run=%s channel=%s ts=%s articles=%d", claim.run_id, channel, posted.ts, count
        )
        detail = (
            f"{count} article{'s' * (count != 1)} in {parts} message{'s' * (parts != 1)}, "
            f"{permalink(self.workspace, posted)}"
        )
        return Outcome(claim.digest, channel, Status.DELIVERED, detail)

    def _failed(self, claim: Claim, error: DeliveryError) -> Outcome:
        """Record a failure; when a message may have landed, keep the claim for a check."""
        channel, reason = claim.plan.channel, error.reason
        log.warning(
            "delivery failed run=%s channel=%s uncertain=%s reason=%r",
            claim.run_id,
            channel,
            error.uncertain,
            reason,
        )
        try:
            if error.uncertain:
                self.ledger.hold(claim, reason)
                reason += " (left open: the next run checks the channel before posting)"
            else:
                self.ledger.finish(claim, ClaimStatus.FAILED, error=reason)
        except DigestbotError as ledger_error:
            reason += f"; and {ledger_error}"
        return Outcome(claim.digest, channel, Status.FAILED, reason)

    def _expire(self, claim: Claim) -> Outcome | None:
        """Close a scheduled run found pending past its catch_up window with nothing posted:
        a digest that late is not news any more."""
        scheduled_for = claim.plan.scheduled_for
        digest = self.config.digests.get(claim.digest)
        window = (digest.catch_up if digest else DEFAULT_CATCH_UP).total_seconds()
        if claim.posted or scheduled_for is None or self.clock.time() - scheduled_for <= window:
            return None
        if _find_or_uncertain(self._locate(claim, 0, None, claim.channel_id)) is not None:
            return None
        self.ledger.finish(claim, ClaimStatus.FAILED, error="expired before it could be delivered")
        reason = "the run is older than its catch_up window; not posted late"
        return Outcome(claim.digest, claim.plan.channel, Status.EXPIRED, reason)

    def _post_parts(self, claim: Claim, recovering: bool) -> tuple[Posted, Claim]:
        """Post the parts not yet posted, recording each as it lands; a part Slack refuses as
        too long is split in two and planned again. The first part, and the claim as it ends."""
        posted = list(claim.posted)
        channel_id = claim.channel_id
        splits = 0
        part = len(posted)
        while part < len(claim.plan.messages):
            thread_ts = posted[0] if part else None
            arguments = part_arguments(claim.plan.messages[part], _metadata(claim, part), thread_ts)
            locate = self._locate(claim, part, thread_ts, channel_id)
            found = _find_or_uncertain(locate) if recovering and part == len(claim.posted) else None
            label = claim.plan.channel
            try:
                landed = found or self.slack.post(label, arguments, locate, to=_destination(claim))
            except TooLong:
                splits += 1
                if splits > MAX_SPLITS:
                    raise
                claim = self.ledger.replan(claim, _split_part(claim.plan, part))
                log.warning(
                    "message too long, split run=%s channel=%s part=%d", claim.run_id, label, part
                )
                continue
            posted.append(landed.ts)
            channel_id = landed.channel_id
            self.ledger.record_part(claim, posted, channel_id)
            part += 1
        return Posted(posted[0], channel_id or ""), claim

    def _locate(
        self, claim: Claim, part: int, thread_ts: str | None, channel_id: str | None
    ) -> Callable[[], Posted | None]:
        """How to find this part in the channel, if it already landed."""
        since = claim.claimed_at - HISTORY_SLACK
        channel = claim.plan.channel
        key = unscoped(claim.channel)
        known = channel_id or (key if is_channel_id(key) else None)
        return lambda: self.slack.find(
            self._channel_id(channel, known), _metadata(claim, part), since, thread_ts
        )

    def _channel_id(self, channel: str, known: str | None) -> str:
        channel_id = known or self.slack.resolve(channel)
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
