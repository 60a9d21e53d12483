"""The ledger: claims are locks, parts and articles are recorded, dead owners are taken over."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy
from conftest import FakeClock

from digestbot import owners
from digestbot.channels import channel_name
from digestbot.errors import LedgerError
from digestbot.ledger import ClaimPlan, ClaimResult, ClaimStatus, Ledger
from digestbot.store import SCHEMA_VERSION, deliveries, schema_version

pytestmark = pytest.mark.slow  # processes claiming at once

PLAN = ClaimPlan(
    channel="#ai-news",
    messages=[{"text": "one"}, {"text": "two"}],
    articles=[[("https://a.example/1", "first")], [("https://a.example/2", "second")]],
)


@pytest.fixture
def ledger(database_url: str):
    opened = Ledger(database_url)
    yield opened
    opened.close()


def test_claim_is_unique(ledger: Ledger) -> None:
    """The first claim of (run, channel) wins; later ones get the existing row."""
    _, created = ledger.claim("run-1", "#AI-News", "ai", PLAN)
    again, second = ledger.claim("run-1", "ai-news", "ai", {"other": True})
    assert (created, second) == (ClaimResult.CREATED, ClaimResult.EXISTS)
    assert again.plan == PLAN and again.status == ClaimStatus.PENDING and again.channel == "ai-news"


def test_another_run_cannot_claim_the_same_articles(ledger: Ledger) -> None:
    """A second run planning an article the channel is already getting must plan again."""
    ledger.claim("run-1", "#ai-news", "ai", PLAN)
    assert ledger.claim("run-2", "#ai-news", "news", PLAN) == (None, ClaimResult.TAKEN)
    assert ledger.claim("run-2", "#general", "news", PLAN)[1] == ClaimResult.CREATED
    assert ledger.claim("run-3", "#ai-news", "news", PLAN, force=True)[1] == ClaimResult.CREATED


def test_concurrent_claims_from_threads(ledger: Ledger) -> None:
    """Twenty threads claiming the same run and channel: exactly one creates the claim."""
    results: list[str] = []
    barrier = threading.Barrier(20)

    def claim() -> None:
        barrier.wait()
        results.append(ledger.claim("run-1", "#ai-news", "ai", PLAN)[1])

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [ClaimResult.CREATED] + [ClaimResult.EXISTS] * 19


CLAIMER = """
import sys
from digestbot.ledger import ClaimPlan, Ledger
ledger = Ledger(sys.argv[1])
print(ledger.claim("run-1", "#ai-news", "ai", ClaimPlan("#ai-news", [], []))[1])
"""


def test_concurrent_claims_from_processes(database_url: str) -> None:
    """Four processes claiming at once: exactly one of them gets the claim."""
    Ledger(database_url).close()  # create the tables first, as any first run does
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, database_url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    answers = sorted(proc.communicate()[0].strip() for proc in procs)
    assert answers == [
        ClaimResult.CREATED,
        ClaimResult.EXISTS,
        ClaimResult.EXISTS,
        ClaimResult.EXISTS,
    ]


def test_parts_record_articles_as_seen(ledger: Ledger) -> None:
    """Each landed part records its articles as sent; pending claims count as seen too."""
    claim, _ = ledger.claim("run-1", "#ai-news", "ai", PLAN)
    pending = ledger.seen("#ai-news")
    assert pending.urls == {"https://a.example/1", "https://a.example/2"}
    ledger.record_part(claim, ["1.1"], "C1")
    ledger.finish(claim, "failed", error="part two failed")
    seen = ledger.seen("ai-news")
    assert seen.urls == {"https://a.example/1"} and seen.titles == {"first"}
    assert ledger.seen("#general").urls == frozenset()
    stored = ledger.get("run-1", "#ai-news")
    assert stored and stored.posted == ["1.1"] and stored.channel_id == "C1"
    assert stored.error == "part two failed"


def test_take_over_is_a_compare_and_swap(ledger: Ledger) -> None:
    """Of two processes taking over the same claim, only one succeeds."""
    claim, _ = ledger.claim("run-1", "#ai-news", "ai", PLAN)
    other = Ledger(ledger.url)
    try:
        assert other.take_over(claim) is not None
        assert ledger.take_over(claim) is None
    finally:
        other.close()


def test_orphaned_claims(ledger: Ledger) -> None:
    """Claims of dead processes and stale other hosts are orphaned; live ones are not."""
    process = subprocess.Popen(["true"])  # a process that has ended: its pid is dead
    process.wait()
    host, namespace = owners.this_process().split("/")[:2]
    now = time.time()
    holders = {
        "dead": f"{host}/{namespace}/{process.pid}/1/t",
        "alive": f"{host}/{namespace}/1/0/t",
        "stale": "elsewhere/0/1/0/t",
        "fresh": "elsewhere/0/2/0/t",
        "other-namespace": f"{host}/12345/{process.pid}/1/t",
    }
    with ledger.engine.begin() as db:
        for name, owner in holders.items():
            beat = now - owners.STALE_AFTER - 5 if name == "stale" else now
            db.execute(
                deliveries.insert().values(
                    run_id=name,
                    channel="c",
                    digest="ai",
                    status=ClaimStatus.PENDING,
                    owner=owner,
                    heartbeat=beat,
                    claimed_at=now,
                    posted="[]",
                    payload=PLAN.to_json(),
                )
            )
    assert {claim.run_id for claim in ledger.orphaned(["ai"])} == {"dead", "stale"}
    assert ledger.orphaned(["other"]) == []


def test_own_claim_is_abandoned_only_once_released(ledger: Ledger) -> None:
    """A claim of this process is busy from its creation until released, then abandoned."""
    claim, _ = ledger.claim("run-1", "#ai-news", "ai", PLAN)
    assert not ledger.abandoned(claim)
    ledger.release(claim)
    assert ledger.abandoned(claim)
    ledger.finish(claim, ClaimStatus.DELIVERED)
    assert not ledger.abandoned(ledger.get("run-1", "#ai-news"))


def test_held_claim_stays_pending_and_reserves_its_articles(ledger: Ledger) -> None:
    """A claim whose message may have landed stays pending, so its articles stay seen."""
    claim, _ = ledger.claim("run-1", "#ai-news", "ai", PLAN)
    ledger.hold(claim, "answer lost")
    held = ledger.get("run-1", "#ai-news")
    assert held.status == ClaimStatus.PENDING and held.error == "answer lost"
    assert "https://a.example/1" in ledger.seen("#ai-news").urls


def test_a_claim_taken_over_cannot_be_written_by_its_old_owner(ledger: Ledger) -> None:
    """After another process took a claim over, the old owner's writes fail loudly."""
    claim, _ = ledger.claim("run-1", "#ai-news", "ai", PLAN)
    other = Ledger(ledger.url)
    try:
        assert other.take_over(claim) is not None
        with pytest.raises(LedgerError, match="taken over by another process"):
            ledger.record_part(claim, ["1.1"], "C1")
    finally:
        other.close()


def test_owner_alive_for_this_process() -> None:
    """A claim of this process is alive while active; a pid that never existed is not."""
    owner = owners.new_owner()
    assert owners.alive(owner, 0, time.time())
    owners.release(owner)
    assert not owners.alive(owner, 0, time.time())
    host, namespace = owners.this_process().split("/")[:2]
    assert not owners.alive(f"{host}/{namespace}/999999999/1/t", 0, time.time())


def test_newer_schema_is_refused(database_url: str) -> None:
    """A state store written by a newer digestbot is not touched."""
    Ledger(database_url).close()
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as db:
        db.execute(schema_version.update().values(version=99))
    engine.dispose()
    with pytest.raises(LedgerError, match="schema version 99.*upgrade digestbot"):
        Ledger(database_url)


def test_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    """A state store that cannot be opened says so without a traceback or the password."""
    url = "postgresql+psycopg://user:s3cret@127.0.0.1:1/db"
    with pytest.raises(LedgerError) as caught:
        Ledger(url)
    assert "cannot open the state store" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("channel", "name"),
    [("#AI-News", "ai-news"), ("general", "general"), ("C024BE91L", "C024BE91L")],
)
def test_channel_name(channel: str, name: str) -> None:
    """Channel names are normalised without '#' in lower case; IDs stay as they are."""
    assert channel_name(channel) == name


def test_a_channel_is_one_channel_by_name_or_id(ledger: Ledger) -> None:
    """Once its ID is known, a channel's name and ID share one history in the ledger."""
    ledger.remember_channels({"#ai-news": "C0000001"})
    claim, _ = ledger.claim("run-1", "#AI-News", "ai", PLAN)
    assert claim.channel == "C0000001"
    ledger.record_part(claim, ["1.1"], "C0000001")
    assert ledger.seen("C0000001") == ledger.seen("#ai-news")
    assert "https://a.example/1" in ledger.seen("C0000001").urls
    assert ledger.key("#unknown") == "unknown"


def test_replicas_learning_the_same_channels_at_once_never_deadlock(database_url: str) -> None:
    """Two replicas remembering the same channel IDs, learned in opposite orders, at once."""
    ids = {f"#c{n:03}": f"C{n:08}" for n in range(60)}
    orders = [ids, dict(reversed(ids.items()))]
    ledgers = [Ledger(database_url), Ledger(database_url)]
    failures: list[Exception] = []

    def remember(ledger: Ledger, learned: dict[str, str], start: threading.Barrier) -> None:
        for _ in range(15):
            start.wait()
            try:
                ledger.remember_channels(learned)
            except LedgerError as error:
                failures.append(error)

    start = threading.Barrier(2)
    threads = [
        threading.Thread(target=remember, args=(ledger, learned, start))
        for ledger, learned in zip(ledgers, orders, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert ledgers[1].key("#c007") == "C00000007"
    for ledger in ledgers:
        ledger.close()


def test_reading_never_creates_a_store(database_url: str) -> None:
    """Ledger.existing (preview, status) writes nothing and finds a ledger only once made."""
    assert Ledger.existing(database_url) is None
    assert Ledger.existing(database_url) is None
    if database_url.startswith("sqlite:///"):
        assert not Path(database_url.removeprefix("sqlite:///")).exists()
    Ledger(database_url).close()
    found = Ledger.existing(database_url)
    assert found is not None
    found.close()


def test_an_article_is_known_by_its_key_when_its_address_and_title_change(ledger: Ledger) -> None:
    """A channel that had an article (source and path) never gets it again under a new URL
    and a new title: its plan is refused as taken."""
    first = ClaimPlan("#ai-news", [{"text": "one"}], [[("https://a.example/1", "t", "ai/a.md")]])
    claim, _ = ledger.claim("run-1", "#ai-news", "ai", first)
    ledger.record_part(claim, ["1.1"], None)
    assert ledger.seen("#ai-news").keys == frozenset({"ai/a.md"})
    moved = ClaimPlan("#ai-news", [{"text": "two"}], [[("https://b.example/x", "u", "ai/a.md")]])
    assert ledger.claim("run-2", "#ai-news", "ai", moved) == (None, ClaimResult.TAKEN)


def test_a_version_1_store_is_migrated_in_place(database_url: str) -> None:
    """A ledger written before article keys (schema 1) gains them and keeps every row."""
    Ledger(database_url).close()
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as db:  # what digestbot's first release made
        db.execute(sqlalchemy.text("DROP TABLE sent_articles"))
        db.execute(
            sqlalchemy.text(
                "CREATE TABLE sent_articles (channel VARCHAR(200), key VARCHAR(64), url TEXT, "
                "title TEXT, run_id VARCHAR(300), sent_at FLOAT, PRIMARY KEY (channel, key))"
            )
        )
        db.execute(
            sqlalchemy.text(
                "INSERT INTO sent_articles VALUES ('ai-news', 'k', 'https://a.example/1', "
                "'first', 'run-0', 1.0)"
            )
        )
        db.execute(schema_version.update().values(version=1))
    engine.dispose()
    ledger = Ledger(database_url)
    try:
        seen = ledger.seen("#ai-news")
        assert seen.urls == frozenset({"https://a.example/1"}) and seen.keys == frozenset()
        claim, _ = ledger.claim("run-1", "#ai-news", "ai", PLAN_WITH_KEYS)
        ledger.record_part(claim, ["1.1"], None)
        assert ledger.seen("#ai-news").keys == frozenset({"ai/2.md"})
        with ledger.engine.connect() as db:
            assert (
                db.execute(sqlalchemy.select(schema_version.c.version)).scalar() == SCHEMA_VERSION
            )
    finally:
        ledger.close()


PLAN_WITH_KEYS = ClaimPlan(
    channel="#ai-news",
    messages=[{"text": "one"}],
    articles=[[("https://a.example/2", "second", "ai/2.md")]],
)


def as_another_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Judge owners as a process on another host does: by their heartbeat alone."""
    monkeypatch.setattr(owners, "this_process", lambda: "other-host/0/1/0")
    monkeypatch.setattr(owners, "socket", SimpleNamespace(gethostname=lambda: "other-host"))


def test_a_delivery_held_past_90_s_stays_alive_to_another_host_by_its_heartbeat(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat renews this process's pending claims, so that a delivery held up by rate
    limits longer than STALE_AFTER is not taken over; without it, the claim looks dead."""
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    ledger = Ledger(database_url, clock=clock)
    try:
        held, _ = ledger.claim("run-1", "#ai-news", "ai", PLAN)
        clock.advance(owners.STALE_AFTER - 10)
        ledger.heartbeat()
        clock.advance(owners.STALE_AFTER - 10)  # long past STALE_AFTER since the claim
        assert ledger.get("run-1", "#ai-news").heartbeat == clock.time() - owners.STALE_AFTER + 10
        with monkeypatch.context() as elsewhere:
            as_another_host(elsewhere)
            assert ledger.orphaned(["ai"]) == []
            clock.advance(20)  # no heartbeat for STALE_AFTER + 10 seconds: dead
            assert [claim.run_id for claim in ledger.orphaned(["ai"])] == [held.run_id]
    finally:
        ledger.close()


def test_the_heartbeat_renews_only_this_process_pending_claims(database_url: str) -> None:
    """Claims already closed, and claims of other processes, keep their heartbeat."""
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    ledger = Ledger(database_url, clock=clock)
    try:
        ledger.claim("mine", "#ai-news", "ai", PLAN)
        done, _ = ledger.claim("done", "#general", "ai", PLAN)
        ledger.finish(done, ClaimStatus.DELIVERED)
        theirs, _ = ledger.claim("theirs", "#random", "ai", PLAN)
        with ledger.engine.begin() as db:
            db.execute(
                deliveries.update()
                .where(deliveries.c.run_id == "theirs")
                .values(owner="elsewhere/0/1/0/t")
            )
        before = clock.time()
        clock.advance(60)
        ledger.heartbeat()
        beats = {
            run: ledger.get(run, channel).heartbeat
            for run, channel in (("mine", "#ai-news"), ("done", "#general"), ("theirs", "#random"))
        }
        assert beats == {"mine": before + 60, "done": before, "theirs": before}
    finally:
        ledger.close()
