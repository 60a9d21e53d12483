"""The ledger read back: each channel's last delivery, and the history of deliveries, newest
first, a page at a time. `status`, the /digest command and the dashboard read it here, with
indexed queries whose cost does not grow with the ledger (no whole-table reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select, tuple_

from digestbot.channelkeys import guarded
from digestbot.channels import channel_name
from digestbot.ledger import Claim, ClaimStatus, Ledger, claim_from_row
from digestbot.store import channel_ids, deliveries

PAGE = 50


@dataclass(frozen=True)
class Cursor:
    """Where a page of the history ends: the next page starts after this claim."""

    claimed_at: float
    run_id: str
    channel: str

    def encode(self) -> str:
        return f"{self.claimed_at!r}|{self.run_id}|{self.channel}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """A cursor from a page link; None for anything else (a hand-edited link)."""
        claimed_at, _, rest = text.partition("|")
        run_id, _, channel = rest.rpartition("|")
        try:
            return cls(float(claimed_at), run_id, channel) if run_id and channel else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Page:
    """Claims newest first, and the cursor of the next (older) page, if there is one."""

    claims: list[Claim]
    older: Cursor | None


@dataclass(frozen=True)
class Filter:
    """Which deliveries a page shows (None: all)."""

    digest: str | None = None
    channel: str | None = None  # as people write it: the ledger's key is looked up
    status: ClaimStatus | None = None


class History:
    """Read-only queries over one ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @guarded
    def last(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Claim]:
        """The most recent claim of each (digest, channel) asked for (channels as configured),
        keyed as asked; one indexed query per pair."""
        found = {}
        with self.ledger.reads.connect() as db:
            for digest, channel in pairs:
                row = db.execute(
                    select(deliveries)
                    .where(
                        deliveries.c.digest == digest,
                        deliveries.c.channel == self.ledger.key(channel),
                    )
                    .order_by(deliveries.c.claimed_at.desc())
                    .limit(1)
                ).first()
                if row is not None:
                    found[digest, channel] = claim_from_row(row._mapping)
        return found

    def _channel(self, channel: str) -> ColumnElement[bool]:
        """Claims in this channel: of the ledger's workspace, or, with many workspaces (a
        ledger of none), the channel of that name or ID in any of them."""
        columns = deliveries.c
        if self.ledger.team is not None:
            return columns.channel == self.ledger.key(channel)
        name = channel_name(channel)
        with self.ledger.reads.connect() as db:
            rows = db.execute(select(channel_ids).where(channel_ids.c.name.like(f"%:{name}")))
            keys = [f"{key.rpartition(':')[0]}:{cid}" for key, cid in rows]
        return or_(columns.channel.in_(keys), columns.channel.like(f"%:{name}"))

    @guarded
    def page(self, chosen: Filter, after: Cursor | None = None, size: int = PAGE) -> Page:
        """One page of the history, newest first, from just after `after`."""
        columns = deliveries.c
        query = select(deliveries)
        if chosen.digest:
            query = query.where(columns.digest == chosen.digest)
        if chosen.channel:
            query = query.where(self._channel(chosen.channel))
        if chosen.status:
            query = query.where(columns.status == chosen.status)
        if after is not None:
            query = query.where(
                # Redundant with what follows, but the one condition an index can start from.
                columns.claimed_at <= after.claimed_at,
                or_(
                    columns.claimed_at < after.claimed_at,
                    and_(
                        columns.claimed_at == after.claimed_at,
                        tuple_(columns.run_id, columns.channel) < (after.run_id, after.channel),
                    ),
                ),
            )
        query = query.order_by(
            columns.claimed_at.desc(), columns.run_id.desc(), columns.channel.desc()
        ).limit(size + 1)
        with self.ledger.reads.connect() as db:
            claims = [claim_from_row(row._mapping) for row in db.execute(query)]
        if len(claims) <= size:
            return Page(claims, None)
        last = claims[size - 1]
        return Page(claims[:size], Cursor(last.claimed_at, last.run_id, last.channel))
