"""Live sources in use: refreshed before a run when stale, once however many runs ask, failures
backed off and reported while the last good copy serves, and the commands that show them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ConfigWriter, FakeClock, process_env
from fakeslack import FakeSlack
from feedserver import FeedServer, rss
from gitrepos import Remote, article

from digestbot.config import SourceConfig
from digestbot.sources.registry import Sources

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def server() -> FeedServer:
    with FeedServer() as running:
        yield running


def feed_sources(
    cache: Path, url: str, clock: FakeClock, refresh: timedelta = timedelta(minutes=15)
) -> Sources:
    config = SourceConfig(name="blog", feed=url, refresh=refresh, timeout=timedelta(seconds=5))
    return Sources({"blog": config}, cache, clock=clock)


def test_a_stale_copy_is_refreshed_before_a_run_and_a_fresh_one_is_not(
    server: FeedServer, tmp_path: Path
) -> None:
    """Within `refresh` a run reads the copy it has; once older, the copy is fetched again."""
    clock = FakeClock(START)
    server.serve("/feed", rss(("1", "One", "https://example.com/1")), etag='"a"')
    sources = feed_sources(tmp_path, server.url("/feed"), clock)
    first = sources.copies(["blog"]).copies["blog"]
    assert [p.name for p in first.folder.iterdir()] and len(server.requests_to("/feed")) == 1
    clock.advance(14 * 60)
    assert sources.copies(["blog"]).copies["blog"] == first
    assert len(server.requests_to("/feed")) == 1
    clock.advance(2 * 60)
    sources.copies(["blog"])
    assert len(server.requests_to("/feed")) == 2
    assert server.requests_to("/feed")[1].headers["If-None-Match"] == '"a"'


def test_refresh_0s_fetches_before_every_run(server: FeedServer, tmp_path: Path) -> None:
    """`refresh: 0s` fetches the feed before each run, with a conditional GET."""
    server.serve("/feed", rss(("1", "One", "https://example.com/1")), etag='"a"')
    sources = feed_sources(tmp_path, server.url("/feed"), FakeClock(START), timedelta(0))
    for _ in range(3):
        sources.copies(["blog"])
    assert len(server.requests_to("/feed")) == 3


def test_runs_at_once_share_one_refresh(tmp_path: Path) -> None:
    """Eight runs of one process asking for a stale feed at once fetch it once."""
    with FeedServer(latency=0.3) as slow:
        slow.serve("/feed", rss(("1", "One", "https://example.com/1")))
        clock = FakeClock(START)
        # Two services of one process (a config reload makes a second) share the lock too.
        registries = [feed_sources(tmp_path, slow.url("/feed"), clock) for _ in range(2)]
        barrier = threading.Barrier(8)
        copies = []

        def run(sources: Sources) -> None:
            barrier.wait()
            copies.append(sources.copies(["blog"]).copies["blog"])

        threads = [threading.Thread(target=run, args=(registries[n % 2],)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(slow.requests_to("/feed")) == 1
        assert len(set(copies)) == 1


def test_runs_of_two_processes_share_one_refresh(
    write_config: ConfigWriter, tmp_path: Path
) -> None:
    """Two `digestbot preview` processes on one host starting together fetch a feed once."""
    with FeedServer(latency=0.5) as slow:
        slow.serve("/feed", rss(("1", "One", "https://example.com/1")))
        path = write_config(
            {
                "sources": {"blog": {"feed": slow.url("/feed")}},
                "digests": {"d4": {"topics": ["Diablo 4"], "channels": ["#d4"]}},
            }
        )
        env = process_env(None, path)
        command = [sys.executable, "-m", "digestbot", "preview"]
        previews = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
        ]
        outputs = [preview.communicate(timeout=30)[0] for preview in previews]
    assert len(slow.requests_to("/feed")) == 1
    assert all("One" in output for output in outputs)


def test_a_failing_feed_keeps_its_copy_and_is_retried_with_growing_back_off(
    server: FeedServer, tmp_path: Path
) -> None:
    """A feed that breaks serves its last copy; it is tried again after 1, then 2 minutes
    (not at every run), and `refresh` tries at once; success clears the failures."""
    clock = FakeClock(START)
    server.serve("/feed", rss(("1", "One", "https://example.com/1")))
    sources = feed_sources(tmp_path, server.url("/feed"), clock, timedelta(0))
    good = sources.copies(["blog"]).copies["blog"]
    server.serve("/feed", "oops", status=500)
    reading = sources.copies(["blog"])
    assert reading.copies["blog"] == good
    [failed] = reading.failed
    assert failed.name == "blog" and "HTTP 500" in (failed.error or "")
    assert sources.state("blog").failures == 1
    asked = len(server.requests_to("/feed"))
    clock.advance(30)
    assert sources.copies(["blog"]).failed[0].error  # still reported, not fetched
    assert len(server.requests_to("/feed")) == asked
    clock.advance(31)
    sources.copies(["blog"])
    assert len(server.requests_to("/feed")) == asked + 1
    assert sources.state("blog").failures == 2
    assert sources.state("blog").retry_at == pytest.approx(clock.time() + 120)
    [forced] = sources.refresh(["blog"])
    assert forced.error and len(server.requests_to("/feed")) == asked + 2
    server.serve("/feed", rss(("2", "Two", "https://example.com/2")))
    [fixed] = sources.refresh(["blog"])
    assert fixed.error is None and fixed.change is not None and fixed.change.new == 1
    state = sources.state("blog")
    assert (state.failures, state.error, state.retry_at) == (0, None, None)


def test_refresh_command_reports_each_source_and_fails_when_one_does(
    write_config: ConfigWriter, articles: Path, tmp_path: Path, server: FeedServer, cli
) -> None:
    """`digestbot refresh` prints counts and the commit, then "not modified"; a broken feed
    is a failure with the age of the copy in use, and exit code 1."""
    remote = Remote(tmp_path / "remote")
    commit = remote.commit({"_news/a.md": article("a"), "README.md": "not an article"})
    server.serve("/feed", rss(("1", "One", "https://example.com/1")), etag='"x"')
    write_config(
        {
            "sources": {
                "d4": {"git": remote.url, "folder": "_news"},
                "blog": {"feed": server.url("/feed")},
                "local": {"folder": str(articles)},
            },
            "digests": {"d4": {"topics": ["Diablo 4"], "channels": ["#d4"]}},
        }
    )
    first = cli("refresh")
    assert first.code == 0, first.err
    lines = first.out.splitlines()
    assert lines[0] == f"d4: 1 new, 0 changed, 0 removed (commit {commit[:12]}; 1 articles)"
    assert lines[1].startswith("blog: 1 new, 0 changed, 0 removed (fetched ")
    assert lines[2] == "local: a folder, read as it is (2 articles)"
    again = cli("refresh", "d4", "blog")
    assert again.out.splitlines()[0] == f"d4: not modified (commit {commit[:12]})"
    assert again.out.splitlines()[1].startswith("blog: not modified")
    server.serve("/feed", "gone", status=404)
    server.serve("/other", "", status=404)
    broken = cli("refresh", "blog")
    assert broken.code == 1
    assert broken.out.startswith("blog: failed: http://127.0.0.1:")
    assert "has no feed there (HTTP 404 Not Found)" in broken.out
    assert broken.out.rstrip().endswith("(using the copy from just now)")
    unknown = cli("refresh", "nope")
    assert (
        unknown.code == 1 and "no source called nope (configured: d4, blog, local)" in unknown.err
    )


def test_check_and_status_show_the_sources(
    write_config: ConfigWriter, tmp_path: Path, server: FeedServer, cli
) -> None:
    """`check` lists each source with its files; `status` its last refresh, revision, article
    count and last error."""
    remote = Remote(tmp_path / "remote")
    commit = remote.commit({"_news/a.md": article("a"), "_news/b.md": article("b")})
    server.serve("/feed", rss(("1", "One", "https://example.com/1")))
    write_config(
        {
            "sources": {
                "d4": {"git": remote.url, "folder": "_news"},
                "blog": {"feed": server.url("/feed")},
            },
            "digests": {"d4": {"topics": ["Diablo 4"], "channels": ["#d4"], "sources": ["d4"]}},
        }
    )
    before = cli("check")
    assert f"d4 (git {remote.url}): no copy yet (`digestbot refresh` makes one)" in before.out
    assert "(by hand only, UTC) from d4" in before.out
    assert cli("refresh").code == 0
    checked = cli("check")
    assert f"d4 (git {remote.url}): 2 files, 2 articles, 0 skipped" in checked.out
    assert "blog (feed http://127.0.0.1:" in checked.out and "1 files, 1 articles" in checked.out
    server.serve("/feed", "<html>not a feed</html>", content_type="text/html")
    assert cli("refresh", "blog").code == 1
    status = cli("status").out
    assert f"d4 (git {remote.url}): refreshed just now, {commit[:12]}, 2 articles" in status
    assert "blog (feed " in status and "last refresh failed just now (1 in a row)" in status
    assert "is not an RSS or Atom feed (it sent text/html)" in status


def test_preview_no_refresh_reads_the_copy_as_it_is(
    write_config: ConfigWriter, tmp_path: Path, cli
) -> None:
    """--no-refresh leaves a stale copy alone; without it, the new commit shows."""
    remote = Remote(tmp_path / "remote")
    remote.commit({"_news/a.md": article("old-news", heat=90)})
    write_config(
        {
            "sources": {"d4": {"git": remote.url, "folder": "_news", "refresh": "0s"}},
            "digests": {"d4": {"topics": ["Diablo 4"], "channels": ["#d4"]}},
        }
    )
    assert "Old news" in cli("preview").out
    remote.commit({"_news/b.md": article("new-news", heat=99)})
    assert "New news" not in cli("preview", "--no-refresh").out
    assert "New news" in cli("preview").out


def test_a_broken_source_warns_and_the_others_still_make_the_digest(
    write_config: ConfigWriter, tmp_path: Path, server: FeedServer, slack: FakeSlack, cli
) -> None:
    """When the remote is gone, `send` warns naming the source and posts what the other
    sources have, reading the last good copy of the broken one."""
    slack.add_channel("d4")
    remote = Remote(tmp_path / "remote")
    remote.commit({"_news/a.md": article("from-git", heat=95)})
    server.serve("/feed", rss(("1", "From the feed", "https://example.com/1")))
    write_config(
        {
            "sources": {
                "d4": {"git": remote.url, "folder": "_news", "refresh": "0s"},
                "blog": {"feed": server.url("/feed"), "refresh": "0s"},
            },
            "digests": {"d4": {"topics": ["Diablo 4"], "channels": ["#d4"]}},
        }
    )
    assert cli("send").code == 0
    remote.path.rename(tmp_path / "moved-away")
    server.serve("/feed", rss(("2", "Fresh from the feed", "https://example.com/2")))
    result = cli("send")
    assert result.code == 0, result.err
    assert "warning: source d4: failed: " in result.err
    assert "(using the copy from just now)" in result.err
    [first, second] = slack.messages_in("d4")
    assert "From git" in json.dumps(first["blocks"])
    assert "Fresh from the feed" in json.dumps(second["blocks"])
    assert "From git" not in json.dumps(second["blocks"])
