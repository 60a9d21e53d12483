"""Benchmark: the dashboard's overview and first deliveries page with 1,000 and 100,000
deliveries in the ledger, on SQLite and PostgreSQL.

Run:  python bench/bench_dashboard.py [--small 1000] [--large 100000] [--requests 30]
                                      [--databases sqlite,postgresql] [--explain]
                                      [--postgres postgresql://postgres@127.0.0.1:5432/test]

For each database, two ledgers are created through `digestbot.ledger.Ledger` (digestbot's own
tables and indexes: a SQLite file, and a PostgreSQL database made for the run and dropped after)
and filled with SQLAlchemy Core bulk inserts: five digests on twenty channels, runs spread over
six months, mostly delivered, some failed or empty, each claim's payload a real claim plan
(messages built by `digestbot.compose` from one to four articles), the delivered articles in
`sent_articles` too. PostgreSQL tables are ANALYZEd after the fill, as autovacuum would.

Both ledgers are then served at once by `digestbot dashboard` (real processes), logged in with
the one-time link, and timed over HTTP as a browser meets them: GET /, GET /deliveries, after
a warm-up, in rounds that alternate between the two ledgers so that noise falls on both alike.
Prints the median of each and the ratio large/small against the target: at most 2x for the
overview and the first page. For information only: the second page (its "Older deliveries"
link), the first page of one digest (the filter form's digest alone) and the page that starts
halfway back (the link that many "Older deliveries" clicks reach). `--explain` adds the plans
of the pages' queries on the large ledger. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from sqlalchemy import create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url

from digestbot.articles import Article, Related
from digestbot.compose import Topic, compose
from digestbot.history import Cursor, Filter, History
from digestbot.ledger import ClaimPlan, Ledger, Sent
from digestbot.selection import title_key
from digestbot.store import channel_ids, deliveries, sent_articles

HERE = Path(__file__).resolve().parent
TARGET = 2.0
SPAN = timedelta(days=180)  # claims spread over six months, the newest an hour ago
BATCH = 5000
WARM_UP = 3
DATABASES = ("sqlite", "postgresql")
STARTUP_SECONDS = 60

# Twenty channels, as Slack knows them (name -> ID), and five digests over them.
# fmt: off
CHANNEL_NAMES = [
    "ai-news", "ml-research", "data-eng", "cloud", "devops", "security", "sec-alerts",
    "startups", "product", "design", "general", "random", "engineering", "infra", "mobile",
    "frontend", "backend", "leadership", "sales", "marketing",
]
WORDS = [
    "chip", "model", "cloud", "startup", "raises", "breach", "patch", "open", "source", "agent",
    "robot", "vision", "sensor", "data", "center", "quantum", "browser", "app", "regulator",
    "lawsuit", "benchmark", "release", "outage", "camera", "launch", "battery", "privacy", "GPU",
    "training", "inference", "network", "platform", "update", "funding", "acquisition",
]
# fmt: on
CHANNELS = {name: f"C0BENCH{number:04d}" for number, name in enumerate(CHANNEL_NAMES)}
DIGESTS: dict[str, dict[str, Any]] = {
    "ai-daily": {
        "title": "AI daily",
        "topics": ["AI", "AI Hardware"],
        "channels": ["ai-news", "ml-research", "data-eng", "engineering", "general", "product"],
        "schedule": "0 9 * * 1-5",
        "timezone": "Europe/Berlin",
    },
    "cloud-weekly": {
        "title": "Cloud weekly",
        "topics": ["Azure", "AWS"],
        "channels": ["cloud", "devops", "infra", "backend"],
        "schedule": "0 8 * * mon",
    },
    "security": {
        "title": "Security watch",
        "topics": ["Security"],
        "channels": ["security", "sec-alerts", "infra", "engineering", "leadership"],
        "schedule": "30 7 * * *",
        "timezone": "America/New_York",
    },
    "startups": {
        "title": "Startups",
        "topics": ["Startups", "Funding"],
        "channels": ["startups", "sales", "marketing", "leadership"],
        "schedule": "0 12 * * 1-5",
    },
    "frontends": {
        "title": "Apps and the web",
        "topics": ["Mobile", "Web"],
        "channels": ["mobile", "frontend", "design", "random", "product"],
        "schedule": "0 10 * * 2,4",
        "timezone": "Asia/Tokyo",
    },
}
STATUSES = [("delivered", 0.90), ("empty", 0.05), ("failed", 0.05)]
FAILURES = [
    "the bot is not in #{0}: invite the bot to #{0}",
    "#{0} is archived: unarchive it or remove it from the config",
    "Slack did not answer in time (rate limited): the next run tries again",
]
PROVIDERS = ["The Verge", "Engadget", "TechCrunch", "Ars Technica", "Wired", "ZDNet", "i"]
PAGES = {
    "overview": "overview (/)",
    "first": "deliveries, first page",
    "second": "deliveries, second page",
    "digest": "deliveries, one digest",
    "halfway": "deliveries, halfway back",
}
ONE_DIGEST = "ai-daily"  # the filter form's digest choice, alone
TARGETED = ("overview", "first")


@dataclass(frozen=True)
class RunSpec:
    """One run of a digest: its claims in every channel share the time and the plan."""

    run_id: str
    digest: str
    claimed_at: float
    scheduled_for: float | None
    messages: str  # JSON of the messages, as a claim plan holds them
    articles: list[list[tuple[str, str, str]]]


@dataclass
class Timings:
    """Seconds per request, per page and ledger size."""

    samples: dict[tuple[str, int], list[float]]

    def median(self, page: str, size: int) -> float:
        return statistics.median(self.samples[page, size])


# The ledger's contents.


@functools.cache
def runs_for(size: int, seed: int) -> list[RunSpec]:
    """Enough runs to make `size` claims, spread over SPAN, each with its own articles."""
    rng = random.Random(seed)
    newest = datetime.now(UTC) - timedelta(hours=1)
    names = list(DIGESTS)
    runs: list[RunSpec] = []
    claims = 0
    serial = iter(range(10**9))
    span = int(SPAN.total_seconds() // 60)
    minutes = rng.sample(range(span), min(size, span))  # distinct run times
    while claims < size:
        name = rng.choice(names)
        due = newest - timedelta(minutes=minutes[len(runs)])
        runs.append(_run(rng, name, due, serial))
        claims += len(DIGESTS[name]["channels"])
    return runs


def _run(rng: random.Random, name: str, due: datetime, serial: Iterator[int]) -> RunSpec:
    digest = DIGESTS[name]
    topics = [
        Topic(topic, tuple(_article(rng, topic, next(serial)) for _ in range(rng.randint(1, 2))))
        for topic in digest["topics"]
    ]
    messages = compose(digest["title"], topics, due)
    manual = rng.random() < 0.05
    stamp = due.isoformat(timespec="seconds")
    run_id = f"{name}@manual:{stamp}:{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}"
    return RunSpec(
        run_id=run_id if manual else f"{name}@{due.isoformat()}",
        digest=name,
        claimed_at=due.timestamp() + rng.uniform(0.2, 3.0),
        scheduled_for=None if manual else due.timestamp(),
        messages=json.dumps([message.arguments() for message in messages]),
        articles=[
            [(a.url, title_key(a.title), a.key) for a in message.articles] for message in messages
        ],
    )


def _article(rng: random.Random, topic: str, number: int) -> Article:
    words = rng.sample(WORDS, 7)
    title = f"{topic}: {' '.join(words).capitalize()} ({number})"
    slug = "-".join(words)
    return Article(
        path=f"_news/{number:07d}_{slug}.md",
        title=title,
        url=f"https://news.example.com/{number % 2000 + 2020}/{slug}-{number}",
        excerpt=" ".join(rng.choices(WORDS, k=45)).capitalize() + ".",
        image=f"https://cdn.example.com/images/{number}/{slug}.jpg",
        provider=rng.choice(PROVIDERS),
        provider_logo="https://cdn.example.com/organizations/provider-50x50.jpg",
        published_at=datetime.fromtimestamp(1_600_000_000 + number * 97, UTC),
        related=tuple(
            Related(f"https://other.example.com/{number}/{n}", f"More on {words[n]}", "Engadget")
            for n in range(rng.randint(0, 3))
        ),
        source="news",
    )


def claim_rows(
    runs: list[RunSpec], size: int, seed: int
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each claim's row of `deliveries` and its articles' rows of `sent_articles`."""
    rng = random.Random(seed + 1)
    made = 0
    for run in runs:
        for name in DIGESTS[run.digest]["channels"]:
            if made == size:
                return
            made += 1
            yield _claim(rng, run, name)


def _claim(
    rng: random.Random, run: RunSpec, name: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (status,) = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])
    key = CHANNELS[name]
    finished = run.claimed_at + rng.uniform(0.5, 8.0)
    messages, articles = (run.messages, run.articles) if status != "empty" else ("[]", [])
    scheduled = json.dumps(run.scheduled_for)
    payload = (
        f'{{"channel": {json.dumps("#" + name)}, "messages": {messages}, '
        f'"articles": {json.dumps(articles)}, "scheduled_for": {scheduled}}}'
    )
    delivered = status == "delivered"
    posted = [f"{finished + part * 0.3:.6f}" for part in range(len(articles))] if delivered else []
    row = {
        "run_id": run.run_id,
        "channel": key,
        "digest": run.digest,
        "status": status,
        "owner": f"bench-host:{rng.randint(100, 99999)}:boot/{rng.getrandbits(48):012x}",
        "heartbeat": finished,
        "claimed_at": run.claimed_at,
        "finished_at": finished,
        "channel_id": key if delivered else None,
        "posted": json.dumps(posted),
        "payload": payload,
        "error": rng.choice(FAILURES).format(name) if status == "failed" else None,
    }
    sent = [
        {
            "channel": key,
            "key": Sent(*article).row_key,
            "url": article[0],
            "title": article[1],
            "article": article[2],
            "run_id": run.run_id,
            "sent_at": finished,
        }
        for part in (articles if delivered else [])
        for article in part
    ]
    return row, sent


def fill(url: str, runs: list[RunSpec], size: int, seed: int) -> float:
    """Create the ledger with digestbot's schema and bulk-insert the claims; seconds taken."""
    start = time.perf_counter()
    ledger = Ledger(url)
    try:
        engine = ledger.engine
        with engine.begin() as db:
            db.execute(
                insert(channel_ids), [{"name": n, "channel_id": c} for n, c in CHANNELS.items()]
            )
        batch: list[dict[str, Any]] = []
        sent: list[dict[str, Any]] = []
        for row, articles in claim_rows(runs, size, seed):
            batch.append(row)
            sent.extend(articles)
            if len(batch) == BATCH:
                _insert(engine, batch, sent)
                batch, sent = [], []
        _insert(engine, batch, sent)
        with engine.connect() as db:
            count = db.execute(select(func.count()).select_from(deliveries)).scalar_one()
            sample = db.execute(select(deliveries.c.payload).limit(1)).scalar_one()
        assert count == size, f"{count} deliveries, not {size}"
        ClaimPlan.from_json(sample)  # the payloads read back as digestbot reads them
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
                db.execute(text("ANALYZE"))
    finally:
        ledger.close()
    return time.perf_counter() - start


def _insert(engine: Any, rows: list[dict[str, Any]], sent: list[dict[str, Any]]) -> None:
    with engine.begin() as db:
        if rows:
            db.execute(insert(deliveries), rows)
        if sent:
            db.execute(insert(sent_articles), sent)


# The stores: a SQLite file, or a PostgreSQL database made for the run.


@contextmanager
def store(kind: str, size: int, scratch: Path, postgres: str) -> Iterator[str]:
    """A fresh, empty database's URL (as SQLAlchemy wants it), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{scratch / f'ledger-{size}.db'}"
        return
    admin_url = _psycopg(postgres)
    name = f"digestbot_bench_{os.getpid()}_{size}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as db:
            db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            db.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(admin_url).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as db:
                db.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _psycopg(url: str) -> str:
    """digestbot's driver for PostgreSQL (its settings turn postgresql:// into this too)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def write_config(path: Path) -> None:
    """A config whose digests and channels are the ledger's."""
    digests = {
        name: {**digest, "channels": ["#" + channel for channel in digest["channels"]]}
        for name, digest in DIGESTS.items()
    }
    config = {"articles": str(HERE.parent / "seeds"), "timezone": "UTC", "digests": digests}
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML


# The dashboard, as a person at this machine meets it.


class Browser:
    """urllib with a cookie jar, logged in through the one-time link."""

    def __init__(self, base: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(self, path: str) -> tuple[str, float]:
        """The page (after redirects) and the seconds it took."""
        start = time.perf_counter()
        with self.opener.open(self.base + path, timeout=120) as answer:
            body = answer.read().decode()
            status, final = answer.status, answer.url
        elapsed = time.perf_counter() - start
        if status != 200 or "/login" in final:
            raise RuntimeError(f"GET {path} answered {status} at {final}")
        return body, elapsed


@contextmanager
def dashboard(config: Path, database_url: str, scratch: Path) -> Iterator[Browser]:
    """`digestbot dashboard` on a free port, and a browser logged in to it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DIGESTBOT_")) and key not in ("PORT", "DATABASE_URL")
    }
    env |= {
        "DIGESTBOT_CONFIG": str(config),
        "DIGESTBOT_DATABASE_URL": database_url,
        "XDG_CACHE_HOME": str(scratch / "cache"),
    }
    command = [sys.executable, "-m", "digestbot", "dashboard", "--port", str(free_port())]
    with tempfile.TemporaryFile("w+") as errors:
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            link = _login_link(server, errors)
            browser = Browser(link.split("/login", 1)[0])
            browser.get(link[len(browser.base) :])  # logs in once, then lands on the overview
            yield browser
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _login_link(server: subprocess.Popen[str], errors: TextIO) -> str:
    assert server.stdout is not None
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if line.startswith("Dashboard: "):
            return line.split(" ", 1)[1].strip()
        if not line and server.poll() is not None:
            break
    errors.seek(0)
    raise RuntimeError(f"digestbot dashboard did not start:\n{errors.read()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def halfway(url: str, size: int) -> Cursor:
    """Where the deliveries page that starts halfway back begins."""
    columns = deliveries.c
    ledger = Ledger(url)
    try:
        with ledger.engine.connect() as db:
            row = db.execute(
                select(columns.claimed_at, columns.run_id, columns.channel)
                .order_by(columns.claimed_at.desc(), columns.run_id.desc(), columns.channel.desc())
                .offset(size // 2 - 1)
                .limit(1)
            ).one()
    finally:
        ledger.close()
    return Cursor(row.claimed_at, row.run_id, row.channel)


def page_link(after: Cursor) -> str:
    """A link to the page after `after`, as "Older deliveries" writes it."""
    query = {"digest": "", "channel": "", "status": "", "after": after.encode()}
    return "/deliveries?" + urlencode(query)


def older_link(page: str) -> str:
    """The first deliveries page's "Older deliveries" link."""
    found = re.search(r'<a rel="next" href="([^"]+)"', page)
    if found is None:
        raise RuntimeError("the first deliveries page has no link to older deliveries")
    return html.unescape(found.group(1))


def page_paths(browser: Browser, size: int, halfway: str) -> dict[str, str]:
    """Each page's path, checked to show the ledger: every channel delivered to, full pages."""
    overview, _ = browser.get("/")
    if "never delivered" in overview:
        raise RuntimeError(f"the overview at {size} misses channels the ledger has")
    first, _ = browser.get("/deliveries")
    paths = {
        "overview": "/",
        "first": "/deliveries",
        "second": older_link(first),
        "digest": "/deliveries?" + urlencode({"digest": ONE_DIGEST}),
        "halfway": halfway,
    }
    for page in ("second", "digest", "halfway"):
        rows = browser.get(paths[page])[0].count('<span class="status status-')
        if rows != 50:
            raise RuntimeError(f"{PAGES[page]} at {size} shows {rows} deliveries, not 50")
    return paths


def measure(browsers: dict[int, Browser], halfway: dict[int, str], requests: int) -> Timings:
    """Rounds alternating between the ledgers, each GET of every page once; warm-up first."""
    paths = {size: page_paths(browser, size, halfway[size]) for size, browser in browsers.items()}
    samples: dict[tuple[str, int], list[float]] = {}
    for round_number in range(WARM_UP + requests):
        for page in PAGES:
            for size, browser in browsers.items():
                _, seconds = browser.get(paths[size][page])
                if round_number >= WARM_UP:
                    samples.setdefault((page, size), []).append(seconds)
    return Timings(samples)


# The query plans, for --explain.


def explain(url: str, middle: Cursor) -> list[str]:
    """How the database answers the pages' queries (captured as digestbot sends them)."""
    ledger = Ledger(url)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    engine = ledger.engine
    try:
        event.listen(engine, "before_cursor_execute", capture)
        history = History(ledger)
        name, digest = next(iter(DIGESTS.items()))
        history.last([(name, "#" + digest["channels"][0])])
        first = history.page(Filter())
        history.page(Filter(), first.older)
        history.page(Filter(digest=ONE_DIGEST))
        history.page(Filter(), middle)
        event.remove(engine, "before_cursor_execute", capture)
        queries = [(s, p) for s, p in captured if "FROM deliveries" in s]
        labels = ["overview, one channel", *list(PAGES.values())[1:]]
        lines = []
        for label, (statement, parameters) in zip(labels, queries[-len(labels) :], strict=True):
            lines.append(f"  {label}:")
            lines.extend(f"    {line}" for line in _plan(engine, statement, parameters))
        return lines
    finally:
        ledger.close()


def _plan(engine: Any, statement: str, parameters: Any) -> list[str]:
    sqlite = engine.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(prefix + statement, parameters)
        found = cursor.fetchall()
    finally:
        raw.close()
    if sqlite:
        return [f"{'  ' * _depth(row, found)}{row[3]}" for row in found]
    return [row[0] for row in found]


def _depth(row: Any, rows: list[Any]) -> int:
    parents = {item[0]: item[1] for item in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth


# The report.


def report(results: dict[str, Timings], sizes: tuple[int, int], fills: dict[str, str]) -> bool:
    small, large = sizes
    met = True
    header = f"{'database':11} {'page':24} {small:>10,} {large:>10,}   {'ratio':>6}  target"
    print(header)
    print("-" * len(header))
    for kind, timings in results.items():
        for page, label in PAGES.items():
            fast, slow = timings.median(page, small), timings.median(page, large)
            ratio = slow / fast
            if page in TARGETED:
                ok = ratio <= TARGET
                met = met and ok
                verdict = f"<= {TARGET:g}x {'ok' if ok else 'MISSED'}"
            else:
                verdict = "(information)"
            print(
                f"{kind:11} {label:24} {fast * 1000:7.1f} ms {slow * 1000:7.1f} ms"
                f"   {ratio:5.2f}x  {verdict}"
            )
    for kind, line in fills.items():
        print(f"fill {kind}: {line}")
    return met


def run_database(
    kind: str, sizes: tuple[int, int], args: argparse.Namespace, work: Path, config: Path
) -> tuple[Timings, str, list[str]]:
    """Fill both ledgers of one database, serve them, time them (and explain the large one)."""
    with ExitStack() as stack:
        browsers: dict[int, Browser] = {}
        middles: dict[int, str] = {}
        fills = []
        plans: list[str] = []
        for size in sizes:
            url = stack.enter_context(store(kind, size, work, args.postgres))
            seconds = fill(url, runs_for(size, args.seed), size, args.seed)
            fills.append(f"{size:,} in {seconds:.1f} s")
            middle = halfway(url, size)
            middles[size] = page_link(middle)
            if args.explain and size == max(sizes):
                plans = explain(url, middle)
            browsers[size] = stack.enter_context(dashboard(config, url, work))
        return measure(browsers, middles, args.requests), ", ".join(fills), plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30, help="timed GETs per page and size")
    parser.add_argument("--databases", default=",".join(DATABASES))
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="show the large ledger's plans")
    args = parser.parse_args()
    kinds = [kind for kind in args.databases.split(",") if kind]
    if unknown := set(kinds) - set(DATABASES):
        parser.error(f"unknown databases: {', '.join(sorted(unknown))}")
    sizes = (args.small, args.large)
    results: dict[str, Timings] = {}
    fills: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        config = work / "digestbot.yaml"
        write_config(config)
        for kind in kinds:
            results[kind], fills[kind], plans = run_database(kind, sizes, args, work, config)
            if plans:
                print(f"query plans, {kind}, {args.large:,} deliveries:", *plans, sep="\n")
    print(
        f"\n{len(DIGESTS)} digests, {len(CHANNELS)} channels, claims over {SPAN.days} days; "
        f"median of {args.requests} GETs per page after {WARM_UP} warm-up rounds\n"
    )
    return 0 if report(results, sizes, fills) else 1


if __name__ == "__main__":
    raise SystemExit(main())
