"""Shared fixtures and helpers: a clean environment, the seeds, config files, the corpus, the
CLI, a clock the tests move by hand, waiting for a condition, and digestbot processes."""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fakeslack import FakeSlack
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from digestbot.cli import main
from digestbot.clock import SYSTEM, SystemClock
from digestbot.index import ArticleIndex

pytest_plugins = ["browser"]  # Chromium and its pages, for the tests of web pages

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
FEEDS = ("azure", "diablo4", "powerapps", "powerapps-2021")
# Read before the autouse fixture clears DIGESTBOT_* from each test's environment.
POSTGRES_URL = os.environ.get("DIGESTBOT_TEST_DATABASE_URL")
# libfaketime (Debian package faketime), preloaded straight into the process: the `faketime`
# wrapper would stand between a test and the process it signals.
FAKETIME_LIB = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow modules first. xdist hands out whole modules in this order (`--dist loadscope
    --no-loadscope-reorder`): a slow module started last would leave the run waiting on it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def wait_for(condition: Callable[[], object], timeout: float = 10) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def free_port() -> int:
    """A port nothing listens on, below the range the kernel hands out to outgoing connections:
    a port from that range could be taken by one (this run makes thousands) before the server
    the test starts binds it."""
    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    for _ in range(200):
        port = random.randrange(max(1024, ephemeral - 12000), ephemeral)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port below {ephemeral}")


def digest_config(articles: Path, name: str = "ai", **digest: object) -> dict:
    """A config with one digest on the seeds' AI topic in #ai-news, daily at 09:00 UTC, that
    catches up nothing unless asked: a bot on the real clock started between 09:00 and 10:00
    would otherwise post that morning's run by itself."""
    body = {"topics": ["AI"], "channels": ["#ai-news"], "schedule": "0 9 * * *"}
    return {"articles": str(articles), "digests": {name: {**body, "catch_up": "0s", **digest}}}


class FakeClock:
    """A clock that stands still until the test moves it.

    `wait` blocks (for real) until the event is set or the test has moved the clock past the
    deadline; with `auto_advance`, waiting moves the clock instead, so that code which paces
    itself runs at once while its waits are still measured.
    """

    def __init__(self, start: datetime, *, auto_advance: bool = False) -> None:
        self._now = start
        self._monotonic = 1000.0
        self.auto_advance = auto_advance
        self.waits: list[float] = []
        self._changed = threading.Condition()

    def now(self) -> datetime:
        return self._now

    def time(self) -> float:
        return self._now.timestamp()

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        with self._changed:
            self._now += timedelta(seconds=seconds)
            self._monotonic += seconds
            self._changed.notify_all()

    def set(self, moment: datetime) -> None:
        self.advance((moment - self._now).total_seconds())

    def wait(self, event: threading.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        if self.auto_advance:
            if not event.is_set():
                self.advance(seconds)
            return event.is_set()
        deadline = self._monotonic + seconds
        with self._changed:
            while not event.is_set() and self._monotonic < deadline:
                self._changed.wait(0.02)  # an Event cannot wake this condition: look again soon
        return event.is_set()


class HurriedClock(SystemClock):
    """The real clock, except that a wait of a second or less (the pace between two posts to
    a channel, a short Retry-After) moves the clock on instead of waiting: a digest of many
    messages posts at once, and the waits still count. Longer waits (a scheduler's poll) are
    real, so that a loop which polls does not spin."""

    PACE = 1.0

    def __init__(self) -> None:
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self._skipped)

    def time(self) -> float:
        return super().time() + self._skipped

    def monotonic(self) -> float:
        return super().monotonic() + self._skipped

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set() or seconds > self.PACE:
            return super().wait(event, seconds)
        with self._lock:
            self._skipped += seconds
        return event.is_set()

    @property
    def waited(self) -> float:
        """The seconds of waits that were skipped."""
        return self._skipped


@pytest.fixture
def hurried(monkeypatch: pytest.MonkeyPatch) -> HurriedClock:
    """Commands run in the test's process (`cli`) pace their posts on a HurriedClock."""
    clock = HurriedClock()
    for name in ("now", "time", "monotonic", "wait"):  # SYSTEM is every default clock
        monkeypatch.setattr(SYSTEM, name, getattr(clock, name))
    return clock


STARTED: list[subprocess.Popen[str]] = []  # every bot process of this worker, for the end


@pytest.fixture(scope="session", autouse=True)
def no_bot_outlives_the_run() -> Iterator[None]:
    """A test that fails before stopping its bot leaves it running: the run's end kills it."""
    yield
    for process in STARTED:
        if process.poll() is None:
            process.kill()
            process.wait()


class BotProcess:
    """`python -m digestbot ARGS` in a child process, its stderr read line by line as it comes
    (optionally under libfaketime, its clock starting at `clock_at`)."""

    def __init__(self, env: dict[str, str], *args: str, clock_at: datetime | None = None) -> None:
        command = [sys.executable, "-m", "digestbot", *(args or ("run",))]
        env = dict(env)
        if clock_at is not None:
            if FAKETIME_LIB is None:
                pytest.skip("libfaketime is not installed (Debian package faketime)")
            stamp = clock_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            # The clock starts at `stamp` (read in TZ) and runs on from there. Python's thread
            # waits hang when libfaketime fakes the monotonic clock too.
            env.update(
                LD_PRELOAD=str(FAKETIME_LIB),
                FAKETIME=f"@{stamp}",
                FAKETIME_DONT_FAKE_MONOTONIC="1",
                TZ="UTC",
            )
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        STARTED.append(self.process)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def err(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, count: int = 1, timeout: float = 20) -> bool:
        """Wait until `count` lines of stderr contain `text`."""
        return wait_for(lambda: sum(text in line for line in self.lines) >= count, timeout)

    def stop(self, timeout: float = 15) -> tuple[int, str, str]:
        """SIGTERM, then the exit code, stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        assert self.process.stdout is not None and self.process.stderr is not None
        with self.process.stdout:
            out = self.process.stdout.read()
        self.process.wait(timeout)
        self._reader.join(timeout)
        self.process.stderr.close()
        return self.process.returncode, out, self.err


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts without digestbot or Slack settings, in its own folder and cache."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DIGESTBOT_")) or name in ("DATABASE_URL", "PORT"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A writable copy of the seed articles."""
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


def copy_sony(articles: Path, count: int) -> None:
    """`count` more stories like the seed Sony article, each with its own address and title."""
    template = (articles / "000_5d341ca81f4b44a3.txt").read_text()
    for n in range(count):
        (articles / f"copy{n}.md").write_text(
            template.replace("integrated-ai-chip", f"chip-{n}").replace("smarter", f"smarter {n}")
        )


ConfigWriter = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, articles: Path) -> ConfigWriter:
    """Write a config file (dict or raw text) and point DIGESTBOT_CONFIG at it."""

    def write(data: dict | str | None = None, name: str = "digestbot.yaml") -> Path:
        if data is None:
            data = {
                "articles": str(articles),
                "digests": {
                    "ai-daily": {
                        "title": "AI daily",
                        "topics": ["AI", "AI Hardware"],
                        "channels": ["#ai-news"],
                    },
                },
            }
        path = tmp_path / name
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("DIGESTBOT_CONFIG", str(path))
        return path

    return write


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the digestbot command in-process and capture what it prints."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A folder all the workers of this run share, for what is built once per run."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if worker_id != "master" else root


@pytest.fixture(scope="session")
def corpus_cache(run_folder: Path) -> Path:
    """The XDG_CACHE_HOME of the corpus tests, shared by the run's workers: the corpus is
    read-only and an index is a cache of it, so each feed is indexed once per run (by the first
    worker to get here, while the others wait for it)."""
    cache = run_folder / "corpus-cache"
    cache.mkdir(exist_ok=True)
    with (cache / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for feed in FEEDS:
            if (CORPUS / feed).is_dir():
                with ArticleIndex(CORPUS / feed, cache / "digestbot", source=feed) as index:
                    index.refresh()
    return cache


@pytest.fixture
def corpus(corpus_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """../shared/corpus, or skip; digestbot keeps its indexes in the worker's corpus cache."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    monkeypatch.setenv("XDG_CACHE_HOME", str(corpus_cache))
    return CORPUS


def process_env(fake: FakeSlack | None, config_path: Path, **extra: str) -> dict[str, str]:
    """The environment for a digestbot process talking to `fake` with this config."""
    env = {**os.environ, "DIGESTBOT_CONFIG": str(config_path), **extra}
    if fake:
        env.update(SLACK_BOT_TOKEN=fake.token, SLACK_API_URL=fake.url)
    return env


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    """A running fake Slack with #ai-news and #general, and the environment pointing at it."""
    with FakeSlack() as fake:
        fake.add_channel("ai-news")
        fake.add_channel("general")
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.token)
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        yield fake


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    """A running fake Slack without channels (a test module may define its own `fake`)."""
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    """slack-sdk's real client with its default retry handlers, pointed at `fake`."""
    return WebClient(token=fake.token, base_url=fake.url)


@pytest.fixture
def news(fake: FakeSlack) -> str:
    """The ID of a public channel of `fake` that the bot is in."""
    return fake.add_channel("news")


def slack_error(call: Callable[..., object], *args: object, **kwargs: object) -> SlackApiError:
    """Run a client call that must fail and return the SlackApiError."""
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards; or skip."""
    base = POSTGRES_URL
    if not base:
        pytest.skip("DIGESTBOT_TEST_DATABASE_URL is not set")
    import uuid

    import sqlalchemy

    from digestbot.config import Settings

    url = Settings(DIGESTBOT_DATABASE_URL=base).database_url
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(url)
    with admin.begin() as db:
        db.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as db:
            db.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state store under test: a SQLite file, and PostgreSQL when configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("postgres_url")
