"""Reading one article file: the fast ranking read, the full read, and what real files do."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FEEDS, FIXTURES, SEEDS

from digestbot.articles import clean_text, http_url, read_article, read_entry
from digestbot.errors import ArticleError

HOSTILE = FIXTURES / "hostile"
SONY = SEEDS / "000_5d341ca81f4b44a3.txt"
TECHSPOT = SEEDS / "002_eaca369081adb758.txt"


def read(path: Path):
    return read_article(path, path.name)


def test_seed_article_fields() -> None:
    """The Sony seed reads with its image, provider, logo, date and both related links."""
    entry, article = read(SONY)
    assert entry.heat == 107 and entry.quality == 87 and entry.published and not entry.removed
    assert entry.topics == ("AI",)
    assert entry.published_at == datetime(2020, 5, 14, 9, 53, tzinfo=UTC)
    assert article.url.startswith("https://www.theverge.com/2020/5/14/21258403/")
    assert article.image and article.image.startswith("https://cdn.vox-cdn.com/")
    assert article.provider == "The Verge"
    assert article.provider_logo and article.provider_logo.endswith("theverge.com-50x50.jpg")
    assert [r.provider for r in article.related] == ["Engadget", "i"]


def test_unpublished_seed_reads_as_unpublished() -> None:
    """The TechSpot seed is readable but marked unpublished with heat -1."""
    entry, _ = read(TECHSPOT)
    assert entry.published is False and entry.heat == -1
    assert entry.topics == ("AI Hardware", "AI")


@pytest.mark.parametrize(
    "path",
    [
        SONY,
        TECHSPOT,
        *(HOSTILE / name for name in ("bom.md", "crlf.md", "hostile-title.md", "video.md")),
    ],
)
def test_fast_read_matches_full_read(path: Path) -> None:
    """The ranking read used by the index gives exactly the full read's ranking fields."""
    assert read_entry(path, path.name) == read(path)[0]


def test_crlf_and_bom_files_are_read() -> None:
    """Windows line endings and a byte-order mark do not hide the front matter."""
    assert read(HOSTILE / "crlf.md")[0].title == "CRLF article"
    assert read(HOSTILE / "bom.md")[0].title == "BOM article"


def test_video_without_web_url_uses_original_url_and_drops_null_topics() -> None:
    """A video has only originalUrl; `null` entries in topics are ignored."""
    entry, _ = read(HOSTILE / "video.md")
    assert entry.url == "https://www.youtube.com/watch?v=abc"
    assert entry.topics == ("AI Hardware",)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("broken-yaml.md", "invalid YAML in the front matter"),
        ("no-front-matter.md", "no front matter"),
        ("list.md", "not a mapping"),
        ("wrong-type.md", "field heat"),
        ("latin1.md", "not UTF-8"),
    ],
)
def test_unreadable_files_name_the_file_and_reason(name: str, reason: str) -> None:
    """Each kind of broken file raises an ArticleError naming the file and why."""
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(HOSTILE / name, name)
        assert caught.value.path == name
        assert reason in caught.value.reason
        assert str(caught.value).startswith(f"{name}: ")


def test_unclosed_front_matter(tmp_path: Path) -> None:
    """A front matter that never closes is reported as such."""
    path = tmp_path / "open.md"
    path.write_text("---\ntitle: x\n")
    with pytest.raises(ArticleError, match="never closed"):
        read_entry(path, "open.md")


def test_hostile_text_is_cleaned_not_trusted() -> None:
    """Entities are decoded (even double-escaped), invisible characters go, spaces squeeze."""
    _, article = read(HOSTILE / "hostile-title.md")
    assert article.title.startswith("<!channel> Big & bold")
    assert "it's fine <b>really</b>. Next line here." in article.excerpt
    assert "\u200b" not in article.excerpt
    assert article.image is None and article.provider_logo is None
    assert [r.title for r in article.related] == ["Safe & sound <@U1>"]


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  a \t b\n c ", "a b c"),
        ("Tom &amp;amp; Jerry", "Tom & Jerry"),
        ("it&amp;#39;s", "it's"),
        ("zero\u200bwidth\u00a0space", "zerowidth space"),
        (None, ""),
    ],
)
def test_clean_text(raw: str | None, clean: str) -> None:
    """clean_text decodes entities repeatedly and squeezes every kind of whitespace."""
    assert clean_text(raw) == clean


def test_http_url_takes_the_first_web_address() -> None:
    """Only http(s) addresses count; the first one wins."""
    assert http_url("javascript:x", " https://a.example/\u2028 ") == "https://a.example/"
    assert http_url(None, "mailto:a@b") is None


@pytest.mark.corpus
@pytest.mark.parametrize("feed", FEEDS)
def test_fast_read_matches_full_read_on_real_feeds(corpus: Path, feed: str) -> None:
    """On a sample of each real feed the ranking read agrees with the full parse."""
    files = sorted((corpus / feed).rglob("*.md"))
    sample = list(itertools.islice(files, 0, None, max(1, len(files) // 60)))
    for path in sample:
        assert read_entry(path, path.name) == read(path)[0], path.name
