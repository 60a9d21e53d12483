"""Posting one claimed channel: each part of its digest, recorded in the ledger as it lands.

A part is recorded the moment Slack accepts it, so a crash, a lost answer or a retry never
posts it twice: a claim taken over from a dead process first looks in the channel's history
(`find`) for the part it was posting. A part Slack refuses as too long is split between its
articles and planned again. A failure that may have posted keeps the claim open for a check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from digestbot.channels import is_channel_id, unscoped
from digestbot.clock import SYSTEM, Clock
from digestbot.compose import split
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
from digestbot.ledger import Claim, ClaimPlan, ClaimStatus, Ledger
from digestbot.runs import Outcome, Status

log = logging.getLogger(__name__)

HISTORY_SLACK = 120.0  # seconds before the claim to search history from (clock skew)
MAX_SPLITS = 8  # a message refused as too long is halved at most this many times per channel


class Poster:
    """Posts claimed channels through one Slack connection, recording each part in the ledger."""

    def __init__(
        self,
        ledger: Ledger,
        slack: Slack,
        *,
        catch_up: Callable[[str], float],
        clock: Clock = SYSTEM,
    ) -> None:
        self.ledger, self.slack = ledger, slack
        self.catch_up = catch_up  # a digest's catch_up window in seconds (the config may change)
        self.clock = clock
        self.workspace: Workspace | None = None  # known once connected: it makes message links

    def take_over(self, claim: Claim) -> Outcome:
        """Finish a claim another process left: what it posted is found, not posted again."""
        channel = claim.plan.channel
        try:
            taken = self.ledger.take_over(claim)
        except DigestbotError as error:
            return Outcome(claim.digest, channel, Status.FAILED, str(error))
        if taken is None:
            return Outcome(claim.digest, channel, Status.IN_PROGRESS)
        log.info("claim taken over run=%s channel=%s from=%s", claim.run_id, channel, claim.owner)
        outcome = self.deliver(taken, recovering=True)
        if outcome.status is Status.DELIVERED:
            return Outcome(outcome.digest, outcome.channel, Status.COMPLETED, outcome.detail)
        return outcome

    def deliver(self, claim: Claim, *, recovering: bool) -> Outcome:
        """Post the claim's parts not yet posted and close it (`recovering`: look first)."""
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
        if claim.posted or scheduled_for is None:
            return None
        if self.clock.time() - scheduled_for <= self.catch_up(claim.digest):
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
        return lambda: self.slack.reader.find(
            self._channel_id(channel, known), _metadata(claim, part), since, thread_ts
        )

    def _channel_id(self, channel: str, known: str | None) -> str:
        channel_id = known or self.slack.reader.resolve(channel)
        if channel_id is None:
            raise DeliveryError(
                f"cannot look in {channel}'s history to see whether the digest landed: "
                "check the channel name and the bot's channels:read scope"
            )
        return channel_id

    def link(self, claim: Claim) -> str:
        """The address of a delivered claim's first message ("" when nothing was posted)."""
        if not claim.posted:
            return ""
        return permalink(self.workspace, Posted(claim.posted[0], claim.channel_id or ""))


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
