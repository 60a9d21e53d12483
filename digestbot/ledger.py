"""Beside delivery: the ledger (state store) of runs, claims, deliveries and sent articles.

SQLAlchemy 2 Core; SQLite by default, PostgreSQL for replicas. For every (run, channel) a claim
row is inserted before anything is posted: the primary key makes the insert the lock, so two
processes never post the same run to the same channel. The row then records each message part
as it lands, and the result. A claim whose owner died (same host: the process is gone; another
host: no heartbeat for `STALE_AFTER`) can be taken over, with a compare-and-swap on the owner.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from digestbot.errors import LedgerError
from digestbot.selection import Seen

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA_LOCK = 0x64696765  # any constant: the advisory lock that serialises table creation
STALE_AFTER = 90.0  # seconds without a heartbeat before another host may take over a claim
PENDING, DELIVERED, EMPTY, FAILED = "pending", "delivered", "empty", "failed"
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")

# The claims this process is delivering right now, whichever Ledger object holds them.
_working: set[tuple[str, str]] = set()
_working_lock = threading.Lock()

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
runs = Table(
    "runs",
    metadata,
    Column("run_id", String(300), primary_key=True),
    Column("digest", String(200), nullable=False),
    Column("scheduled_for", Float),
    Column("created_at", Float, nullable=False),
)
deliveries = Table(
    "deliveries",
    metadata,
    Column("run_id", String(300), primary_key=True),
    Column("channel", String(200), primary_key=True),
    Column("digest", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("owner", String(300), nullable=False),
    Column("heartbeat", Float, nullable=False),
    Column("claimed_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("channel_id", String(40)),
    Column("posted", Text, nullable=False, default="[]"),
    Column("payload", Text, nullable=False),
    Column("error", Text),
)
sent_articles = Table(
    "sent_articles",
    metadata,
    Column("channel", String(200), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("run_id", String(300), nullable=False),
    Column("sent_at", Float, nullable=False),
)
channel_ids = Table(
    "channel_ids",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("channel_id", String(40), nullable=False),
)


def channel_key(channel: str) -> str:
    """How the ledger names a channel: IDs as they are, names without '#', lower case."""
    channel = channel.strip()
    return channel if _CHANNEL_ID.fullmatch(channel) else channel.lstrip("#").lower()


def owner_id() -> str:
    """This process: host, pid and the pid's start time (so a reused pid is not mistaken)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks ("0" where /proc is missing; "" for a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return "0"
    return "" if fields[0] == "Z" else fields[19]


def owner_alive(owner: str, heartbeat: float, now: float) -> bool:
    """Whether a claim's owner may still be working on it."""
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return now - heartbeat < STALE_AFTER
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    current = _start_time(pid)
    return current != "" and started in ("0", current)


@dataclass(frozen=True)
class Sent:
    """One article as the ledger remembers it: its address and its title key."""

    url: str
    title: str

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.url}\n{self.title}".encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """A (run, channel) row of the ledger."""

    run_id: str
    channel: str
    digest: str
    status: str
    owner: str
    heartbeat: float
    claimed_at: float
    finished_at: float | None
    channel_id: str | None
    posted: list[str]
    payload: dict[str, Any]
    error: str | None


class Ledger:
    """The state store. Thread-safe: each call uses its own connection from the pool."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = _engine(url)
        except (SQLAlchemyError, ImportError) as error:
            raise LedgerError(
                f"DIGESTBOT_DATABASE_URL is not a usable database URL ({_brief(error)}); "
                "PostgreSQL needs `pip install 'digestbot[postgres]'`"
            ) from None
        try:
            self._create_tables()
            self._check_version()
        except (SQLAlchemyError, LedgerError) as error:
            self.engine.dispose()
            if isinstance(error, LedgerError):
                raise
            raise LedgerError(f"cannot open the state store: {_brief(error)}") from None
        self.owner = owner_id()

    @contextmanager
    def working(self, claim: Claim) -> Iterator[None]:
        """Mark a claim as being delivered by this process right now."""
        key = (claim.run_id, claim.channel)
        with _working_lock:
            _working.add(key)
        try:
            yield
        finally:
            with _working_lock:
                _working.discard(key)

    def abandoned(self, claim: Claim) -> bool:
        """A pending claim nobody is delivering: its owner died, or it is ours but idle."""
        if claim.status != PENDING:
            return False
        if claim.owner == self.owner:
            with _working_lock:
                return (claim.run_id, claim.channel) not in _working
        return not owner_alive(claim.owner, claim.heartbeat, time.time())

    def close(self) -> None:
        self.engine.dispose()

    def _create_tables(self) -> None:
        # Replicas starting together on an empty database would race to create the tables;
        # one transaction holding a lock (SQLite: BEGIN IMMEDIATE) lets one of them do it.
        with self.engine.begin() as db:
            if db.dialect.name == "postgresql":
                db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            metadata.create_all(db)

    def _check_version(self) -> None:
        with self.engine.begin() as db:
            version = db.execute(select(schema_version.c.version)).scalar()
            if version is None:
                db.execute(insert(schema_version).values(version=SCHEMA_VERSION))
            elif version > SCHEMA_VERSION:
                raise LedgerError(
                    f"the state store has schema version {version}, newer than this digestbot"
                    f" ({SCHEMA_VERSION}): upgrade digestbot"
                )

    def seen(self, channel: str) -> Seen:
        """What a channel already had, and what in-flight claims are about to give it."""
        key = channel_key(channel)
        with self.engine.connect() as db:
            rows = db.execute(
                select(sent_articles.c.url, sent_articles.c.title).where(
                    sent_articles.c.channel == key
                )
            ).all()
            pending = db.execute(
                select(deliveries.c.payload).where(
                    deliveries.c.channel == key, deliveries.c.status == PENDING
                )
            ).scalars()
            planned = [Sent(*item) for text in pending for item in _articles(json.loads(text))]
        items = [Sent(url, title) for url, title in rows] + planned
        return Seen(
            urls=frozenset(item.url for item in items),
            titles=frozenset(item.title for item in items),
        )

    def start_run(self, run_id: str, digest: str, scheduled_for: float | None) -> None:
        try:
            with self.engine.begin() as db:
                db.execute(
                    insert(runs).values(
                        run_id=run_id,
                        digest=digest,
                        scheduled_for=scheduled_for,
                        created_at=time.time(),
                    )
                )
        except IntegrityError:
            pass  # another replica, or an earlier start, recorded it

    def claim(
        self, run_id: str, channel: str, digest: str, payload: dict[str, Any]
    ) -> tuple[Claim, bool]:
        """Insert the claim for (run, channel): (it, True); if one exists: (that one, False)."""
        now = time.time()
        row = {
            "run_id": run_id,
            "channel": channel_key(channel),
            "digest": digest,
            "status": PENDING,
            "owner": self.owner,
            "heartbeat": now,
            "claimed_at": now,
            "posted": "[]",
            "payload": json.dumps(payload),
        }
        try:
            with self.engine.begin() as db:
                db.execute(insert(deliveries).values(**row))
        except IntegrityError:
            existing = self.get(run_id, channel)
            if existing is None:  # deleted in between: try once more
                return self.claim(run_id, channel, digest, payload)
            return existing, False
        return _claim({**row, "finished_at": None, "channel_id": None, "error": None}), True

    def get(self, run_id: str, channel: str) -> Claim | None:
        with self.engine.connect() as db:
            row = db.execute(
                select(deliveries).where(
                    deliveries.c.run_id == run_id, deliveries.c.channel == channel_key(channel)
                )
            ).first()
        return _claim(row._mapping) if row else None

    def take_over(self, claim: Claim) -> Claim | None:
        """Make a dead owner's (or a failed) claim ours; None when someone else got there first."""
        with self.engine.begin() as db:
            result = db.execute(
                update(deliveries)
                .where(
                    deliveries.c.run_id == claim.run_id,
                    deliveries.c.channel == claim.channel,
                    deliveries.c.owner == claim.owner,
                    deliveries.c.heartbeat == claim.heartbeat,
                    deliveries.c.status == claim.status,
                )
                .values(owner=self.owner, heartbeat=time.time(), status=PENDING, error=None)
            )
        return self.get(claim.run_id, claim.channel) if result.rowcount == 1 else None

    def record_part(self, claim: Claim, posted: Sequence[str], channel_id: str | None) -> None:
        """Remember that message part len(posted)-1 landed, and its articles as sent; the
        last part also closes the claim as delivered (one transaction: no gap between)."""
        now = time.time()
        part = len(posted) - 1
        items = {item.key: item for item in (Sent(*a) for a in claim.payload["articles"][part])}
        closing = (
            {"status": DELIVERED, "finished_at": now}
            if len(posted) == len(claim.payload["messages"])
            else {}
        )
        with self.engine.begin() as db:
            db.execute(
                update(deliveries)
                .where(*_mine(claim, self.owner))
                .values(
                    posted=json.dumps(list(posted)),
                    channel_id=channel_id,
                    heartbeat=now,
                    **closing,
                )
            )
            if items:
                db.execute(
                    _insert_ignore(self.engine, sent_articles),
                    [
                        {
                            "channel": claim.channel,
                            "key": key,
                            "url": item.url,
                            "title": item.title,
                            "run_id": claim.run_id,
                            "sent_at": now,
                        }
                        for key, item in items.items()
                    ],
                )

    def finish(self, claim: Claim, status: str, *, error: str | None = None) -> None:
        """Close a claim as delivered, empty or failed."""
        now = time.time()
        with self.engine.begin() as db:
            db.execute(
                update(deliveries)
                .where(*_mine(claim, self.owner))
                .values(status=status, error=error, finished_at=now, heartbeat=now)
            )

    def heartbeat(self) -> None:
        """Tell other hosts that this process is still working on its pending claims."""
        with self.engine.begin() as db:
            db.execute(
                update(deliveries)
                .where(deliveries.c.owner == self.owner, deliveries.c.status == PENDING)
                .values(heartbeat=time.time())
            )

    def orphaned(self, digests: Iterable[str]) -> list[Claim]:
        """Pending claims of these digests whose owner is gone: a crash left them."""
        with self.engine.connect() as db:
            rows = db.execute(
                select(deliveries).where(
                    deliveries.c.status == PENDING, deliveries.c.digest.in_(list(digests))
                )
            ).all()
        return [claim for claim in map(_claim, (r._mapping for r in rows)) if self.abandoned(claim)]

    def claims(self, run_id: str) -> list[Claim]:
        with self.engine.connect() as db:
            rows = db.execute(select(deliveries).where(deliveries.c.run_id == run_id)).all()
        return [_claim(row._mapping) for row in rows]

    def latest(self) -> list[Claim]:
        """The most recent claim per (digest, channel), newest first."""
        with self.engine.connect() as db:
            rows = db.execute(select(deliveries).order_by(deliveries.c.claimed_at.desc())).all()
        latest: dict[tuple[str, str], Claim] = {}
        for row in rows:
            claim = _claim(row._mapping)
            latest.setdefault((claim.digest, claim.channel), claim)
        return list(latest.values())

    def channel_id(self, channel: str) -> str | None:
        key = channel_key(channel)
        if _CHANNEL_ID.fullmatch(key):
            return key
        with self.engine.connect() as db:
            return db.execute(
                select(channel_ids.c.channel_id).where(channel_ids.c.name == key)
            ).scalar()

    def remember_channels(self, names: dict[str, str]) -> None:
        """Keep name -> ID so later runs need not list the workspace's channels again."""
        with self.engine.begin() as db:
            for name, channel_id in names.items():
                key = channel_key(name)
                db.execute(channel_ids.delete().where(channel_ids.c.name == key))
                db.execute(insert(channel_ids).values(name=key, channel_id=channel_id))


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_connect(connection: Any, _record: Any) -> None:
        # WAL lets readers work beside a writer, in other processes too.
        _with_retries(lambda: connection.execute("PRAGMA journal_mode=WAL"))
        # pysqlite's deferred BEGIN lets two writers deadlock when both upgrade from reading,
        # which SQLite reports at once as "database is locked"; BEGIN IMMEDIATE waits instead.
        connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _with_retries(action: Any, attempts: int = 50) -> None:
    import sqlite3

    for attempt in range(attempts):
        try:
            action()
            return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _insert_ignore(engine: Engine, table: Table) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _mine(claim: Claim, owner: str) -> tuple[Any, ...]:
    return (
        deliveries.c.run_id == claim.run_id,
        deliveries.c.channel == claim.channel,
        deliveries.c.owner == owner,
    )


def _articles(payload: dict[str, Any]) -> list[list[str]]:
    return [item for part in payload.get("articles", []) for item in part]


def _claim(row: Any) -> Claim:
    return Claim(
        run_id=row["run_id"],
        channel=row["channel"],
        digest=row["digest"],
        status=row["status"],
        owner=row["owner"],
        heartbeat=row["heartbeat"],
        claimed_at=row["claimed_at"],
        finished_at=row["finished_at"],
        channel_id=row["channel_id"],
        posted=json.loads(row["posted"]),
        payload=json.loads(row["payload"]),
        error=row["error"],
    )


def _brief(error: Exception) -> str:
    # The driver's first line says what is wrong; the URL (with a password) is not repeated.
    return str(getattr(error, "orig", None) or error).strip().split("\n")[0]
