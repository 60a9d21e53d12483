"""Shared fixtures: a clean environment, the seeds, config files, the corpus, the CLI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fakeslack import FakeSlack

from digestbot.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"
FEEDS = ("azure", "diablo4", "powerapps", "powerapps-2021")
# Read before the autouse fixture clears DIGESTBOT_* from each test's environment.
POSTGRES_URL = os.environ.get("DIGESTBOT_TEST_DATABASE_URL")


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


@pytest.fixture
def corpus() -> Path:
    """../shared/corpus, or skip."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
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
