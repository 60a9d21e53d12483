"""Runs delivered through the ledger: where posts go, and scheduled runs recovered too late."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ConfigWriter, FakeClock, digest_config
from fakeslack import FakeSlack

from digestbot.bot import open_service
from digestbot.config import load_config, load_settings
from digestbot.ledger import ClaimStatus
from digestbot.runs import Run, Status
from digestbot.sender import claim_plan
from digestbot.service import DigestService

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a scheduled time of digest_config's schedule


def chat_channels(fake: FakeSlack) -> list[str]:
    """The `channel` argument of every chat.postMessage call, in order."""
    return [params["channel"] for method, params in fake.calls if method == "chat.postMessage"]


def test_digests_are_posted_to_the_channel_id_so_a_renamed_channel_still_gets_them(
    slack: FakeSlack, write_config: ConfigWriter, cli
) -> None:
    """Once digestbot knows a channel's ID it posts there by ID (Slack's advice): renaming
    #ai-news in Slack does not break the configured `#ai-news`."""
    write_config()
    channel_id = slack.channel_id("ai-news")
    assert cli("send").code == 0
    slack.channels[channel_id].name = "ai-renamed"
    again = cli("send", "--force")
    assert again.code == 0, again.out
    assert len(slack.channels[channel_id].messages) == 2
    assert chat_channels(slack) == [channel_id, channel_id]


@pytest.fixture
def service(
    slack: FakeSlack, write_config: ConfigWriter, articles: Path
) -> Iterator[tuple[DigestService, FakeClock]]:
    """A service posting to the fake on a clock the test sets; catch_up is one hour."""
    config = load_config(write_config(digest_config(articles, catch_up="1h")))
    clock = FakeClock(NINE)
    opened = open_service(load_settings(), config, post=True, clock=clock)
    yield opened, clock
    opened.close()


def abandoned_claim(service: DigestService, at: datetime) -> Run:
    """A claim for the run scheduled `at`, left pending with nothing posted by a process that
    died (here: one that stopped working on it)."""
    digest = service.config.digests["ai"]
    run = Run.scheduled_at(digest, at)
    [channel_plan] = service.preview([digest], at).plans
    assert service.ledger is not None
    claim, _ = service.ledger.claim(run.run_id, "#ai-news", "ai", claim_plan(channel_plan, run))
    assert claim is not None
    service.ledger.release(claim)
    return run


def test_a_pending_scheduled_run_older_than_catch_up_expires_in_recovery(
    service: tuple[DigestService, FakeClock], slack: FakeSlack
) -> None:
    """A scheduled run found pending more than catch_up after its time is not posted late:
    recovery closes it as expired, and the channel gets nothing."""
    running, clock = service
    run = abandoned_claim(running, NINE)
    clock.set(NINE + timedelta(hours=1, seconds=1))
    [outcome] = running.recover(["ai"])
    assert outcome.status is Status.EXPIRED
    assert "older than its catch_up window" in outcome.detail
    assert slack.posts == []
    assert running.ledger is not None
    [claim] = running.ledger.claims(run.run_id)
    assert claim.status == ClaimStatus.FAILED
    assert claim.error == "expired before it could be delivered"
    assert running.recover(["ai"]) == []  # closed: not tried again


@pytest.mark.parametrize("late", [timedelta(minutes=5), timedelta(hours=1)])
def test_a_pending_scheduled_run_within_catch_up_is_completed(
    service: tuple[DigestService, FakeClock], slack: FakeSlack, late: timedelta
) -> None:
    """Up to catch_up after its time (one hour, inclusive), recovery still delivers the run."""
    running, clock = service
    abandoned_claim(running, NINE)
    clock.set(NINE + late)
    [outcome] = running.recover(["ai"])
    assert outcome.status is Status.COMPLETED
    assert len(slack.messages_in("ai-news")) == 1
