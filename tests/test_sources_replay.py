"""Real days of a real feed: the diablo4 history replayed as a git remote, beside an RSS and an
Atom feed from a local server. Each day's `send` posts fresh articles and never one a channel
had, whatever edits its URL, outlet or title went through; a broken remote or feed leaves the
digest to the last good copies, with a warning naming the source."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT, ConfigWriter
from fakeslack import FakeSlack
from feedserver import FeedServer, atom, rss
from gitrepos import bare_copy_of, git

pytestmark = pytest.mark.slow  # git and bot processes

BUNDLE = ROOT.parent / "shared" / "feeds" / "diablo4-news.bundle"
HEADLINE = re.compile(r"\*<([^|>]+)\|([^>]*)>\*")


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory, run_folder: Path) -> Path:
    """A bare copy of the real history, served as file://."""
    if not BUNDLE.is_file():
        pytest.skip("../shared/feeds/diablo4-news.bundle is absent")
    path = tmp_path_factory.mktemp("diablo4") / "remote.git"
    return bare_copy_of(BUNDLE, run_folder / "diablo4.git", path)


def move_to(remote: Path, commit: str) -> None:
    """The feed's bot as of that commit: the branch moved back or forward."""
    git("update-ref", "refs/heads/main", commit, cwd=remote)


def headlines(slack: FakeSlack) -> list[tuple[str, str]]:
    """(url, title) of every article posted to #d4, in order."""
    found = []
    for message in slack.messages_in("d4"):
        for block in message["blocks"]:
            text = (block.get("text") or {}).get("text", "")
            found += HEADLINE.findall(text)
    return found


def sent_keys(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        return [key for (key,) in db.execute("SELECT article FROM sent_articles")]


def edit_article(remote: Path, base: str, path: str, tmp_path: Path) -> str:
    """A commit on `base` in which the file's webUrl, outlet and title change (case and
    quotes) and its heat soars: the commit."""
    work = tmp_path / "edit"
    git("clone", "--quiet", "--no-checkout", f"file://{remote}", work)
    git("checkout", "--quiet", base, "--", path, cwd=work)
    file = work / path
    text = file.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^webUrl: .*$", 'webUrl: "https://www.msn.com/en-nz/moved/ar-X1"', text)
    text = re.sub(r'(?m)^title: "?(.*?)"?$', lambda m: f'title: "{m.group(1).upper()} ’’"', text)
    text = re.sub(r"(?m)^heat: .*$", "heat: 9999", text)
    text = re.sub(r"(?m)^  name: .*$", "  name: Another Outlet", text, count=1)
    file.write_text(text, encoding="utf-8")
    git("add", path, cwd=work)
    git("-c", "advice.detachedHead=false", "checkout", "--quiet", base, cwd=work)
    git("commit", "--quiet", "-m", "Update news", "--", path, cwd=work)
    git("push", "--quiet", "origin", "HEAD:refs/heads/edited", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def test_real_days_post_fresh_articles_and_never_one_twice(
    remote: Path,
    write_config: ConfigWriter,
    slack: FakeSlack,
    tmp_path: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three real days (12 commits each) with two feeds: every day posts, no article twice,
    not after its URL, outlet and title change; then broken sources warn and serve their
    last copies."""
    slack.add_channel("d4")
    database = tmp_path / "state.db"
    monkeypatch.setenv("DIGESTBOT_DATABASE_URL", f"sqlite:///{database}")
    days = {day: git("rev-parse", f"main~{12 * (3 - day)}", cwd=remote) for day in (1, 2, 3)}
    with FeedServer() as feeds:
        write_config(
            {
                "sources": {
                    "d4": {"git": f"file://{remote}", "folder": "_news", "refresh": "0s"},
                    # This feed's articles run hotter (up to 364) than a fresh entry (100).
                    "rss": {"feed": feeds.url("/rss"), "refresh": "0s", "weight": 5},
                    "atom": {"feed": feeds.url("/atom"), "refresh": "0s", "weight": 5},
                },
                "digests": {"daily": {"topics": ["Diablo 4"], "channels": ["#d4"], "top": 8}},
            }
        )
        rss_items = [("r1", "Season news", "https://feed.example/r1")]
        atom_items = [("urn:a1", "Patch notes", "https://atom.example/a1")]
        posted_per_day = []
        for day in (1, 2, 3):
            move_to(remote, days[day])
            if day == 2:  # the feed moves an entry (same guid) and adds one
                rss_items = [("r1", "Season news", "https://feed.example/r1?moved"), *rss_items[1:]]
                rss_items.append(("r2", "Druid guide", "https://feed.example/r2"))
                atom_items.append(("urn:a2", "Barbarian build", "https://atom.example/a2"))
            if day == 3:  # a posted article of day 1 changes its URL, outlet and title
                [first_key] = [key for key in sent_keys(database) if key.startswith("d4/")][:1]
                path = "_news/" + first_key.removeprefix("d4/")
                move_to(remote, edit_article(remote, days[3], path, tmp_path))
            now = datetime.now(UTC)
            feeds.serve("/rss", rss(*rss_items, published=now))
            feeds.serve("/atom", atom(*atom_items, published=now))
            before = len(headlines(slack))
            result = cli("send")
            assert result.code == 0, result.out + result.err
            assert "daily → #d4: delivered" in result.out
            posted_per_day.append(headlines(slack)[before:])
        # The edited article is the hottest there is: a channel that never had it gets it.
        elsewhere = cli("send", "--channel", "#elsewhere", "--dry-run", "--no-refresh")
        assert "https://www.msn.com/en-nz/moved/ar-X1" in elsewhere.out
        everything = [item for day in posted_per_day for item in day]
        assert all(posted_per_day)
        assert len({url for url, _ in everything}) == len(everything)
        assert len({title.casefold() for _, title in everything}) == len(everything)
        keys = sent_keys(database)
        assert len(set(keys)) == len(keys)
        assert "https://www.msn.com/en-nz/moved/ar-X1" not in {url for url, _ in everything}
        assert "https://feed.example/r1?moved" not in {url for url, _ in everything}
        assert {"Druid guide", "Barbarian build"} <= {title for _, title in everything}

        (tmp_path / "elsewhere").mkdir()
        remote.rename(tmp_path / "elsewhere" / "remote.git")
        feeds.serve("/rss", "down", status=503)
        try:
            broken = cli("send")
        finally:
            (tmp_path / "elsewhere" / "remote.git").rename(remote)
    assert broken.code == 0, broken.out + broken.err
    assert "warning: source d4: failed: " in broken.err
    assert "warning: source rss: failed: " in broken.err and "HTTP 503" in broken.err
    assert "(using the copy from just now)" in broken.err
    assert "daily → #d4: delivered" in broken.out  # the last good copies still had news
    urls = [url for url, _ in headlines(slack)]
    assert len(set(urls)) == len(urls)
