"""The article index: only new or changed files are read; broken files are skipped by name."""

from __future__ import annotations

import os
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import FIXTURES

from digestbot.errors import DigestbotError
from digestbot.index import ArticleIndex
from digestbot.pipeline import Decay, Library
from digestbot.selection import Rule

HOSTILE = FIXTURES / "hostile"


@pytest.fixture
def index(articles: Path, tmp_path: Path) -> ArticleIndex:
    with ArticleIndex(articles, tmp_path / "cache") as opened:
        yield opened


def test_first_refresh_reads_every_file(index: ArticleIndex) -> None:
    """The seeds index to one pickable article (the other is unpublished)."""
    snapshot = index.refresh()
    assert snapshot.files == 2 and snapshot.parsed == 2 and snapshot.skipped == []
    assert [entry.title[:4] for entry in snapshot.entries] == ["Sony"]


def test_unchanged_files_are_not_read_again(index: ArticleIndex, articles: Path) -> None:
    """A second refresh parses nothing; touching one file re-reads only that one."""
    index.refresh()
    assert index.refresh().parsed == 0
    seed = next(articles.glob("000_*"))
    os.utime(seed, ns=(1, 1))
    assert index.refresh().parsed == 1


def test_index_survives_a_new_process(articles: Path, tmp_path: Path) -> None:
    """The index persists: a fresh ArticleIndex on the same folder reads nothing."""
    with ArticleIndex(articles, tmp_path / "cache") as first:
        first.refresh()
    with ArticleIndex(articles, tmp_path / "cache") as second:
        assert second.refresh().parsed == 0


@pytest.mark.parametrize("kept", [0, 1000], ids=["overwritten", "torn"])
def test_a_damaged_index_file_is_made_again(articles: Path, tmp_path: Path, kept: int) -> None:
    """The index is a cache of the folder: a file overwritten or torn is rebuilt, not fatal."""
    with ArticleIndex(articles, tmp_path / "cache") as first:
        first.refresh()
    [stored] = (tmp_path / "cache").glob("index-*.sqlite")
    stored.write_bytes(stored.read_bytes()[:kept] + b"not a database, at all " * 200)
    with ArticleIndex(articles, tmp_path / "cache") as again:
        snapshot = again.refresh()
    assert (snapshot.files, snapshot.parsed) == (2, 2)
    assert [entry.title[:4] for entry in snapshot.entries] == ["Sony"]


def test_damage_found_after_the_index_opens_is_made_good(articles: Path, tmp_path: Path) -> None:
    """Damage deep in a large index (the first pages intact) shows only when a refresh reads
    the articles: the index is made again then, not a traceback."""
    for number in range(400):
        (articles / f"{number:03d}.md").write_text(f"---\ntitle: Article {number}\n---\n")
    with ArticleIndex(articles, tmp_path / "cache") as first:
        first.refresh()
    [stored] = (tmp_path / "cache").glob("index-*.sqlite")
    with stored.open("r+b") as file:
        file.seek(10 * 4096)
        file.write(b"\xff" * 4096)
    with ArticleIndex(articles, tmp_path / "cache") as again:
        snapshot = again.refresh()
    assert (snapshot.files, snapshot.parsed) == (402, 402)


def test_a_new_front_matter_limit_reads_the_folder_again(articles: Path, tmp_path: Path) -> None:
    """`max_front_matter` changes which files can be read: a file skipped as too large under
    one limit is read under a larger one, and the other way round."""
    big = articles / "big.md"
    big.write_text(f"---\ntitle: Big\nheat: 90\npublished: true\nx: '{'y' * 50_000}'\n---\n")
    for limit, skipped in [(20_000, ["big.md"]), (100_000, []), (20_000, ["big.md"])]:
        with ArticleIndex(articles, tmp_path / "cache", limit=limit) as index:
            snapshot = index.refresh()
        assert [item.path for item in snapshot.skipped] == skipped, limit


def test_replicas_opening_a_new_index_at_once_all_read_it(articles: Path, tmp_path: Path) -> None:
    """Replicas that share a cache and start together each open, refresh and read the index
    (none drops the table another has just created)."""
    failures: list[BaseException] = []

    def replica(cache: Path, start: threading.Barrier) -> None:
        try:
            start.wait()
            with ArticleIndex(articles, cache) as index:
                [entry] = index.refresh().entries
                assert index.articles([entry.path]).found
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)

    for attempt in range(10):  # the race is narrow: a few fresh caches make it show
        start = threading.Barrier(6)
        threads = [
            threading.Thread(target=replica, args=(tmp_path / f"cache{attempt}", start))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_removed_files_leave_the_index(index: ArticleIndex, articles: Path) -> None:
    """A deleted file's article is no longer offered."""
    assert index.refresh().entries
    next(articles.glob("000_*")).unlink()
    snapshot = index.refresh()
    assert snapshot.entries == [] and snapshot.files == 1


def test_broken_and_hidden_files(index: ArticleIndex, articles: Path) -> None:
    """Broken files are listed with their reason; hidden and non-article files are ignored."""
    shutil.copytree(HOSTILE, articles / "more")
    snapshot = index.refresh()
    reasons = {item.path: item.reason for item in snapshot.skipped}
    assert set(reasons) == {
        "more/broken-yaml.md",
        "more/no-front-matter.md",
        "more/list.md",
        "more/wrong-type.md",
        "more/latin1.md",
    }
    assert "field heat" in reasons["more/wrong-type.md"]
    paths = {entry.path for entry in snapshot.entries}
    assert "more/.hidden.md" not in paths and "more/crlf.md" in paths


def test_winner_that_fails_its_full_parse_is_skipped(index: ArticleIndex, articles: Path) -> None:
    """A file whose ranking fields read but whose full front matter is broken gives way."""
    bad = articles / "bad.md"
    bad.write_text(
        '---\ntitle: "Looks fine"\nheat: 200\npublished: true\ntopics: [AI]\n'
        'webUrl: "https://example.com/bad"\nrelated:\n  - title: [unclosed\n---\n'
    )
    snapshot = index.refresh()
    assert "bad.md" in {entry.path for entry in snapshot.entries}
    lookup = index.articles(["bad.md", "000_5d341ca81f4b44a3.txt"])
    assert list(lookup.found) == ["000_5d341ca81f4b44a3.txt"]
    assert lookup.failed[0].path == "bad.md" and "invalid YAML" in lookup.failed[0].reason
    assert "bad.md" not in {entry.path for entry in index.refresh().entries}


def test_display_is_cached_after_the_first_full_parse(index: ArticleIndex, articles: Path) -> None:
    """Once parsed, an article is served from the index even if the file becomes unreadable."""
    index.refresh()
    seed = "000_5d341ca81f4b44a3.txt"
    first = index.articles([seed]).found
    (articles / seed).chmod(0)
    try:
        again = index.articles([seed])
    finally:
        (articles / seed).chmod(0o644)
    assert again.found == first and again.failed == [] and again.fresh == {}


def test_verify_reads_everything_fully(index: ArticleIndex, articles: Path) -> None:
    """verify() (what `check` runs) finds errors that only a full parse sees."""
    (articles / "deep.md").write_text(
        '---\ntitle: "Deep"\nrelated:\n  - title: "x"\n    provider: 7\n---\n'
    )
    index.refresh()
    assert index.skipped() == []
    skipped = index.verify()
    assert [item.path for item in skipped] == ["deep.md"]
    assert "provider" in skipped[0].reason


@pytest.mark.parametrize(
    ("source", "key"),
    [("", "articles"), ("articles", "articles"), ("local", "sources.local.folder")],
)
def test_missing_folder_is_a_clear_error(tmp_path: Path, source: str, key: str) -> None:
    """An articles folder that does not exist names the folder and the config key: `articles`,
    or the folder source's own."""
    with pytest.raises(DigestbotError) as caught:
        ArticleIndex(tmp_path / "nowhere", tmp_path / "cache", source=source)
    assert str(caught.value) == (
        f"{tmp_path / 'nowhere'}: the articles folder does not exist: create it or fix the "
        f"config's `{key}` key (relative to the config file)"
    )


TRICK = """---
title: "Looks hot, is not"
heat: 1
published: false
topics: [AI]
webUrl: "https://example.com/trick"
excerpt: "a quoted excerpt over several lines
heat: 999999
published: true
end: of the excerpt"
---
"""


def test_a_quick_read_fooled_by_a_multiline_string_is_corrected(
    index: ArticleIndex, articles: Path
) -> None:
    """A quick read fooled by a multi-line string is corrected by the winner's full read."""
    (articles / "trick.md").write_text(TRICK)
    library = Library([index])
    quick = library._entries.values()
    assert any(entry.path == "trick.md" and entry.heat == 999999 for entry in quick)
    [topic] = library.topics(Rule(["AI"], 5), datetime(2020, 6, 1, tzinfo=UTC))
    assert [article.path for article in topic.articles] == ["000_5d341ca81f4b44a3.txt"]
    assert "trick.md" not in {entry.path for entry in index.refresh().entries}


def test_a_digest_reads_only_its_sources_and_feed_entries_rank_by_age(
    articles: Path, tmp_path: Path
) -> None:
    """Entries of a feed source rank by age-decayed heat; a digest limited to other sources
    never sees them."""
    feed = tmp_path / "feed"
    feed.mkdir()
    seed = (articles / "000_5d341ca81f4b44a3.txt").read_text()
    fresh = seed.replace("integrated-ai-chip", "fresh").replace("Sony’s first", "Fresh")
    (feed / "entry.md").write_text(fresh.replace("heat: 107", "heat: 100"))
    published = datetime(2020, 5, 14, 9, 53, tzinfo=UTC)
    cache = tmp_path / "cache"
    with (
        ArticleIndex(articles, cache, source="local") as local,
        ArticleIndex(feed, cache, source="blog") as blog,
    ):
        hot = {"blog": Decay(weight=2.0, half_life=timedelta(hours=1))}
        library = Library([local, blog], decays=hot)

        def order(now: datetime) -> list[str]:
            [topic] = library.topics(Rule(["AI"], 5), now)
            return [article.key for article in topic.articles]

        # 200 an hour after publication beats the seed's 107; 100 later on does not.
        assert order(published + timedelta(minutes=1)) == [
            "blog/entry.md",
            "local/000_5d341ca81f4b44a3.txt",
        ]
        assert order(published + timedelta(hours=2))[0] == "local/000_5d341ca81f4b44a3.txt"
        [only] = library.topics(Rule(["AI"], 5), published, sources=["blog"])
        assert [article.key for article in only.articles] == ["blog/entry.md"]


def test_a_name_that_is_not_utf8_is_skipped_by_name(index: ArticleIndex, articles: Path) -> None:
    """A file (or folder) whose name is not UTF-8 is skipped, shown with U+FFFD where its
    bytes are not text; the other articles are read."""
    root = os.fsencode(articles)
    with open(os.path.join(root, b"bad\xff.md"), "wb") as file:
        file.write(b"---\ntitle: Latin-1 name\n---\n")
    os.mkdir(os.path.join(root, b"dir\xfe"))
    with open(os.path.join(root, b"caf\xe9.jpg"), "wb") as file:  # no article: not a word
        file.write(b"\xff\xd8")
    snapshot = index.refresh()
    assert {(item.path, item.reason) for item in snapshot.skipped} == {
        ("bad\ufffd.md", "its name is not UTF-8 text: rename it"),
        ("dir\ufffd", "its name is not UTF-8 text: rename it"),
    }
    assert [entry.title[:4] for entry in snapshot.entries] == ["Sony"]
    assert index.refresh().parsed == 0
