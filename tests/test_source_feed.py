"""An RSS or Atom feed as a source: fetching it, its entries as article files, its copies."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import logging
import shutil
import socket
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from conftest import FakeClock
from feedserver import FeedServer

from digestbot import __version__
from digestbot.articles import Article, Entry, read_article, read_entry
from digestbot.errors import SourceError
from digestbot.sources import entries, fetch, parsing
from digestbot.sources import feed as feed_module
from digestbot.sources.base import Change
from digestbot.sources.feed import FeedSource

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
DAY = 24 * 3600
MB = 1024 * 1024

RSS_091 = """<?xml version="1.0"?>
<rss version="0.91"><channel>
<title>Old Wire</title><link>https://old.example/</link><description>d</description>
<language>en-us</language>
<item><title>Ninety-one</title><link>https://old.example/91</link>
<description>An RSS 0.91 item.</description></item>
</channel></rss>"""

RSS_10 = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://rdf.example/"><title>RDF Daily</title>
<link>https://rdf.example/</link><description>x</description></channel>
<item rdf:about="https://rdf.example/1"><title>Resource one</title>
<link>https://rdf.example/1</link><description>An RDF item.</description>
<dc:date>2024-05-01T10:00:00Z</dc:date><dc:subject>Space</dc:subject></item>
</rdf:RDF>"""

RSS_20 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
<title>Example News</title><link>https://news.example/</link><description>d</description>
<item><title>Chips everywhere</title><link>https://news.example/chips</link>
<guid isPermaLink="false">chips-1</guid><description>Chips are in everything.</description>
<pubDate>Tue, 14 May 2024 09:53:00 +0200</pubDate>
<category>AI</category><category>Hardware</category>
<media:thumbnail url="https://img.example/thumb.jpg"/>
<enclosure url="https://img.example/enclosure.jpg" type="image/jpeg" length="1"/></item>
<item><title>Media content</title><link>https://news.example/media</link>
<media:content url="https://img.example/content.png" medium="image"/></item>
<item><title>Enclosed</title><link>https://news.example/enclosed</link>
<enclosure url="https://img.example/podcast.mp3" type="audio/mpeg" length="1"/>
<enclosure url="https://img.example/cover.webp" type="image/webp" length="1"/></item>
<item><title>Podcast only</title><link>https://news.example/podcast</link>
<enclosure url="https://img.example/episode.mp3" type="audio/mpeg" length="1"/></item>
</channel></rss>"""

ATOM_03 = """<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>Atom Old</title>
<link rel="alternate" type="text/html" href="https://a03.example/"/>
<modified>2024-05-01T10:00:00Z</modified>
<entry><title>Point three</title>
<link rel="alternate" type="text/html" href="https://a03.example/1"/><id>tag:a03,2024:1</id>
<issued>2024-05-01T09:00:00Z</issued><modified>2024-05-01T10:00:00Z</modified>
<summary>An Atom 0.3 entry.</summary></entry></feed>"""

ATOM_10 = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Now</title>
<link href="https://a10.example/"/><id>urn:feed</id><updated>2024-05-02T10:00:00Z</updated>
<entry><title type="html">One &amp;amp; &lt;i&gt;only&lt;/i&gt;</title>
<link href="https://a10.example/1"/><id>urn:entry:1</id>
<updated>2024-05-02T10:00:00Z</updated>
<content type="html">&lt;p&gt;An Atom 1.0 entry.&lt;/p&gt;</content>
<category term="Robots"/></entry></feed>"""

HTML_SUMMARY = """<rss version="2.0"><channel><title>Markup</title>
<item><title>Entities</title><link>https://markup.example/1</link>
<description><![CDATA[<p>Chips &amp; <b>AI</b>&nbsp;news</p><script>alert(1)</script>
<ul><li>one</li><li>two</li></ul>&eacute;t&eacute; &#8212;   done<br/>end]]></description>
</item></channel></rss>"""

HOSTILE_TITLE = '<script>alert("x")</script> <!channel> \'single\' "double" | pipe: --- ... #hash'
HOSTILE = """<rss version="2.0"><channel><title>Hostile | "Feed"</title>
<item><title>&lt;script&gt;alert("x")&lt;/script&gt; &lt;!channel&gt; 'single' "double"
 | pipe:
 --- ... #hash</title>
<link>https://hostile.example/1</link><guid>: &amp; * ! --- |</guid>
<category>---</category><category>...</category><category>&lt;!here&gt;</category>
<description>line one
---
line two</description></item></channel></rss>"""


def rss(*items: str, title: str = "Example News") -> str:
    """An RSS 2.0 feed of these <item> bodies."""
    body = "".join(f"<item>{item}</item>" for item in items)
    return f'<rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'


def item(guid: str, title: str, link: str = "", summary: str = "", date: str = "") -> str:
    """The body of an RSS 2.0 <item>; empty arguments leave their element out."""
    parts = [f"<guid>{guid}</guid>" if guid else "", f"<title>{title}</title>"]
    parts += [f"<link>{link}</link>" if link else "", f"<description>{summary}</description>"]
    parts.append(f"<pubDate>{date}</pubDate>" if date else "")
    return "".join(parts)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to the local server go straight to it, whatever proxy the machine has."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """A running FeedServer with nothing served yet."""
    with FeedServer() as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    """A clock standing at NOW until a test moves it."""
    return FakeClock(NOW)


Maker = Callable[..., FeedSource]


@pytest.fixture
def make_source(tmp_path: Path, server: FeedServer, clock: FakeClock) -> Maker:
    """A FeedSource named news for a path (or an address) of the server, in one home."""

    def make(
        path: str = "/feed.xml", *, url: str | None = None, home: str = "home", **options: object
    ) -> FeedSource:
        options.setdefault("timeout", 5.0)
        address = url or server.url(path)
        return FeedSource("news", address, home=tmp_path / home, clock=clock, **options)

    return make


def read_copy(source: FeedSource) -> dict[str, tuple[Entry, Article]]:
    """Every article file of the source's current copy, read by the project's reader."""
    copy = source.current()
    assert copy is not None
    return {path.name: read_article(path, path.name) for path in sorted(copy.folder.iterdir())}


def by_title(source: FeedSource) -> dict[str, Article]:
    return {article.title: article for _, article in read_copy(source).values()}


def front_matter(source: FeedSource, name: str) -> dict:
    copy = source.current()
    assert copy is not None
    return yaml.safe_load((copy.folder / name).read_text(encoding="utf-8").split("---\n")[1])


def contents(source: FeedSource) -> tuple[Path, str, dict[str, bytes]]:
    """The current copy as its folder, revision and the bytes of each file."""
    copy = source.current()
    assert copy is not None
    files = {path.name: path.read_bytes() for path in copy.folder.iterdir()}
    return copy.folder, copy.revision, files


# Formats and fields


FORMATS = {
    "rss091": (
        RSS_091,
        "Ninety-one",
        "https://old.example/91",
        "An RSS 0.91 item.",
        NOW,
        "Old Wire",
        (),
    ),
    "rss10": (
        RSS_10,
        "Resource one",
        "https://rdf.example/1",
        "An RDF item.",
        datetime(2024, 5, 1, 10, tzinfo=UTC),
        "RDF Daily",
        ("Space",),
    ),
    "rss20": (
        RSS_20,
        "Chips everywhere",
        "https://news.example/chips",
        "Chips are in everything.",
        datetime(2024, 5, 14, 7, 53, tzinfo=UTC),
        "Example News",
        ("AI", "Hardware"),
    ),
    "atom03": (
        ATOM_03,
        "Point three",
        "https://a03.example/1",
        "An Atom 0.3 entry.",
        datetime(2024, 5, 1, 9, tzinfo=UTC),
        "Atom Old",
        (),
    ),
    "atom10": (
        ATOM_10,
        "One & only",
        "https://a10.example/1",
        "An Atom 1.0 entry.",
        datetime(2024, 5, 2, 10, tzinfo=UTC),
        "Atom Now",
        ("Robots",),
    ),
}


@pytest.mark.parametrize("kind", FORMATS)
def test_each_feed_format_becomes_readable_articles(
    kind: str, server: FeedServer, make_source: Maker
) -> None:
    """RSS 0.91, 1.0 (RDF) and 2.0 and Atom 0.3 and 1.0 entries read back with their fields."""
    body, title, url, excerpt, published, provider, topics = FORMATS[kind]
    server.serve("/feed.xml", body, content_type="application/xml")
    source = make_source()
    change = source.refresh()
    assert change.new >= 1 and change.changed == 0 and change.removed == 0
    article = by_title(source)[title]
    entry = read_entry(source.current().folder / article.path, article.path)
    assert (article.url, article.excerpt, article.provider) == (url, excerpt, provider)
    assert article.published_at == published
    assert entry.topics == topics
    assert entry.published and entry.heat == 100 and entry.published_at == published
    assert front_matter(source, article.path)["type"] == "article"


def test_images_come_from_thumbnail_media_content_or_image_enclosure(
    server: FeedServer, make_source: Maker
) -> None:
    """A thumbnail wins over an enclosure; media content and image enclosures count; audio not."""
    server.serve("/feed.xml", RSS_20)
    source = make_source()
    source.refresh()
    images = {title: article.image for title, article in by_title(source).items()}
    assert images == {
        "Chips everywhere": "https://img.example/thumb.jpg",
        "Media content": "https://img.example/content.png",
        "Enclosed": "https://img.example/cover.webp",
        "Podcast only": None,
    }


def test_each_entry_records_its_identity(server: FeedServer, make_source: Maker) -> None:
    """feedEntryId is the guid or atom:id, else the link, else a hash of title and summary."""
    feed = rss(
        item("guid-1", "Guid", "https://x.example/1"),
        item("", "Link only", "https://x.example/2"),
        item("", "Neither", summary="just text"),
    )
    server.serve("/feed.xml", feed)
    source = make_source()
    source.refresh()
    ids = {front_matter(source, name)["feedEntryId"] for name in read_copy(source)}
    assert {"guid-1", "https://x.example/2"} < ids
    assert any(identity.startswith("sha1:") for identity in ids)


def test_html_summary_becomes_plain_text(server: FeedServer, make_source: Maker) -> None:
    """Tags and scripts are dropped, entities decoded, blocks spaced and whitespace squeezed."""
    server.serve("/feed.xml", HTML_SUMMARY)
    source = make_source()
    source.refresh()
    (article,) = by_title(source).values()
    assert article.excerpt == "Chips & AI news one two été — done end"


def test_long_summary_is_cut_between_words(server: FeedServer, make_source: Maker) -> None:
    """An excerpt keeps at most 1,000 characters of a long summary and ends with an ellipsis."""
    server.serve("/feed.xml", rss(item("long", "Long", summary="word " * 2000)))
    source = make_source()
    source.refresh()
    excerpt = by_title(source)["Long"].excerpt
    assert 900 < len(excerpt) <= 1000 and excerpt.endswith("word…")


def test_hostile_title_and_fields_survive_the_front_matter(
    server: FeedServer, make_source: Maker
) -> None:
    """Script tags, <!channel>, quotes, pipes, fences and newlines are kept as text, YAML intact."""
    server.serve("/feed.xml", HOSTILE)
    source = make_source()
    source.refresh()
    ((name, (entry, article)),) = read_copy(source).items()
    assert article.title == HOSTILE_TITLE
    assert article.excerpt == "line one --- line two"
    assert article.provider == 'Hostile | "Feed"'
    assert entry.topics == ("---", "...", "<!here>")
    assert read_entry(source.current().folder / name, name) == entry
    assert front_matter(source, name)["feedEntryId"] == ": & * ! --- |"


def test_topics_add_the_configured_ones_once(server: FeedServer, make_source: Maker) -> None:
    """Categories come first, then the source's topics, without repeats in any letter case."""
    server.serve(
        "/feed.xml", rss("<title>T</title><category>ai</category><category>Robots</category>")
    )
    source = make_source(topics=["AI", "Chips", "robots"])
    source.refresh()
    ((entry, _),) = read_copy(source).values()
    assert entry.topics == ("ai", "Robots", "Chips")


def test_provider_falls_back_to_the_link_domain(server: FeedServer, make_source: Maker) -> None:
    """Without a feed title the provider is its link's domain, else the feed's host."""
    linked = '<rss version="2.0"><channel><link>https://www.fallback.example/</link>'
    server.serve("/linked.xml", linked + "<item><title>A</title></item></channel></rss>")
    server.serve(
        "/bare.xml", '<rss version="2.0"><channel><item><title>B</title></item></channel></rss>'
    )
    linked_source = make_source("/linked.xml")
    linked_source.refresh()
    assert by_title(linked_source)["A"].provider == "fallback.example"
    bare = make_source("/bare.xml", home="bare")
    bare.refresh()
    assert by_title(bare)["B"].provider == "127.0.0.1"


def test_dates_default_to_first_seen_and_never_lie_ahead(
    server: FeedServer, make_source: Maker, clock: FakeClock
) -> None:
    """An undated entry is dated when first seen, for good; a future date is brought back."""
    feed = rss(
        item("undated", "Undated", "https://x.example/u"),
        item("future", "Future", "https://x.example/f", date="Mon, 01 Jan 2035 00:00:00 GMT"),
    )
    server.serve("/feed.xml", feed)
    source = make_source()
    source.refresh()
    clock.advance(DAY)
    assert source.refresh().changed == 0
    dates = {title: article.published_at for title, article in by_title(source).items()}
    assert dates == {"Undated": NOW, "Future": NOW}


def test_dates_no_calendar_holds_are_no_dates(
    server: FeedServer, make_source: Maker, clock: FakeClock
) -> None:
    """ "0000-00-00" and years past the calendar are no dates (the entry is dated when first
    seen, the rest of the feed unharmed); a real date before 1000 keeps its four digits."""
    atom = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Z</title><id>urn:z</id>'
        "<entry><title>Zero</title><id>urn:z:1</id><link href='https://x.example/z'/>"
        "<updated>0000-00-00T00:00:00Z</updated></entry>"
        "<entry><title>Last</title><id>urn:z:2</id><link href='https://x.example/l'/>"
        "<updated>9999-12-31T23:59:59Z</updated></entry>"
        "<entry><title>Old</title><id>urn:z:3</id><link href='https://x.example/o'/>"
        "<updated>0999-01-01T00:00:00Z</updated></entry></feed>"
    )
    server.serve("/feed.xml", atom)
    source = make_source()
    assert source.refresh().new == 3
    dates = {title: article.published_at for title, article in by_title(source).items()}
    assert dates == {"Zero": NOW, "Last": NOW, "Old": datetime(999, 1, 1, tzinfo=UTC)}


# Conditional GET and the request


def test_second_refresh_is_conditional_and_not_modified(
    server: FeedServer, make_source: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next refresh sends If-None-Match and If-Modified-Since; a 304 parses nothing."""
    stamp = "Mon, 20 May 2024 10:00:00 GMT"
    server.serve("/feed.xml", RSS_20, etag='"v1"', last_modified=stamp)
    source = make_source()
    first = source.refresh()
    copy = source.current()
    monkeypatch.setattr(parsing.feedparser, "parse", pytest.fail)
    assert source.refresh() == Change(first.revision, not_modified=True)
    assert source.current() == copy
    before, after = server.requests_to("/feed.xml")
    assert "If-None-Match" not in before.headers and "If-Modified-Since" not in before.headers
    assert after.headers["If-None-Match"] == '"v1"'
    assert after.headers["If-Modified-Since"] == stamp


def test_last_modified_alone_makes_a_conditional_get(
    server: FeedServer, make_source: Maker
) -> None:
    """A feed with Last-Modified but no ETag is asked If-Modified-Since and answers 304."""
    server.serve("/feed.xml", RSS_20, last_modified="Mon, 20 May 2024 10:00:00 GMT")
    source = make_source()
    source.refresh()
    assert source.refresh().not_modified
    assert "If-None-Match" not in server.requests_to("/feed.xml")[-1].headers


def test_request_names_digestbot_and_asks_for_feeds(server: FeedServer, make_source: Maker) -> None:
    """The User-Agent is digestbot/VERSION and Accept asks for RSS and Atom."""
    server.serve("/feed.xml", RSS_20)
    make_source().refresh()
    (request,) = server.requests_to("/feed.xml")
    assert request.headers["User-Agent"] == f"digestbot/{__version__}"
    assert "application/rss+xml" in request.headers["Accept"]
    assert "application/atom+xml" in request.headers["Accept"]


def test_validators_and_revision_survive_a_restart(server: FeedServer, make_source: Maker) -> None:
    """A new FeedSource on the same home has the same copy and revision and asks conditionally."""
    server.serve("/feed.xml", RSS_20, etag='"v1"')
    first = make_source().refresh()
    again = make_source()
    assert again.current() is not None and again.current().revision == first.revision
    assert again.refresh() == Change(first.revision, not_modified=True)


def test_new_address_drops_the_old_validators(server: FeedServer, make_source: Maker) -> None:
    """The ETag of one address is never sent to another, even from the same home."""
    server.serve("/feed.xml", RSS_20, etag='"v1"')
    server.serve("/moved.xml", RSS_20, etag='"v1"')
    make_source().refresh()
    assert make_source("/moved.xml").refresh().not_modified is False
    assert "If-None-Match" not in server.requests_to("/moved.xml")[0].headers


def test_state_file_keeps_every_field(tmp_path: Path) -> None:
    """What a refresh saves, the next one loads: every field, the entries' dates included."""
    seen = feed_module._Seen(
        "a.md", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 3, tzinfo=UTC), "d1"
    )
    state = feed_module._State(
        url_key="k", etag='"v1"', last_modified="Mon", revision="r", entries={"id-1": seen}
    )
    assert all(getattr(state, field.name) for field in dataclasses.fields(state))
    state.save(tmp_path / "state.json")
    assert feed_module._State.load(tmp_path / "state.json") == state


def test_unreadable_state_starts_over(server: FeedServer, make_source: Maker) -> None:
    """A damaged state file costs one rewrite of the entries, not the source."""
    server.serve("/feed.xml", RSS_20, etag='"v1"')
    source = make_source()
    source.refresh()
    (source.home / feed_module.STATE_FILE).write_text("{not json", encoding="utf-8")
    change = source.refresh()
    assert (change.new, change.not_modified) == (4, False)
    assert len(read_copy(source)) == 4


def test_gzip_answer_is_read(server: FeedServer, make_source: Maker) -> None:
    """A gzip-compressed feed is inflated before parsing."""
    server.serve("/feed.xml", RSS_20, gzip=True)
    source = make_source()
    assert source.refresh().new == 4
    assert server.requests_to("/feed.xml")[0].headers["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize("wrapped", [True, False], ids=["zlib", "raw"])
def test_deflate_answer_is_read_with_or_without_its_zlib_header(
    server: FeedServer, make_source: Maker, wrapped: bool
) -> None:
    """`Content-Encoding: deflate` is zlib data by the book; some servers send raw deflate."""
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    body = packer.compress(RSS_20.encode()) + packer.flush()
    server.serve("/feed.xml", body, headers={"Content-Encoding": "deflate"})
    assert make_source().refresh().new == 4


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_a_compressed_body_trickling_a_byte_at_a_time_is_read(encoding: str) -> None:
    """How a body is packed is read from its first two bytes, however they arrive."""
    data = RSS_20.encode()
    if encoding == "gzip":
        packed = gzip.compress(data)
    else:
        packer = zlib.compressobj(wbits=-zlib.MAX_WBITS if encoding == "raw-deflate" else 15)
        packed = packer.compress(data) + packer.flush()
    body = fetch._Body(encoding.removeprefix("raw-"))
    for index in range(len(packed)):
        body.add(packed[index : index + 1])
    assert body.value() == data


def test_redirect_is_followed(server: FeedServer, make_source: Maker) -> None:
    """A feed that moved (301) is read from its new address."""
    server.serve("/old.xml", status=301, headers={"Location": "/feed.xml"})
    server.serve("/feed.xml", RSS_20)
    source = make_source("/old.xml")
    assert source.refresh().new == 4


# Failures


def good_then(
    server: FeedServer, make_source: Maker, fail: Callable[[FeedServer], None], **options: object
) -> tuple[FeedSource, SourceError]:
    """Refresh a good feed, let `fail` break the server, refresh again: the copy is untouched."""
    server.serve("/feed.xml", RSS_20)
    source = make_source(**options)
    source.refresh()
    before = contents(source)
    fail(server)
    with pytest.raises(SourceError) as info:
        source.refresh()
    assert info.value.source == "news"
    assert contents(source) == before
    return source, info.value


def gzip_bomb(server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (11 * MB))
    server.serve("/feed.xml", bomb, headers={"Content-Encoding": "gzip"})


FAILURES = {
    "403": (
        lambda s: s.serve("/feed.xml", status=403),
        "refused access (HTTP 403 Forbidden)",
    ),
    "404": (lambda s: s.serve("/feed.xml", status=404), "has no feed there (HTTP 404 Not Found)"),
    "429": (
        lambda s: s.serve("/feed.xml", status=429, headers={"Retry-After": "120"}),
        "(HTTP 429 Too Many Requests); it asks to retry after 120 s",
    ),
    "500": (
        lambda s: s.serve("/feed.xml", status=500),
        "failed on its side (HTTP 500 Internal Server Error)",
    ),
    "broken-xml": (
        lambda s: s.serve("/feed.xml", '<rss version="2.0"><channel><title>Cut'),
        "sent broken XML and no entries",
    ),
    "html-page": (
        lambda s: s.serve("/feed.xml", "<html><p>Log in</p>", content_type="text/html"),
        "is not an RSS or Atom feed (it sent text/html)",
    ),
    "huge-declared": (lambda s: s.huge("/feed.xml", 11 * MB), "sent more than 10 MB"),
    "huge-undeclared": (
        lambda s: s.huge("/feed.xml", 11 * MB, declare_length=False),
        "sent more than 10 MB",
    ),
    "gzip-bomb": (gzip_bomb, "sent more than 10 MB"),
    "corrupt-gzip": (
        lambda s: s.serve("/feed.xml", b"not gzip at all", headers={"Content-Encoding": "gzip"}),
        "sent a corrupt compressed body",
    ),
}


@pytest.mark.parametrize("kind", FAILURES)
def test_failure_names_the_source_and_keeps_the_copy(
    kind: str, server: FeedServer, make_source: Maker
) -> None:
    """403, 404, 429, 500, broken XML, HTML, oversized and bad gzip raise a clear SourceError."""
    fail, reason = FAILURES[kind]
    _, error = good_then(server, make_source, fail)
    assert reason in error.reason
    assert error.reason.startswith(server.url("/feed.xml"))
    assert "\n" not in str(error)


def test_retry_after_date_is_quoted(server: FeedServer, make_source: Maker) -> None:
    """A 429 whose Retry-After is a date says that date."""
    when = "Mon, 20 May 2024 13:00:00 GMT"
    server.serve("/feed.xml", status=429, headers={"Retry-After": when})
    with pytest.raises(SourceError, match=f"retry after {when}"):
        make_source().refresh()


def test_hanging_server_times_out(server: FeedServer, make_source: Maker) -> None:
    """A server that never answers fails the refresh at the timeout, the copy kept."""
    _, error = good_then(server, make_source, lambda s: s.hang("/feed.xml"), timeout=0.5)
    assert error.reason.endswith("did not answer within 0.5 s")


def test_trickling_server_times_out(server: FeedServer, make_source: Maker) -> None:
    """The timeout bounds the whole fetch, not each read: a byte at a time does not hold it."""
    _, error = good_then(server, make_source, lambda s: s.trickle("/feed.xml", 0.05), timeout=0.5)
    assert error.reason.endswith("did not answer within 0.5 s")


def test_refused_connection_keeps_the_copy(make_source: Maker) -> None:
    """A server gone (nothing listening) is reported as refusing; the copy stays."""
    with FeedServer() as gone:
        gone.serve("/feed.xml", RSS_20)
        source = make_source(url=gone.url("/feed.xml"))
        source.refresh()
    before = contents(source)
    with pytest.raises(SourceError, match="127.0.0.1:[0-9]+ refused the connection") as info:
        source.refresh()
    assert info.value.source == "news" and contents(source) == before


def test_unknown_host(make_source: Maker, monkeypatch: pytest.MonkeyPatch) -> None:
    """A host name that does not resolve is reported as such."""

    def no_such_host(*args: object, **kwargs: object) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    source = make_source(url="http://feeds.invalid/rss")
    with pytest.raises(SourceError, match="the host feeds.invalid was not found"):
        source.refresh()


def test_only_valid_http_addresses(make_source: Maker) -> None:
    """file://, ftp:// and malformed addresses fail as SourceErrors, nothing fetched."""
    for url in ("file:///etc/passwd", "ftp://example.com/feed.xml", "http://[::1/feed"):
        with pytest.raises(SourceError, match=r"is not an http\(s\) address"):
            make_source(url=url).refresh()
    with pytest.raises(SourceError, match="is not a valid address"):
        make_source(url="http://127.0.0.1:1/a feed.xml").refresh()


def test_body_naming_a_file_is_not_read_as_that_file(
    server: FeedServer, make_source: Maker, tmp_path: Path
) -> None:
    """feedparser opens a bytes 'string' that names a file: an answer can never make it do so."""
    local = tmp_path / "local.xml"
    local.write_text(RSS_20, encoding="utf-8")
    server.serve("/feed.xml", str(local), content_type="text/plain")
    with pytest.raises(SourceError, match="is not an RSS or Atom feed"):
        make_source().refresh()


def test_broken_xml_with_entries_is_accepted(server: FeedServer, make_source: Maker) -> None:
    """A feed with an XML error but readable entries is taken as it is."""
    broken = rss(item("a", "Fish & chips", "https://x.example/a")).replace("</rss>", "")
    server.serve("/feed.xml", broken)
    source = make_source()
    assert source.refresh().new == 1
    assert set(by_title(source)) == {"Fish & chips"}


def test_empty_feed_is_fine(server: FeedServer, make_source: Maker) -> None:
    """A feed without entries makes an empty copy, not an error."""
    server.serve("/feed.xml", rss())
    source = make_source()
    assert source.refresh() == Change(source.current().revision)
    assert read_copy(source) == {}


# Entries across refreshes


def test_link_drift_with_the_same_guid_rewrites_the_same_file(
    server: FeedServer, make_source: Maker
) -> None:
    """A changed link under the same guid is the same article: same file, counted as changed."""
    server.serve("/feed.xml", rss(item("g-1", "Drifting", "https://x.example/a")))
    source = make_source()
    source.refresh()
    (name,) = read_copy(source)
    server.serve("/feed.xml", rss(item("g-1", "Drifting", "https://x.example/b?utm=1")))
    change = source.refresh()
    assert (change.new, change.changed, change.removed) == (0, 1, 0)
    assert list(read_copy(source)) == [name]
    assert read_copy(source)[name][1].url == "https://x.example/b?utm=1"


def test_duplicate_guid_in_one_feed_is_one_article(server: FeedServer, make_source: Maker) -> None:
    """Two entries with one guid make one file, from the first of them."""
    server.serve("/feed.xml", rss(item("same", "First"), item("same", "Second")))
    source = make_source()
    assert source.refresh().new == 1
    assert set(by_title(source)) == {"First"}


def test_entry_that_left_stays_seven_days(
    server: FeedServer, make_source: Maker, clock: FakeClock
) -> None:
    """An entry gone from the feed stays a candidate for 7 days after last seen, then goes."""
    stay, leave = (
        item("stay", "Stays", "https://x.example/s"),
        item("go", "Goes", "https://x.example/g"),
    )
    server.serve("/feed.xml", rss(stay, leave))
    source = make_source()
    source.refresh()
    server.serve("/feed.xml", rss(stay))
    clock.advance(7 * DAY)
    assert source.refresh().removed == 0
    assert set(by_title(source)) == {"Stays", "Goes"}
    clock.advance(1)
    change = source.refresh()
    assert (change.new, change.changed, change.removed) == (0, 0, 1)
    assert set(by_title(source)) == {"Stays"}


def test_entry_seen_again_is_kept_longer(
    server: FeedServer, make_source: Maker, clock: FakeClock
) -> None:
    """Each sighting restarts the 7 days: an entry still in the feed never expires."""
    server.serve("/feed.xml", rss(item("old", "Old news", "https://x.example/o")))
    source = make_source()
    for _ in range(3):
        source.refresh()
        clock.advance(5 * DAY)
    server.serve("/feed.xml", rss())
    assert source.refresh().removed == 0
    assert set(by_title(source)) == {"Old news"}


def test_unchanged_entry_keeps_its_file(server: FeedServer, make_source: Maker) -> None:
    """A new copy links the files of unchanged entries (same inode) and replaces changed ones."""
    keep = item("keep", "Kept", "https://x.example/k", summary="same")
    server.serve("/feed.xml", rss(keep, item("edit", "Edited", "https://x.example/e", "v1")))
    source = make_source()
    source.refresh()
    old_folder, _, old_files = contents(source)
    old = {name: (old_folder / name).stat() for name in old_files}
    server.serve("/feed.xml", rss(keep, item("edit", "Edited", "https://x.example/e", "v2")))
    written: list[tuple[int, int]] = []
    change = source.refresh(lambda done, total: written.append((done, total)))
    assert (change.new, change.changed, change.removed) == (0, 1, 0)
    assert written == [(1, 1)]
    new_folder, _, new_files = contents(source)
    assert new_folder != old_folder
    kept, edited = (by_title(source)[title].path for title in ("Kept", "Edited"))
    assert (new_folder / kept).stat().st_ino == old[kept].st_ino
    assert (new_folder / kept).stat().st_mtime_ns == old[kept].st_mtime_ns
    assert (new_folder / edited).stat().st_ino != old[edited].st_ino
    assert (old_folder / edited).read_bytes() == old_files[edited]  # the old copy is intact
    assert by_title(source)["Edited"].excerpt == "v2"


def test_unchanged_feed_keeps_the_copy(server: FeedServer, make_source: Maker) -> None:
    """A 200 with the same entries changes nothing: same folder, same revision, zero counts."""
    server.serve("/feed.xml", RSS_20)
    source = make_source()
    first = source.refresh()
    copy = source.current()
    assert source.refresh() == Change(first.revision)
    assert source.current() == copy


def test_feeds_refresh_in_parallel(server: FeedServer, tmp_path: Path, clock: FakeClock) -> None:
    """Different FeedSources refreshed in threads at once each get their own entries."""
    sources = []
    for number in range(8):
        server.serve(f"/f{number}.xml", rss(item(f"g{number}", f"Story {number}")), latency=0.1)
        home = tmp_path / f"home{number}"
        sources.append(
            FeedSource(f"f{number}", server.url(f"/f{number}.xml"), home=home, clock=clock)
        )
    with ThreadPoolExecutor(8) as pool:
        changes = list(pool.map(lambda source: source.refresh(), sources))
    assert [change.new for change in changes] == [1] * 8
    assert [list(by_title(source)) for source in sources] == [[f"Story {n}"] for n in range(8)]


# Credentials


@pytest.mark.parametrize("userinfo", ["reader:s3cret-TOKEN", "s3cret-TOKEN"])
def test_credentials_never_show(
    userinfo: str,
    server: FeedServer,
    make_source: Maker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A password or token in the address is sent as Basic auth and never shown or written."""
    caplog.set_level(logging.DEBUG)
    server.serve("/feed.xml", rss(item("p", "Private", "/posts/1")))
    source = make_source(url=server.url("/feed.xml", userinfo=userinfo))
    source.refresh()
    expected = base64.b64encode(userinfo.encode() + (b"" if ":" in userinfo else b":")).decode()
    assert server.requests_to("/feed.xml")[0].headers["Authorization"] == f"Basic {expected}"
    assert by_title(source)["Private"].url == server.url("/posts/1")  # resolved without them
    server.serve("/feed.xml", status=429, headers={"Retry-After": "s3cret-TOKEN"})  # echoed
    with pytest.raises(SourceError) as info:
        source.refresh()
    shown = "reader:***@" if ":" in userinfo else "***@"
    assert shown in str(info.value) and "s3cret-TOKEN" not in str(info.value)
    assert str(info.value).endswith("retry after ***")
    assert "feed refreshed source=news" in caplog.text and "s3cret-TOKEN" not in caplog.text
    written = [path.read_bytes() for path in source.home.rglob("*") if path.is_file()]
    assert written and not any(b"s3cret-TOKEN" in data for data in written)


def test_redirect_does_not_carry_credentials(server: FeedServer, make_source: Maker) -> None:
    """Credentials go to the address configured, not to wherever it redirects."""
    server.serve("/old.xml", status=302, headers={"Location": "/feed.xml"})
    server.serve("/feed.xml", RSS_20)
    make_source(url=server.url("/old.xml", userinfo="reader:s3cret")).refresh()
    assert "Authorization" in server.requests_to("/old.xml")[0].headers
    assert "Authorization" not in server.requests_to("/feed.xml")[0].headers


def test_a_reference_to_no_character_is_a_replacement_character(
    server: FeedServer, make_source: Maker
) -> None:
    """`&#xD800;` (half of a UTF-16 pair), `&#x110000;`, `&#0;`: XML forbids them, and one
    made feedparser fail on the whole feed. Each reads as U+FFFD; real ones are kept."""
    padded = "&#" + "0" * 22 + "55296;"  # too long for a bound on its digits
    titles = ["a &#xD800; b", "c &#x110000; d", f"e {padded} f", "g &#8217; &#x1F600; h"]
    server.serve("/feed.xml", rss(*(item(f"g{n}", t) for n, t in enumerate(titles))))
    source = make_source()
    assert source.refresh().new == 4
    assert sorted(by_title(source)) == [
        "a \ufffd b",
        "c \ufffd d",
        "e \ufffd f",
        "g \u2019 \U0001f600 h",
    ]


def test_a_feed_the_parser_trips_on_fails_named(
    server: FeedServer, make_source: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever a hostile feed makes the parser raise, the feed fails with the reason and the
    source's name; no traceback reaches a run."""

    def trips(*args: object, **kwargs: object) -> None:
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    server.serve("/feed.xml", RSS_20)
    monkeypatch.setattr(parsing.feedparser, "parse", trips)
    with pytest.raises(SourceError) as failure:
        make_source().refresh()
    assert failure.value.source == "news"
    assert "could not be read (UnicodeEncodeError: 'utf-8' codec can't encode" in str(failure.value)


def test_a_run_of_lone_angle_brackets_is_text_not_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    """`<a <a <a ...` (a hostile summary) reads as the text it is, and no `<` in it is tried as
    a tag: Python's HTMLParser retries each one against the rest, quadratic in the length."""
    tried: list[int] = []
    parse_starttag = entries._TextOf.parse_starttag

    def counting(self: entries._TextOf, i: int) -> int:
        tried.append(i)
        return parse_starttag(self, i)

    monkeypatch.setattr(entries._TextOf, "parse_starttag", counting)
    assert entries.strip_html("<a " * 2000 + "<b>bold</b>") == "<a " * 1999 + "<a bold"
    assert len(tried) == 1  # <b> only
    assert entries.strip_html("x <3 y, 1 < 2 > 0 <p>end") == "x <3 y, 1 < 2 > 0 end"


def test_only_the_beginning_of_a_huge_summary_is_read() -> None:
    """An excerpt is short: a summary of megabytes is read for its first characters only, and
    a tag the cut falls in is left out, not read as text."""
    huge = "<p>" + "word " * 1_000_000 + "</p>"
    assert len(entries.strip_html(huge)) < entries.HTML_READ
    image = f'<p>Before</p><img src="data:image/png;base64,{"A" * entries.HTML_READ}">After'
    assert entries.strip_html(image) == "Before"
    inline = f'<img src="data:image/png;base64,{"A" * 120_000}"><p>The text.</p>'
    assert entries.strip_html(inline) == "The text."


def test_a_copy_removed_by_hand_is_made_again(server: FeedServer, make_source: Maker) -> None:
    """A cache cleaned by hand (the copies gone, the state kept): the next refresh asks for
    the whole feed, not a 304, and makes a copy of every entry again."""
    server.serve("/feed.xml", RSS_20, headers={"ETag": '"v1"'})
    source = make_source()
    source.refresh()
    copy = source.current()
    assert copy is not None
    shutil.rmtree(copy.folder.parent)
    assert source.current() is None
    change = source.refresh()
    assert not change.not_modified and change.new + change.changed == len(read_copy(source)) > 0
    assert "If-None-Match" not in server.requests[-1].headers


def test_a_link_relative_to_a_private_feed_carries_none_of_its_credentials(
    server: FeedServer, make_source: Maker
) -> None:
    """A link of just `#post-1`, or a relative image, resolved against a feed whose address
    holds a token (in its query or its userinfo) never carries the token into a digest."""
    server.serve("/feed.xml", rss(item("g1", "Fragment", "#post-1")))
    secret = "S3cretTok3n99"
    source = make_source(url=server.url("/feed.xml") + f"?access_token={secret}")
    source.refresh()
    [article] = by_title(source).values()
    assert article.url == server.url("/feed.xml") + "#post-1"
    copy = source.current()
    assert copy is not None
    assert all(secret not in path.read_text() for path in copy.folder.iterdir())
