"""Beside delivery: the ledger of claims, delivered parts and sent articles.

For every (run, channel) a claim row is inserted before anything is posted: the primary key
makes the insert the lock, so two processes never post the same run to the same channel, and a
per-channel lock around "what did this channel have?" and the insert keeps two different runs
from planning the same article for it. The row then records each message part as it lands.
A claim whose owner is gone (see `owners`) can be taken over, with a compare-and-swap on the
owner. Each channel's rows are filed under its key (see `channelkeys`). Tables: `store`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from digestbot import owners
from digestbot.channelkeys import ChannelKeys, guarded
from digestbot.errors import LedgerError
from digestbot.selection import Seen, title_key
from digestbot.store import deliveries, insert_ignore, lock_channel, sent_articles


class ClaimStatus(StrEnum):
    """Where a claim stands: pending until it is closed as delivered, empty or failed."""

    PENDING = "pending"
    DELIVERED = "delivered"
    EMPTY = "empty"
    FAILED = "failed"


class ClaimResult(StrEnum):
    """What asking for a claim gave: a new claim, the run's existing one, or nothing because
    another run took some of the planned articles meanwhile."""

    CREATED = "created"
    EXISTS = "exists"
    TAKEN = "taken"


@dataclass(frozen=True)
class Sent:
    """One article as the ledger remembers it: its address, its title key and its article key
    (source and path: how it is known when its address or title changes; none in old rows)."""

    url: str
    title: str
    article: str | None = None

    @property
    def row_key(self) -> str:
        return hashlib.sha256(f"{self.url}\n{self.title}".encode()).hexdigest()


@dataclass(frozen=True)
class ClaimPlan:
    """What a claim will post: the messages and, for each, its articles (address, title key,
    article key; claims written before article keys have only the first two)."""

    channel: str  # as configured, or as typed: how people know the channel
    messages: list[dict[str, Any]]
    articles: list[list[tuple[str, ...]]]
    scheduled_for: float | None = None  # for a scheduled run: when it was due

    def all_articles(self) -> list[Sent]:
        return [Sent(*article) for part in self.articles for article in part]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ClaimPlan:
        data = json.loads(text)
        data["articles"] = [[tuple(article) for article in part] for part in data["articles"]]
        return cls(**data)


@dataclass(frozen=True)
class Claim:
    """A (run, channel) row of the ledger; `channel` is the channel's ID once resolved."""

    run_id: str
    channel: str
    digest: str
    status: ClaimStatus
    owner: str
    heartbeat: float
    claimed_at: float
    finished_at: float | None
    channel_id: str | None
    posted: list[str]
    plan: ClaimPlan
    error: str | None


class Ledger(ChannelKeys):
    """Claims, delivered parts and sent articles: what keeps two processes, or two runs, from
    posting the same run or the same article to a channel. Thread-safe: each call uses its own
    connection from the pool."""

    @cached_property
    def _insert_sent(self) -> Any:
        return insert_ignore(self.engine, sent_articles)

    @guarded
    def seen(self, channel: str) -> Seen:
        """What a channel already had, and what in-flight claims are about to give it."""
        return self.seen_all([channel])[channel]

    @guarded
    def seen_all(self, channels: Iterable[str]) -> dict[str, Seen]:
        """`seen` for many channels, in two queries."""
        keys = {channel: self.key(channel) for channel in channels}
        with self.reads.connect() as db:
            by_key = _seen(db, set(keys.values()))
        return {channel: by_key[key] for channel, key in keys.items()}

    def claim(
        self,
        run_id: str,
        channel: str,
        digest: str,
        plan: ClaimPlan,
        *,
        force: bool = False,
    ) -> tuple[Claim | None, ClaimResult]:
        """Claim (run, channel) for this process before posting; see `claim_all`."""
        return self.claim_all(run_id, digest, {channel: plan}, force=force)[channel]

    @guarded
    def claim_all(
        self,
        run_id: str,
        digest: str,
        plans: dict[str, ClaimPlan],
        *,
        force: bool = False,
    ) -> dict[str, tuple[Claim | None, ClaimResult]]:
        """Claim (run, channel) for each channel, in one transaction, before posting.

        Per channel: (the new claim, CREATED); (the existing claim, EXISTS) when this run
        already has one; or (None, TAKEN) when another run has meanwhile sent or claimed one of
        the planned articles for that channel (unless `force`): plan again and retry.
        """
        keys = {channel: self.key(channel) for channel in plans}
        with self.engine.begin() as db:
            return _claim_each(db, run_id, digest, plans, keys, force, self.clock.time())

    @guarded
    def get(self, run_id: str, channel: str) -> Claim | None:
        key = self.key(channel)
        with self.reads.connect() as db:
            row = db.execute(
                select(deliveries).where(deliveries.c.run_id == run_id, deliveries.c.channel == key)
            ).first()
        return claim_from_row(row._mapping) if row else None

    @guarded
    def take_over(self, claim: Claim, plan: ClaimPlan | None = None) -> Claim | None:
        """Make an abandoned (or failed) claim ours, optionally with a new plan; None when
        someone else got there first, or when the new plan's articles were taken meanwhile."""
        owner = owners.new_owner()
        values: dict[str, Any] = {
            "owner": owner,
            "heartbeat": self.clock.time(),
            "status": ClaimStatus.PENDING,
        }
        if plan is not None:
            values["payload"] = plan.to_json()
        with self.engine.begin() as db:
            lock_channel(db, claim.channel)
            if plan is not None and _overlaps(plan, _seen(db, {claim.channel})[claim.channel]):
                owners.release(owner)
                return None
            result = db.execute(
                update(deliveries)
                .where(
                    deliveries.c.run_id == claim.run_id,
                    deliveries.c.channel == claim.channel,
                    deliveries.c.owner == claim.owner,
                    deliveries.c.heartbeat == claim.heartbeat,
                    deliveries.c.status == claim.status,
                )
                .values(**values)
            )
        if result.rowcount != 1:
            owners.release(owner)
            return None
        return self.get(claim.run_id, claim.channel)

    def release(self, claim: Claim) -> None:
        """This process stops working on the claim (whatever its status)."""
        owners.release(claim.owner)

    def abandoned(self, claim: Claim) -> bool:
        """A pending claim nobody is delivering: its owner died, or it is ours but idle."""
        return claim.status == ClaimStatus.PENDING and not owners.alive(
            claim.owner, claim.heartbeat, self.clock.time()
        )

    @guarded
    def record_part(self, claim: Claim, posted: Sequence[str], channel_id: str | None) -> None:
        """Remember that message part len(posted)-1 landed, and its articles as sent; the
        last part also closes the claim as delivered (one transaction: no gap between)."""
        now = self.clock.time()
        part = len(posted) - 1
        items = {item.row_key: item for item in (Sent(*a) for a in claim.plan.articles[part])}
        done = len(posted) == len(claim.plan.messages)
        closing = {"status": ClaimStatus.DELIVERED, "finished_at": now} if done else {}
        with self.engine.begin() as db:
            _update_mine(
                db,
                claim,
                posted=json.dumps(list(posted)),
                channel_id=channel_id,
                heartbeat=now,
                **closing,
            )
            if items:
                db.execute(
                    self._insert_sent,
                    [
                        {
                            "channel": claim.channel,
                            "key": key,
                            "url": item.url,
                            "title": item.title,
                            "article": item.article,
                            "run_id": claim.run_id,
                            "sent_at": now,
                        }
                        for key, item in items.items()
                    ],
                )

    @guarded
    def finish(self, claim: Claim, status: ClaimStatus, *, error: str | None = None) -> None:
        """Close a claim as delivered, empty or failed."""
        now = self.clock.time()
        with self.engine.begin() as db:
            _update_mine(db, claim, status=status, error=error, finished_at=now, heartbeat=now)

    @guarded
    def replan(self, claim: Claim, plan: ClaimPlan) -> Claim:
        """The claim's remaining parts planned anew (a message Slack refused as too long, split
        in two): what landed stays as it was; the claim, with its new plan."""
        with self.engine.begin() as db:
            _update_mine(db, claim, payload=plan.to_json(), heartbeat=self.clock.time())
        return replace(claim, plan=plan)

    @guarded
    def hold(self, claim: Claim, error: str) -> None:
        """Leave a claim pending with the reason: a message may have landed, unconfirmed, or
        the process is stopping. Its articles stay reserved; any process may finish it."""
        with self.engine.begin() as db:
            _update_mine(db, claim, error=error, heartbeat=self.clock.time())

    @guarded
    def heartbeat(self) -> None:
        """Tell other hosts that this process is still working on its pending claims."""
        with self.engine.begin() as db:
            db.execute(
                update(deliveries)
                .where(
                    deliveries.c.owner.startswith(owners.this_process() + "/", autoescape=True),
                    deliveries.c.status == ClaimStatus.PENDING,
                )
                .values(heartbeat=self.clock.time())
            )

    @guarded
    def orphaned(self, digests: Iterable[str]) -> list[Claim]:
        """Pending claims of these digests that nobody is delivering (a crash, a lost answer)."""
        with self.reads.connect() as db:
            rows = db.execute(
                select(deliveries).where(
                    deliveries.c.status == ClaimStatus.PENDING,
                    deliveries.c.digest.in_(list(digests)),
                )
            ).all()
        return [
            claim
            for claim in (claim_from_row(row._mapping) for row in rows)
            if self.abandoned(claim)
        ]

    @guarded
    def claims(self, run_id: str) -> list[Claim]:
        with self.reads.connect() as db:
            rows = db.execute(select(deliveries).where(deliveries.c.run_id == run_id)).all()
        return [claim_from_row(row._mapping) for row in rows]


def _claim_each(
    db: Connection,
    run_id: str,
    digest: str,
    plans: dict[str, ClaimPlan],
    keys: dict[str, str],
    force: bool,
    now: float,
) -> dict[str, tuple[Claim | None, ClaimResult]]:
    """The body of `claim_all`: a few queries for all channels, then one insert."""
    ordered = sorted(set(keys.values()))
    for key in ordered:  # always in the same order: two processes never deadlock
        lock_channel(db, key)
    claims = {
        row.channel: claim_from_row(row._mapping)
        for row in db.execute(
            select(deliveries).where(
                deliveries.c.run_id == run_id, deliveries.c.channel.in_(ordered)
            )
        )
    }
    seen = _seen(db, set(ordered))
    results: dict[str, tuple[Claim | None, ClaimResult]] = {}
    rows = []
    for channel, plan in plans.items():
        key = keys[channel]
        if key in claims:
            results[channel] = claims[key], ClaimResult.EXISTS
        elif not force and _overlaps(plan, seen[key]):
            results[channel] = None, ClaimResult.TAKEN
        else:
            rows.append(_new_row(run_id, key, digest, plan, now))
            claims[key] = claim_from_row(rows[-1])
            results[channel] = claims[key], ClaimResult.CREATED
    try:
        if rows:
            db.execute(insert(deliveries), rows)
    except BaseException:
        for row in rows:
            owners.release(row["owner"])
        raise
    return results


def _new_row(run_id: str, key: str, digest: str, plan: ClaimPlan, now: float) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "channel": key,
        "digest": digest,
        "status": ClaimStatus.PENDING,
        "owner": owners.new_owner(),
        "heartbeat": now,
        "claimed_at": now,
        "posted": "[]",
        "payload": plan.to_json(),
        "finished_at": None,
        "channel_id": None,
        "error": None,
    }


# Built once: these run for every channel of every run, and building costs more than running.
_UPDATE_MINE = update(deliveries).where(
    deliveries.c.run_id == bindparam("mine_run"),
    deliveries.c.channel == bindparam("mine_channel"),
    deliveries.c.owner == bindparam("mine_owner"),
)


def _update_mine(db: Connection, claim: Claim, **values: Any) -> None:
    mine = {"mine_run": claim.run_id, "mine_channel": claim.channel, "mine_owner": claim.owner}
    result = db.execute(_UPDATE_MINE, {**mine, **values})
    if result.rowcount != 1:
        raise LedgerError(
            f"the claim for {claim.channel} in run {claim.run_id} was taken over by another "
            "process (this one looked dead to it); it finishes the delivery"
        )


def _seen(db: Connection, keys: set[str]) -> dict[str, Seen]:
    items: dict[str, list[Sent]] = {key: [] for key in keys}
    columns = sent_articles.c
    sent = db.execute(
        select(columns.channel, columns.url, columns.title, columns.article).where(
            columns.channel.in_(keys)
        )
    )
    for channel, url, title, article in sent:
        items[channel].append(Sent(url, title, article))
    pending = db.execute(
        select(deliveries.c.channel, deliveries.c.payload).where(
            deliveries.c.channel.in_(keys), deliveries.c.status == ClaimStatus.PENDING
        )
    )
    for channel, payload in pending:
        items[channel].extend(ClaimPlan.from_json(payload).all_articles())
    return {
        key: Seen(
            urls=frozenset(i.url for i in found),
            # Keys stored by an older digestbot folded less: fold them the way it does now.
            titles=frozenset(title_key(i.title) for i in found),
            keys=frozenset(i.article for i in found if i.article),
        )
        for key, found in items.items()
    }


def _overlaps(plan: ClaimPlan, seen: Seen) -> bool:
    return any(
        item.url in seen.urls or item.title in seen.titles or item.article in seen.keys
        for item in plan.all_articles()
    )


def claim_from_row(row: Any) -> Claim:
    """A claim from a row of the deliveries table."""
    return Claim(
        run_id=row["run_id"],
        channel=row["channel"],
        digest=row["digest"],
        status=ClaimStatus(row["status"]),
        owner=row["owner"],
        heartbeat=row["heartbeat"],
        claimed_at=row["claimed_at"],
        finished_at=row["finished_at"],
        channel_id=row["channel_id"],
        posted=json.loads(row["posted"]),
        plan=ClaimPlan.from_json(row["payload"]),
        error=row["error"],
    )
