"""The state store's tables and connections (SQLAlchemy 2 Core): SQLite or PostgreSQL.

The ledger's logic lives in `ledger`; this module only says what is stored and how to reach
it safely from several threads and processes: SQLite in WAL mode with BEGIN IMMEDIATE,
PostgreSQL with advisory locks, tables created once even when replicas start together.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from digestbot.errors import LedgerError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 5
# What each version adds to the one before, run in order on an older store, in one transaction.
MIGRATIONS = {
    2: ["ALTER TABLE sent_articles ADD COLUMN article TEXT"],  # articles known by source/path
    # The history read newest first, whole or by digest and channel, or by status (dashboard).
    3: [
        "CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (claimed_at)",
        "CREATE INDEX IF NOT EXISTS deliveries_by_digest "
        "ON deliveries (digest, channel, claimed_at)",
        "CREATE INDEX IF NOT EXISTS deliveries_by_channel ON deliveries (channel, claimed_at)",
        "CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (status, claimed_at)",
    ],
    # The history of one digest, newest first, without sorting all of it.
    4: ["CREATE INDEX IF NOT EXISTS deliveries_by_digest_time ON deliveries (digest, claimed_at)"],
    # Many workspaces: their installations (slack-sdk's tables), states, and the ledger's meta.
    5: [lambda db: metadata.create_all(db, tables=[meta, workspace_states])],
}
_READ_ONLY = "digestbot_read_only"
_SCHEMA_LOCK = 0x64696765  # any constant: the advisory lock that serialises table creation

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
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
    Index("deliveries_by_time", "claimed_at"),
    Index("deliveries_by_digest", "digest", "channel", "claimed_at"),
    Index("deliveries_by_channel", "channel", "claimed_at"),
    Index("deliveries_by_status", "status", "claimed_at"),
    Index("deliveries_by_digest_time", "digest", "claimed_at"),
)
sent_articles = Table(
    "sent_articles",
    metadata,
    Column("channel", String(200), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("article", Text),
    Column("run_id", String(300), nullable=False),
    Column("sent_at", Float, nullable=False),
)
channel_ids = Table(
    "channel_ids",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("channel_id", String(40), nullable=False),
)
# Small facts about the ledger itself: `default_team`, the workspace a single-workspace ledger
# belongs to (its channels are keyed `TEAM:CHANNEL` since schema 5).
meta = Table(
    "digestbot_meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)
# Each workspace's standing, beside its installation: needing a reinstall (and why), and the
# lease of whoever is rotating its token (a refresh token works once).
workspace_states = Table(
    "workspace_states",
    metadata,
    Column("team_id", String(40), primary_key=True),
    Column("needs_reinstall", Text),
    Column("updated_at", Float),
    Column("rotating_by", String(300)),
    Column("rotating_until", Float),
)
# slack-sdk's own installation and OAuth state tables, in this database, under their default
# names, created with the ledger's (a test checks the names against slack-sdk's).
SLACK_TABLES = ("slack_installations", "slack_bots", "slack_oauth_states")


@cache
def slack_metadata() -> MetaData:
    """slack-sdk's tables. Built on first use: their modules import SQLAlchemy's ORM and asyncio,
    a tenth of a second at every start of a store that already has them."""
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    installs, states, tables = SQLAlchemyInstallationStore, SQLAlchemyOAuthStateStore, MetaData()
    installs.build_installations_table(tables, installs.default_installations_table_name)
    installs.build_bots_table(tables, installs.default_bots_table_name)
    states.build_oauth_states_table(tables, states.default_table_name)
    return tables


def open_engine(url: str) -> Engine:
    """Connect and make sure the tables exist at a schema version this code understands."""
    engine = _connect(url)
    with _opening(engine):
        _create_tables(engine)
        _check_version(engine)
    return engine


def open_existing(url: str) -> Engine | None:
    """Connect without writing anything: None when the store has no tables yet."""
    engine = _connect(url)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and not Path(database).is_file():
        engine.dispose()  # connecting would create the file
        return None
    with _opening(engine):
        if not inspect(engine).has_table(schema_version.name):
            engine.dispose()
            return None
        _check_version(engine)
    return engine


def _connect(url: str) -> Engine:
    try:
        return _engine(url)
    except ImportError as error:
        raise LedgerError(
            f"DIGESTBOT_DATABASE_URL needs a database driver that is not installed "
            f"({error.name or 'unknown'}); PostgreSQL needs `pip install 'digestbot[postgres]'`"
        ) from None
    except (SQLAlchemyError, ValueError, TypeError):
        # The parser's words quote the URL, password and all: say what to fix instead.
        raise LedgerError(
            "DIGESTBOT_DATABASE_URL (or DATABASE_URL) is not a valid database URL: write it like "
            "postgresql://user:password@host:5432/name, with @ : / in the password written "
            "%40 %3A %2F"
        ) from None


@contextmanager
def _opening(engine: Engine) -> Iterator[None]:
    """Close the engine on failure and say what failed, without the URL."""
    try:
        yield
    except (SQLAlchemyError, LedgerError) as error:
        engine.dispose()
        if isinstance(error, LedgerError):
            raise
        raise LedgerError(f"cannot open the state store: {brief(error)}") from None


def reader(engine: Engine) -> Engine:
    """The engine for queries that only read: on SQLite they wait for no writer."""
    return engine.execution_options(**{_READ_ONLY: True})


def lock_channel(db: Connection, channel: str) -> None:
    """Serialise work on one channel until the transaction ends (SQLite: it already is)."""
    if db.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(channel.encode()).digest()[:8], "big", signed=True)
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def insert_ignore(engine: Engine, table: Table) -> Any:
    """INSERT that skips rows whose key exists (both dialects spell it ON CONFLICT DO NOTHING)."""
    return _dialect_insert(engine, table).on_conflict_do_nothing()


def upsert(engine: Engine, table: Table, key: str, value: str) -> Any:
    """INSERT that updates `value` where the `key` exists: safe when replicas write at once."""
    statement = _dialect_insert(engine, table)
    return statement.on_conflict_do_update(
        index_elements=[key], set_={value: statement.excluded[value]}
    )


def _dialect_insert(engine: Engine, table: Table) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def brief(error: Exception) -> str:
    """The driver's first line says what is wrong; the URL (with a password) is not repeated."""
    return str(getattr(error, "orig", None) or error).strip().split("\n")[0]


def _engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_connect(connection: Any, _record: Any) -> None:
        # WAL lets readers work beside a writer, in other processes too.
        _retry_locked(lambda: connection.execute("PRAGMA journal_mode=WAL"))
        # pysqlite's deferred BEGIN lets two writers deadlock when both upgrade from reading,
        # which SQLite reports at once as "database is locked"; BEGIN IMMEDIATE waits instead.
        connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        # A reader takes no lock (in WAL it reads beside a writer); a writer takes its lock at
        # once, so that two writers queue instead of failing.
        reading = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


def _retry_locked(action: Any, attempts: int = 50) -> None:
    # Switching a new database to WAL needs a moment alone with it; the busy timeout does not
    # cover that pragma.
    for attempt in range(attempts):
        try:
            action()
            return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _create_tables(engine: Engine) -> None:
    # Replicas starting together on an empty database would race to create the tables;
    # one transaction holding a lock (SQLite: BEGIN IMMEDIATE) lets one of them do it.
    with engine.begin() as db:
        if db.dialect.name == "postgresql":
            db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        metadata.create_all(db)
        if not set(SLACK_TABLES) <= set(inspect(db).get_table_names()):
            slack_metadata().create_all(db)


def _check_version(engine: Engine) -> None:
    with engine.begin() as db:
        if db.dialect.name == "postgresql":  # replicas starting together migrate once
            db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        version = db.execute(select(schema_version.c.version)).scalar()
        if version is None:
            db.execute(insert(schema_version).values(version=SCHEMA_VERSION))
        elif version > SCHEMA_VERSION:
            raise LedgerError(
                f"the state store has schema version {version}, newer than this digestbot"
                f" ({SCHEMA_VERSION}): upgrade digestbot"
            )
        elif version < SCHEMA_VERSION:
            _migrate(db, version)


def _migrate(db: Connection, version: int) -> None:
    """Bring an older store to this version, in place, losing nothing."""
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for step in MIGRATIONS[target]:
            if isinstance(step, str):
                db.execute(text(step))
            else:
                step(db)
    db.execute(update(schema_version).values(version=SCHEMA_VERSION))
    log.info("state store migrated from_version=%d to_version=%d", version, SCHEMA_VERSION)
