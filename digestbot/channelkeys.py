"""Beside delivery, under the ledger: the key each channel's rows are filed under.

A channel is keyed `TEAM:ID` once its Slack ID is known, else `TEAM:name`: a name, an ID and a
renamed channel are one channel, and two workspaces' channels of one name are two. IDs learned
from Slack are kept in the store, shared with every process. A ledger written before workspaces
keys its channels by name alone until `adopt` names its one workspace. Tables: `store`.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Engine, Table, insert, literal, select, update
from sqlalchemy.exc import SQLAlchemyError

from digestbot.channels import channel_name, is_channel_id, scoped
from digestbot.clock import SYSTEM, Clock
from digestbot.errors import LedgerError
from digestbot.store import (
    brief,
    channel_ids,
    deliveries,
    lock_channel,
    meta,
    open_engine,
    open_existing,
    reader,
    sent_articles,
    upsert,
)

log = logging.getLogger(__name__)

DEFAULT_TEAM = "default_team"
ADDRESS = "address:"  # the meta key of a workspace's address: address:T0123

_T = TypeVar("_T")


def guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn a database failure into a LedgerError that says so (and shows no password)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as error:
            raise LedgerError(f"the state store failed: {brief(error)}") from None

    return wrapper


class ChannelKeys:
    """The state store, opened for one workspace, and the key it files each channel under.

    Apart from the ledger's claims, which build on it, so that what makes a name, an ID and a
    renamed channel one channel lives in one place. Thread-safe: each call uses its own
    connection from the pool.
    """

    def __init__(
        self,
        url: str,
        engine: Engine | None = None,
        *,
        clock: Clock = SYSTEM,
        team: str | None = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self.engine = engine or open_engine(url)
        self.reads = reader(self.engine)
        self._ids: dict[str, str] | None = None
        self._ids_lock = threading.Lock()
        # The workspace whose channels this ledger speaks of (None: a ledger from before
        # workspaces, until `adopt` names its one workspace).
        self.team = team if team is not None else self._default_team()

    @classmethod
    def existing(cls, url: str, *, clock: Clock = SYSTEM) -> Self | None:
        """The ledger if the store already has one; reading never creates tables."""
        engine = open_existing(url)
        return cls(url, engine, clock=clock) if engine else None

    def close(self) -> None:
        self.engine.dispose()

    @guarded
    def key(self, channel: str) -> str:
        """How the ledger knows a channel: `TEAM:ID` when its ID is known, else `TEAM:name`
        (a key already is one)."""
        if self.team and channel.startswith(f"{self.team}:"):
            return channel
        return scoped(self.team, self.channel_id(channel) or channel_name(channel))

    @guarded
    def channel_id(self, channel: str) -> str | None:
        """The channel's Slack ID, as written or as learned in this workspace (None: unknown)."""
        name = channel_name(channel)
        if is_channel_id(name):
            return name
        with self._ids_lock:
            if self._ids is None:  # one query for all: the table holds the configured channels
                with self.reads.connect() as db:
                    self._ids = {name: cid for name, cid in db.execute(select(channel_ids))}
            return self._ids.get(scoped(self.team, name))

    def scoped(self, team: str) -> Self:
        """This ledger, speaking of one workspace's channels (its connections shared)."""
        other = copy.copy(self)
        other.team = team
        other._ids, other._ids_lock = None, threading.Lock()
        return other

    @guarded
    def adopt(self, team: str) -> None:
        """Name the workspace of a ledger written before workspaces: its channel keys gain the
        team, in place, once (with a single bot token, the token's workspace)."""
        with self.engine.begin() as db:
            lock_channel(db, "adopt")  # replicas starting together adopt once
            if db.execute(select(meta.c.value).where(meta.c.key == DEFAULT_TEAM)).scalar():
                self.team = team
                return
            for table, column in ((deliveries, "channel"), (sent_articles, "channel")):
                _prefix(db, table, column, team)
            _prefix(db, channel_ids, "name", team)
            db.execute(insert(meta).values(key=DEFAULT_TEAM, value=team))
        log.info("ledger adopted workspace team=%s", team)
        self.team = team
        with self._ids_lock:
            self._ids = None

    def _default_team(self) -> str | None:
        with self.reads.connect() as db:
            return db.execute(select(meta.c.value).where(meta.c.key == DEFAULT_TEAM)).scalar()

    @guarded
    def remember_address(self, team: str, url: str) -> None:
        """Keep a workspace's address (auth.test's `url`): every process, the dashboard's
        history included, can then link to the messages posted there."""
        if team and url:
            row = {"key": _address_key(team), "value": url}
            with self.engine.begin() as db:
                db.execute(upsert(self.engine, meta, "key", "value"), [row])

    @guarded
    def addresses(self) -> dict[str, str]:
        """The address of every workspace posted to, by team."""
        with self.reads.connect() as db:
            rows = db.execute(
                select(meta.c.key, meta.c.value).where(meta.c.key.startswith(ADDRESS))
            )
            return {key.removeprefix(ADDRESS): value for key, value in rows}

    @guarded
    def remember_channels(self, ids: dict[str, str]) -> None:
        """Keep name -> ID, shared with every process using this ledger."""
        # In name order: replicas upserting the same rows in different orders would deadlock.
        rows = sorted(
            (
                {"name": scoped(self.team, channel_name(name)), "channel_id": cid}
                for name, cid in ids.items()
            ),
            key=lambda row: row["name"],
        )
        if rows:
            with self.engine.begin() as db:
                db.execute(upsert(self.engine, channel_ids, "name", "channel_id"), rows)
        with self._ids_lock:
            self._ids = None  # read again, with what other processes learned meanwhile


def _address_key(team: str) -> str:
    return f"{ADDRESS}{team}"


def _prefix(db: Connection, table: Table, column: str, team: str) -> None:
    """Key every unkeyed channel of `table` with the team (channel names hold no ':')."""
    field = table.c[column]
    db.execute(
        update(table).where(~field.contains(":")).values({column: literal(f"{team}:") + field})
    )
