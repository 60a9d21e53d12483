"""Reading one article file: the fast ranking read, the full read, and what real files do."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from conftest import FEEDS, FIXTURES, SEEDS

from digestbot import articles
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


def write(folder: Path, text: str, name: str = "a.md") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "broken-yaml.md",
            "invalid YAML in the front matter at line 4: found unexpected end of stream",
        ),
        ("latin1.md", "not UTF-8 text (line 2 cannot be decoded)"),
        ("wrong-type.md", "field heat: should be a number, not str"),
        ("list.md", "the front matter is not a mapping of fields"),
        ("no-front-matter.md", "no front matter (the file must start with a line '---')"),
    ],
)
def test_unreadable_files_say_exactly_where_and_why(name: str, message: str) -> None:
    """The reason names the line (of the file) and the field, in words; both readers say the
    same."""
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(HOSTILE / name, name)
        assert str(caught.value) == f"{name}: {message}"


@pytest.mark.parametrize("start", [b"", b"\xef\xbb\xbf"], ids=["plain", "bom"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_a_byte_that_is_not_utf8_is_placed_on_its_line(
    tmp_path: Path, start: bytes, newline: bytes
) -> None:
    """The line of the undecodable byte is the file's, with or without a BOM and CRs."""
    lines = [b"---", b"heat: 80", b'title: "Latin-1 \xe9t\xe9"', b"---", b""]
    path = tmp_path / "a.md"
    path.write_bytes(start + newline.join(lines))
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError, match=r"not UTF-8 text \(line 3 cannot be decoded\)"):
            reader(path, "a.md")


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("title: x\nheat: '107'\n", "field heat: should be a number, not str"),
        ("title: x\nheat: true\n", "field heat: should be a number, not bool"),
        ("title: x\nquality: [1]\n", "field quality: should be a number, not list"),
        ("title: x\ntopics: [AI, 7]\n", "field topics.1: input should be a valid string"),
        ("title: x\npublished: 'yes'\n", "field published: input should be a valid boolean"),
        ("title: '  \u200b '\n", "field title: is empty"),
        ("heat: 5\n", "field title: field required"),
        (
            "title: x\npublishedDateTime: 9999-12-31T12:00:00-12:00\n",
            "field publishedDateTime: is out of range",
        ),
        (
            "title: x\npublishedDateTime: 0001-01-01T00:00:00Z\n",
            "field publishedDateTime: is out of range",
        ),
    ],
)
def test_a_field_of_the_wrong_type_is_named_with_the_reason(
    tmp_path: Path, front: str, message: str
) -> None:
    """Numbers must be numbers (not quoted, not booleans), titles not empty; the message names
    the field (and the list item) and starts in lower case after the colon."""
    path = write(tmp_path, f"---\n{front}---\n")
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(path, "a.md")
        assert str(caught.value) == f"a.md: {message}"


def test_absent_fields_read_as_absent(tmp_path: Path) -> None:
    """Without heat, quality, date, flags, topics, address, excerpt, provider or images an
    article still reads: nothing is invented."""
    entry, article = read(write(tmp_path, "---\ntitle: Bare\nheat: null\n---\n"))
    assert (entry.path, entry.title, entry.url, entry.heat, entry.quality) == (
        "a.md",
        "Bare",
        None,
        None,
        None,
    )
    assert entry.published_at is None and entry.topics == ()
    assert entry.published is False and entry.removed is False
    assert (article.path, article.url, article.excerpt) == ("a.md", "", "")
    assert (article.image, article.provider, article.provider_logo) == (None, None, None)
    assert article.related == ()


def test_flags_and_a_date_without_timezone(tmp_path: Path) -> None:
    """`removed: true` is read; a publication time without a timezone is taken as UTC."""
    text = (
        "---\ntitle: T\npublished: true\nremoved: true\npublishedDateTime: 2020-05-14T09:53\n---\n"
    )
    entry = read_entry(write(tmp_path, text), "a.md")
    assert entry.published and entry.removed
    assert entry.published_at == datetime(2020, 5, 14, 9, 53, tzinfo=UTC)
    assert entry.published_at.tzinfo is UTC


def test_related_links_keep_three_that_have_an_address_and_a_title(tmp_path: Path) -> None:
    """Related items use webUrl, else originalUrl; items without an address or a title are
    skipped, a missing provider is None, and at most three are kept."""
    text = """---
title: T
related:
  - {title: No address}
  - {title: Original, originalUrl: "https://o.example/1"}
  - {title: "", webUrl: "https://e.example/untitled"}
  - {title: Web, webUrl: "https://w.example/2", provider: {name: "  Wire  "}}
  - {title: Third, webUrl: "https://w.example/3", provider: {}}
  - {title: Fourth, webUrl: "https://w.example/4"}
---
"""
    _, article = read(write(tmp_path, text))
    assert [(r.title, r.url, r.provider) for r in article.related] == [
        ("Original", "https://o.example/1", None),
        ("Web", "https://w.example/2", "Wire"),
        ("Third", "https://w.example/3", None),
    ]


def test_an_empty_front_matter_is_not_a_mapping(tmp_path: Path) -> None:
    """`---` straight after `---` closes an empty front matter: not a mapping of fields."""
    path = write(tmp_path, "---\n---\ntitle: not front matter\n---\n")
    with pytest.raises(ArticleError) as caught:
        read_entry(path, "a.md")
    assert str(caught.value) == "a.md: the front matter is not a mapping of fields"


def test_a_front_matter_never_closed_is_named(tmp_path: Path) -> None:
    """Without a closing `---` the reason says so, naming the file."""
    path = write(tmp_path, "---\ntitle: x\n", "open.md")
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(path, "open.md")
        assert str(caught.value) == "open.md: the front matter is never closed with a line '---'"


def test_a_file_that_cannot_be_read_is_named_with_the_reason(tmp_path: Path) -> None:
    """A path that cannot be read (here a folder named like an article) says why, by name."""
    (tmp_path / "folder.md").mkdir()
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(tmp_path / "folder.md", "folder.md")
        assert str(caught.value) == "folder.md: cannot be read (Is a directory)"


@pytest.mark.parametrize(
    "front",
    [
        # Plain (unquoted) values: the cut-down YAML must join keys without adding anything.
        "title: Plain title\nheat: 12\nexcerpt: skipped\nquality: 3\ntopics: [AI]\n",
        # A ranking field that refers to another field: only the full parse resolves it.
        "excerpt: &words The shared words\ntitle: *words\nheat: 7\n",
        # Nothing but ranking fields, and a title first.
        "title: Only\nheat: 1\n",
    ],
)
def test_fast_read_matches_full_read_on_plain_and_aliased_yaml(tmp_path: Path, front: str) -> None:
    """The ranking read agrees with the full read on plain values and on YAML aliases."""
    path = write(tmp_path, f"---\n{front}---\n")
    assert read_entry(path, "a.md") == read(path)[0]
    assert read_entry(path, "a.md").title in ("Plain title", "The shared words", "Only")


def test_fast_read_parses_only_the_ranking_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """The index's read hands YAML only the lines of the ranking fields: the excerpt, the
    images and the related links (most of a file) are never parsed."""
    parsed: list[str] = []
    load = yaml.load
    monkeypatch.setattr(
        articles.yaml, "load", lambda text, Loader: parsed.append(text) or load(text, Loader)
    )
    entry = read_entry(SONY, SONY.name)
    assert entry.title.startswith("Sony") and entry.heat == 107
    [text] = parsed
    keys = {line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()}
    assert {"title", "webUrl", "heat", "quality", "published", "publishedDateTime"} <= keys
    assert not keys & {"excerpt", "images", "related", "category", "ampWebUrl", "type"}


@pytest.mark.parametrize(
    ("candidates", "url"),
    [
        (("http://plain.example/a",), "http://plain.example/a"),
        (("HTTPS://Upper.example/A",), "HTTPS://Upper.example/A"),
        (("ftp://x.example/", "http://y.example/"), "http://y.example/"),
        ((None, "", "  "), None),
    ],
)
def test_http_and_https_addresses_in_any_case(candidates: tuple, url: str | None) -> None:
    """http:// and https:// addresses count, whatever the case of the scheme."""
    assert http_url(*candidates) == url


KB, MB, GB = 1024, 1024**2, 1024**3


@pytest.mark.parametrize(
    ("limit", "file_size", "sizes"),
    [
        (KB, 2 * KB + 8, "1 KB (the file is 2 KB)"),
        (1000 * KB, 100 * MB, "1000 KB (the file is 100.0 MB)"),
        (MB, GB, "1.0 MB (the file is 1.0 GB)"),
        (MB, 100 * GB, "1.0 MB (the file is 100.0 GB)"),
    ],
)
def test_a_front_matter_over_the_limit_is_skipped_with_both_sizes(
    tmp_path: Path, limit: int, file_size: int, sizes: str
) -> None:
    """A front matter that does not close within the limit is refused, saying the limit and
    the file's size (in KB, MB or GB); the rest of a huge file is never read."""
    path = tmp_path / "big.md"
    with path.open("wb") as file:
        file.write(b"---\ntitle: big\nexcerpt: '" + b"x" * (limit + 100))
        file.truncate(file_size)
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(path, "big.md", limit)
        assert str(caught.value) == f"big.md: front matter larger than {sizes}: skipped"


def test_a_front_matter_just_within_the_limit_reads(tmp_path: Path) -> None:
    """A front matter that closes within the limit reads, however long the body after it."""
    front = b"---\ntitle: fits\nexcerpt: '" + b"x" * 900 + b"'\n---\n"
    path = tmp_path / "fits.md"
    path.write_bytes(front + b"body " * 10_000)
    assert read_entry(path, "fits.md", len(front)).title == "fits"
    assert read_article(path, "fits.md", len(front))[1].excerpt == "x" * 900


def test_the_outlet_is_read_for_ranking(tmp_path: Path) -> None:
    """The ranking read knows the outlet (max_per_provider counts it): its name, cleaned; none
    when the provider has no name or there is no provider."""
    assert read_entry(SONY, SONY.name).provider == "The Verge"
    named = write(tmp_path, "---\ntitle: T\nprovider: {name: '  Wire\u200b '}\n---\n")
    assert read_entry(named, "a.md").provider == "Wire"
    for front in ("provider: {name: ' '}\n", "provider: {}\n", ""):
        path = write(tmp_path, f"---\ntitle: T\n{front}---\n")
        assert read_entry(path, "a.md").provider is None
        assert read_entry(path, "a.md") == read_article(path, "a.md")[0]


@pytest.mark.parametrize("character", ["\x07", "\x00", "\x1b"])
def test_a_control_character_in_the_front_matter_is_an_unreadable_file_not_a_crash(
    tmp_path: Path, character: str
) -> None:
    """YAML refuses a raw control character: the file is skipped with an ArticleError naming
    it (no line is invented), never an exception that would stop indexing the others."""
    path = write(tmp_path, f"---\ntitle: bell{character}here\nheat: 1\n---\n")
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(path, "a.md")
        assert caught.value.path == "a.md"
        assert caught.value.reason.startswith("invalid YAML in the front matter: ")
        assert "control characters are not allowed" in caught.value.reason


def test_an_unclosed_front_matter_that_fits_the_limit_is_never_closed_not_too_large(
    tmp_path: Path,
) -> None:
    """A file of exactly `limit` bytes without a closing `---` was read whole: its reason is
    the missing `---`; one byte more and it is over the limit."""
    limit = KB
    start = b"---\ntitle: edge\nexcerpt: '"
    path = tmp_path / "edge.md"
    path.write_bytes(start + b"x" * (limit - len(start)))
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(path, "edge.md", limit)
        assert caught.value.reason == "the front matter is never closed with a line '---'"
    path.write_bytes(start + b"x" * (limit + 1 - len(start)))
    for reader in (read_entry, read_article):
        with pytest.raises(ArticleError) as caught:
            reader(path, "edge.md", limit)
        assert caught.value.reason.startswith("front matter larger than 1 KB")
