"""Realistic RSS feeds for bench_sources.py, made of real news and served by the tests' server.

Each feed is an RSS 2.0 document (media and Dublin Core namespaces, HTML descriptions with an
image, categories, guids, RFC 822 dates) of 20 to 50 items drawn from the diablo4 news files, so
titles, excerpts, addresses and images are real ones. Every feed has an ETag: a request with a
matching If-None-Match gets 304. `TimedFeedServer` also notes when each request arrived.
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from feedserver import FeedServer, Route  # noqa: E402

ITEMS = (20, 50)  # items per feed, at least and at most


@dataclass(frozen=True)
class Item:
    """One news item, as a feed carries it."""

    title: str
    link: str
    excerpt: str
    published: datetime
    provider: str
    topics: tuple[str, ...]
    image: str | None


@dataclass(frozen=True)
class Feed:
    """A feed being served: its path and its ETag."""

    path: str
    etag: str
    items: int


class TimedFeedServer(FeedServer):
    """The tests' feed server, noting when (time.perf_counter) each request arrived."""

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.arrivals: list[tuple[float, str]] = []

    def _received(self, path: str, headers: Message) -> Route | None:
        self.arrivals.append((time.perf_counter(), path))
        return super()._received(path, headers)


def load_items(folder: Path) -> list[Item]:
    """The news files of `folder` that make a feed item (a title and an http(s) address)."""
    items = []
    for path in sorted(folder.glob("*.md")):
        front = _front_matter(path)
        item = _item(front) if front else None
        if item is not None:
            items.append(item)
    return items


def serve_feeds(server: FeedServer, items: list[Item], count: int, seed: int = 4) -> list[Feed]:
    """Serve `count` feeds at /feed/0 ... /feed/N-1, each a random pick of the items."""
    feeds = []
    for number in range(count):
        picker = random.Random(seed * 1000 + number)
        chosen = picker.sample(items, picker.randint(*ITEMS))
        chosen.sort(key=lambda item: item.published, reverse=True)
        body = rss(number, chosen)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        path = f"/feed/{number}"
        server.serve(path, body, etag=etag)
        feeds.append(Feed(path, etag, len(chosen)))
    return feeds


def rss(number: int, items: list[Item]) -> bytes:
    """An RSS 2.0 document of `items`, as a news site would publish it."""
    site = f"https://news{number}.example.com"
    built = format_datetime(max(item.published for item in items))
    head = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>Gaming news {number}</title>
  <link>{site}/</link>
  <atom:link href="{site}/feed.xml" rel="self" type="application/rss+xml"/>
  <description>The latest news about Diablo, from site {number}</description>
  <language>en-us</language>
  <lastBuildDate>{built}</lastBuildDate>
  <ttl>60</ttl>
"""
    body = "".join(_rss_item(number, item) for item in items)
    return (head + body + "</channel>\n</rss>\n").encode("utf-8")


def _rss_item(number: int, item: Item) -> str:
    slug = item.link.rstrip("/").rsplit("/", 1)[-1][:80]
    guid = f"news{number}-{hashlib.sha1(item.link.encode()).hexdigest()[:12]}-{slug}"
    html = f"<p>{escape(item.excerpt)}</p>"
    media = ""
    if item.image:
        html = f"<figure><img src={quoteattr(item.image)} alt=''/></figure>" + html
        media = f'    <media:content url={quoteattr(item.image)} medium="image"/>\n'
    categories = "".join(f"    <category>{escape(topic)}</category>\n" for topic in item.topics)
    return f"""  <item>
    <title>{escape(item.title)}</title>
    <link>{escape(item.link)}</link>
    <guid isPermaLink="false">{escape(guid)}</guid>
    <pubDate>{format_datetime(item.published)}</pubDate>
    <dc:creator>{escape(item.provider)}</dc:creator>
{categories}    <description>{escape(html)}</description>
{media}  </item>
"""


def _front_matter(path: Path) -> dict[str, Any] | None:
    text = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n")
    if not text.startswith("---"):
        return None
    try:
        data = yaml.load(text.split("\n---", 1)[0][3:], Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _item(front: dict[str, Any]) -> Item | None:
    title, link = front.get("title"), front.get("webUrl") or front.get("originalUrl")
    if not isinstance(title, str) or not isinstance(link, str) or not link.startswith("http"):
        return None
    provider = front.get("provider")
    images = front.get("images")
    first = images[0] if isinstance(images, list) and images else None
    image = first.get("url") if isinstance(first, dict) else None
    return Item(
        title=title,
        link=link,
        excerpt=str(front.get("excerpt") or ""),
        published=_moment(front.get("publishedDateTime")),
        provider=str(provider.get("name") or "") if isinstance(provider, dict) else "",
        topics=tuple(str(t) for t in front.get("topics") or () if t),
        image=image if isinstance(image, str) and image.startswith("http") else None,
    )


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            moment = datetime(2020, 1, 1, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
