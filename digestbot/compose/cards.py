"""The blocks of a digest: its header, a heading per topic, and each article, in the `full`
layout (two blocks: the linked title and excerpt beside the image, then a line with the outlet's
logo and name, the date, and the related links) or the `compact` one (one line per article:
linked title, outlet, date). Every block an article brings has a block_id naming the article,
so that a message can later be split between articles (`fit.split`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import unquote

from digestbot.articles import Article
from digestbot.compose.mrkdwn import (
    date_token,
    escape,
    link,
    long_date,
    plain_date,
    safe_url,
    shorten,
)

HEADER_TEXT_MAX = 150
SECTION_TEXT_MAX = 3000
IMAGE_URL_MAX = 3000
ALT_TEXT_MAX = 2000
TITLE_MAX = 300
IMAGE_FORMATS_REJECTED = (".webp", ".svg", ".avif", ".bmp", ".tif", ".tiff", ".ico", ".heic")
ARTICLE = "article-"  # block_id prefix: article-<number>-<block>
Block = dict[str, Any]


@dataclass(frozen=True)
class Detail:
    """How much of each article a message shows: fewer related links and shorter texts when
    a message would not fit Slack's limits otherwise."""

    related: int = 3
    related_title: int = 120
    excerpt: int = 280
    title: int = TITLE_MAX


def header(heading: str) -> Block:
    text = {"type": "plain_text", "text": shorten(heading, HEADER_TEXT_MAX), "emoji": True}
    return {"type": "header", "text": text}


def intro(when: datetime, topics: list[str]) -> Block:
    day = date_token(when, "date_long_pretty", long_date(when))
    return _context(f"{day} · {escape(', '.join(topics))}")


def topic_heading(name: str, number: int, *, continued: bool = False) -> Block:
    label = f"{name} (continued)" if continued else name
    text = f"*{escape(shorten(label, 200))}*"
    return {"type": "section", "block_id": f"topic-{number}", "text": _mrkdwn(text)}


def more(count: int) -> Block:
    return _context(f"➕ {count} more article{'s' * (count != 1)} in the thread")


def full_card(article: Article, number: int, zone: tzinfo | None, detail: Detail) -> list[Block]:
    """Two blocks: the linked title and excerpt beside the image; the byline and related."""
    title = shorten(article.title, detail.title)
    excerpt = escape(shorten(article.excerpt, detail.excerpt)) if detail.excerpt else ""
    text = f"*{link(article.url, title)}*" + (f"\n{excerpt}" if excerpt else "")
    section: Block = {
        "type": "section",
        "block_id": f"{ARTICLE}{number}-0",
        "text": _mrkdwn(text[:SECTION_TEXT_MAX]),
    }
    image = _image(article.image, article.title)
    if image:
        section["accessory"] = image
    elements: list[Block] = []
    logo = _image(article.provider_logo, article.provider or "provider")
    if logo:
        elements.append(logo)
    elements.append(_mrkdwn(_byline(article, zone)))
    related = _related(article, detail)
    if related:
        elements.append(_mrkdwn(related))
    byline = {"type": "context", "block_id": f"{ARTICLE}{number}-1", "elements": elements}
    return [section, byline]


def compact_lines(
    articles: list[tuple[int, Article]], zone: tzinfo | None, title: int
) -> list[Block]:
    """One line per article (linked title, outlet, date), as few sections as Slack allows."""
    blocks: list[Block] = []
    lines: list[str] = []
    first = 0
    for number, article in articles:
        line = f"• {link(article.url, shorten(article.title, title))} · {_byline(article, zone)}"
        if lines and sum(len(x) + 1 for x in lines) + len(line) > SECTION_TEXT_MAX:
            blocks.append(_lines(lines, first))
            lines = []
        if not lines:
            first = number
        lines.append(line)
    if lines:
        blocks.append(_lines(lines, first))
    return blocks


def _lines(lines: list[str], first: int) -> Block:
    text = _mrkdwn("\n".join(lines))
    return {"type": "section", "block_id": f"{ARTICLE}{first}-lines", "text": text}


def _byline(article: Article, zone: tzinfo | None) -> str:
    parts = [escape(shorten(article.provider, 100)) if article.provider else None]
    if article.published_at:
        local = article.published_at.astimezone(zone)
        parts.append(date_token(local, "date_short_pretty", plain_date(local)))
    return " · ".join(part for part in parts if part) or "·"


def _related(article: Article, detail: Detail) -> str:
    lines = []
    for item in article.related[: detail.related]:
        provider = f" · {escape(shorten(item.provider, 60))}" if item.provider else ""
        lines.append(f"↪ {link(item.url, shorten(item.title, detail.related_title))}{provider}")
    return "\n".join(lines)


def _image(url: str | None, alt: str) -> Block | None:
    if not url:
        return None
    encoded = safe_url(url)
    path = unquote(encoded.split("?", 1)[0]).lower()
    if len(encoded) > IMAGE_URL_MAX or path.endswith(IMAGE_FORMATS_REJECTED):
        return None
    return {
        "type": "image",
        "image_url": encoded,
        "alt_text": shorten(alt, ALT_TEXT_MAX) or "image",
    }


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}
