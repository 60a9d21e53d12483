"""Step 1, a feed's entries as article files: what `feed` writes for each RSS or Atom entry.

An entry becomes a Smartable article file (YAML front matter, empty body) that the article
reader takes like any other. Its file name comes from the entry's identity (guid or atom:id,
else its link), so an entry whose link drifts while its guid stays rewrites the same file, and
the ledger knows it as the same article. The fields are faithful copies of the entry's: escaping
and URL rules are the reader's and compose's business, and `yaml.safe_dump` keeps any text
from breaking the front matter.
"""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import yaml

from digestbot.clock import showable

EXCERPT_CHARS = 1000  # Smartable's excerpts are a few sentences; feeds may carry whole posts
HEAT = 100  # nominal: feed entries are ranked by their age at run time, not by this
# Tags whose end separates words: "<p>one</p><p>two</p>" reads "one two", not "onetwo".
_BLOCKS = """address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3
h4 h5 h6 header hr img li main nav ol p pre section table td th tr ul"""
_BREAKS = frozenset(_BLOCKS.split())
_HIDDEN = frozenset({"script", "style"})
_LONE_LT = re.compile(r"<(?=[^<>]*(?:<|$))")
HTML_READ = 1_000_000  # characters of a summary read for its text (inline images are long)
# safe_dump's dumper, in C when libyaml is there: the same output, seven times faster.
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed, as the fields of its article file."""

    identity: str
    title: str
    url: str
    excerpt: str
    published: datetime | None  # as the feed says; None when it says nothing
    topics: tuple[str, ...]
    image: str | None
    provider: str

    @property
    def file_name(self) -> str:
        return file_name(self.identity)

    def render(self, first_seen: datetime) -> bytes:
        """The article file, dated when the feed says, else when the entry was first seen."""
        # An entry cannot be older than the moment digestbot first saw it; a date in the future
        # (a feed's time zone bug) would keep it the hottest news for days.
        published = min(self.published or first_seen, first_seen)
        front: dict[str, Any] = {"title": self.title}
        if self.url:
            front["webUrl"] = self.url
        if self.excerpt:
            front["excerpt"] = self.excerpt
        # isoformat, not strftime: a year before 1000 keeps its four digits (0999).
        moment = published.astimezone(UTC).isoformat(timespec="seconds")
        front["publishedDateTime"] = moment.replace("+00:00", "Z")
        front.update(type="article", heat=HEAT, published=True, provider={"name": self.provider})
        if self.topics:
            front["topics"] = list(self.topics)
        if self.image:
            front["images"] = [{"url": self.image}]
        front["feedEntryId"] = self.identity
        # A width no line reaches keeps each value on one line: no continuation line can then
        # look like a front matter fence or a key to the reader.
        text = yaml.dump(
            front, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1_000_000
        )
        return f"---\n{text}---\n".encode()


def file_name(identity: str) -> str:
    """The article file of an entry: stable for as long as its identity is."""
    return hashlib.sha1(identity.encode("utf-8")).hexdigest()[:20] + ".md"


def entries_of(
    parsed: Mapping[str, Any], *, base: str, topics: Sequence[str] = ()
) -> list[FeedEntry]:
    """The entries of a feed parsed by feedparser, each identity once (the first one wins).

    `base` is the address the feed came from: relative links are resolved against it here, not
    by feedparser, which would resolve an RSS guid too and so tie identities to the address.
    The provider is the feed's title, else the domain of its link, else that of `base`.
    """
    feed = parsed.get("feed", {})
    base = _public(base)
    provider = _text(feed, "title") or _domain(urljoin(base, feed.get("link") or ""), base)
    seen: set[str] = set()
    entries = []
    for raw in parsed.get("entries", ()):
        entry = _entry(raw, base, provider, topics)
        if entry.identity not in seen:
            seen.add(entry.identity)
            entries.append(entry)
    return entries


def _public(address: str) -> str:
    """The feed's address without what may be a credential (a password, a query): a link of
    just `#post-1` would carry the feed's `?access_token=...` into Slack."""
    parts = urlsplit(address)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _entry(raw: Mapping[str, Any], base: str, provider: str, topics: Sequence[str]) -> FeedEntry:
    link = (raw.get("link") or "").strip()
    url = urljoin(base, link) if link else ""
    excerpt = _excerpt(raw)
    title = _text(raw, "title") or _shortened(excerpt, 120) or url or "(untitled)"
    image = _image(raw)
    return FeedEntry(
        identity=_identity(raw, link, title, excerpt),
        title=title,
        url=url,
        excerpt=excerpt,
        published=_published(raw),
        topics=_topics(raw, topics),
        image=urljoin(base, image) if image else None,
        provider=provider,
    )


def _identity(raw: Mapping[str, Any], link: str, title: str, excerpt: str) -> str:
    guid = (raw.get("id") or "").strip()
    if guid or link:
        return guid or link
    digest = hashlib.sha1(f"{title}\n{excerpt}".encode()).hexdigest()
    return f"sha1:{digest}"


def _text(item: Mapping[str, Any], key: str) -> str:
    """A text field, its markup dropped when the feed marks it as HTML."""
    value = item.get(key) or ""
    detail = item.get(f"{key}_detail") or {}
    if detail.get("type", "text/html") == "text/plain":
        return _squeezed(value)
    return strip_html(value)


def _excerpt(raw: Mapping[str, Any]) -> str:
    text = _text(raw, "summary")
    if not text:
        text = next((strip_html(part.get("value") or "") for part in raw.get("content", ())), "")
    return _shortened(text, EXCERPT_CHARS)


def _published(raw: Mapping[str, Any]) -> datetime | None:
    moment: time.struct_time | None = raw.get("published_parsed") or raw.get("updated_parsed")
    if moment is None:
        return None
    try:  # feedparser gives UTC struct_times; timegm reads them as such
        published = datetime.fromtimestamp(calendar.timegm(moment), UTC)
    except (ValueError, OverflowError):  # "0000-00-00", a common broken date: none given
        return None
    return published if showable(published) else None


def _topics(raw: Mapping[str, Any], configured: Sequence[str]) -> tuple[str, ...]:
    """The entry's categories, then the source's topics, each once (digests match any case)."""
    terms = (_squeezed(tag.get("term") or tag.get("label") or "") for tag in raw.get("tags", ()))
    kept: dict[str, str] = {}
    for topic in [*terms, *(_squeezed(topic) for topic in configured)]:
        if topic:
            kept.setdefault(topic.casefold(), topic)
    return tuple(kept.values())


def _image(raw: Mapping[str, Any]) -> str | None:
    return next((url.strip() for url in _images(raw) if url and url.strip()), None)


def _images(raw: Mapping[str, Any]) -> Iterator[str | None]:
    """Candidate images, best first: a thumbnail, then media content, then an enclosure."""
    for thumbnail in raw.get("media_thumbnail", ()):
        yield thumbnail.get("url")
    for media in raw.get("media_content", ()):
        if media.get("medium") == "image" or _is_image(media.get("type")):
            yield media.get("url")
    for enclosure in raw.get("enclosures", ()):
        if _is_image(enclosure.get("type")):
            yield enclosure.get("href") or enclosure.get("url")


def _is_image(kind: str | None) -> bool:
    return (kind or "").lower().startswith("image/")


def _domain(*urls: str | None) -> str:
    """The host of the first address that has one, without its `www.`."""
    for url in urls:
        host = urlsplit(url or "").hostname or ""
        if host:
            return host.removeprefix("www.")
    return ""


def strip_html(fragment: str) -> str:
    """The text of an HTML fragment: tags dropped, entities decoded, whitespace squeezed.

    Only its beginning is read (an excerpt is short), and a `<` that cannot open a tag (the
    next angle bracket is another `<`) is text: Python's HTMLParser takes quadratic time over
    a run of them (`<a <a <a ...`: 60 KB of them took half a minute).
    """
    parser = _TextOf()
    parser.feed(_LONE_LT.sub("&lt;", _beginning(fragment)))
    parser.close()
    return _squeezed("".join(parser.parts))


def _beginning(fragment: str) -> str:
    """The first HTML_READ characters, without the tag the cut falls in (its half would read
    as text: a long inline image's data)."""
    if len(fragment) <= HTML_READ:
        return fragment
    start = fragment[:HTML_READ]
    opened = start.rfind("<")
    return start[:opened] if opened > start.rfind(">") else start


def _squeezed(text: str) -> str:
    return " ".join(text.split())


def _shortened(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


class _TextOf(HTMLParser):
    """Collects the text of HTML, skipping scripts and styles and spacing out blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag in _BREAKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)
