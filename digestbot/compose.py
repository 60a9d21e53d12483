"""Step 3: turn picked articles into Slack Block Kit messages. Pure: no clock, files or network.

Every piece of article text is mrkdwn-escaped, so a title can never become a mention or a link;
every URL is percent-encoded where Slack's link syntax would break; Slack's limits are named
constants below. A digest that does not fit one message continues in thread replies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote, unquote

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    ImageElement,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from digestbot.articles import Article

# Slack's limits (chat.postMessage, Block Kit).
MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
IMAGE_URL_MAX = 3000
ALT_TEXT_MAX = 2000
# Slack counts characters differently from Python (emoji, surrogates): keep well inside.
TEXT_BUDGET = SECTION_TEXT_MAX - 200
FALLBACK_MAX = 2000
TITLE_MAX = 300
EXCERPT_MAX = 280
RELATED_MAX = 3
LINKABLE_URL_MAX = 1500
IMAGE_FORMATS_REJECTED = (".webp", ".svg", ".avif", ".bmp", ".tif", ".tiff", ".ico", ".heic")
BUILDER_URL = "https://app.slack.com/block-kit-builder/#"
_URL_SAFE = ";/?:@&=+$,-_.!~*'()#%[]"
_LINK = re.compile(r"<([^|>]+)\|([^>]*)>")
_BOLD_LINE = re.compile(r"^\*(.+)\*$", re.M)


@dataclass(frozen=True)
class Topic:
    """One topic of a digest with the articles picked for it."""

    name: str
    articles: tuple[Article, ...]


@dataclass(frozen=True)
class Message:
    """One chat.postMessage worth of digest; `thread` marks a reply to the first message."""

    text: str
    blocks: list[dict[str, Any]]
    articles: tuple[Article, ...]
    thread: bool = False

    def arguments(self, channel: str | None = None) -> dict[str, Any]:
        """The chat.postMessage arguments for this message (in `channel`, when given)."""
        arguments = {"channel": channel} if channel else {}
        return {
            **arguments,
            "text": self.text,
            "blocks": self.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }


def escape(text: str) -> str:
    """mrkdwn-escape: only &, < and > are special, and all three must be."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str:
    """Percent-encode what would break `<url|label>` (|, <, >, spaces, quotes, non-ASCII)."""
    return quote(url, safe=_URL_SAFE)


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def compose(heading: str, topics: Sequence[Topic], when: datetime) -> list[Message]:
    """The messages of one digest: empty when no topic has an article."""
    topics = [topic for topic in topics if topic.articles]
    if not topics:
        return []
    pages = _paginate(heading, topics, when)
    total = sum(len(topic.articles) for topic in topics)
    return [
        Message(
            text=_fallback(heading, total, articles, part, len(pages)),
            blocks=[block.to_dict() for block in blocks],
            articles=articles,
            thread=part > 1,
        )
        for part, (blocks, articles) in enumerate(pages, 1)
    ]


def _paginate(
    heading: str, topics: Sequence[Topic], when: datetime
) -> list[tuple[list[Block], tuple[Article, ...]]]:
    pages: list[tuple[list[Block], tuple[Article, ...]]] = []
    blocks: list[Block] = _intro(heading, topics, when)
    articles: list[Article] = []
    for topic in topics:
        for number, article in enumerate(topic.articles):
            card = _card(article, when.tzinfo)
            chunk = card if number else [_topic_heading(topic.name, continued=False), *card]
            if len(blocks) + len(chunk) > MAX_BLOCKS and articles:
                pages.append((blocks, tuple(articles)))
                blocks, articles = [], []
                if number:
                    chunk = [_topic_heading(topic.name, continued=True), *card]
            blocks.extend(chunk)
            articles.append(article)
    pages.append((blocks, tuple(articles)))
    return pages


def _intro(heading: str, topics: Sequence[Topic], when: datetime) -> list[Block]:
    names = ", ".join(topic.name for topic in topics)
    line = f"{when.strftime('%A')}, {_date(when)} · {names}"
    return [
        HeaderBlock(text=PlainTextObject(text=shorten(heading, HEADER_TEXT_MAX), emoji=True)),
        ContextBlock(elements=[MarkdownTextObject(text=escape(shorten(line, TEXT_BUDGET)))]),
    ]


def _topic_heading(name: str, *, continued: bool) -> Block:
    label = f"{name} (continued)" if continued else name
    return SectionBlock(text=MarkdownTextObject(text=f"*{escape(shorten(label, 200))}*"))


def _card(article: Article, zone: tzinfo | None) -> list[Block]:
    blocks: list[Block] = [_headline(article), _byline(article, zone)]
    related = _related(article)
    if related:
        blocks.append(related)
    blocks.append(DividerBlock())
    return blocks


def _headline(article: Article) -> Block:
    title = escape(shorten(article.title, TITLE_MAX))
    url = safe_url(article.url)
    headline = f"*<{escape(url)}|{title}>*" if len(url) <= LINKABLE_URL_MAX else f"*{title}*"
    excerpt = escape(shorten(article.excerpt, EXCERPT_MAX))
    text = f"{headline}\n{excerpt}" if excerpt else headline
    image = _image(article.image, article.title)
    return SectionBlock(text=MarkdownTextObject(text=text[:TEXT_BUDGET]), accessory=image)


def _byline(article: Article, zone: tzinfo | None) -> Block:
    elements: list[Any] = []
    logo = _image(article.provider_logo, article.provider or "provider")
    if logo:
        elements.append(logo)
    parts = [escape(shorten(article.provider, 200)) if article.provider else None]
    if article.published_at:
        parts.append(_date(article.published_at.astimezone(zone)))
    line = " · ".join(part for part in parts if part) or "·"
    elements.append(MarkdownTextObject(text=line))
    return ContextBlock(elements=elements)


def _related(article: Article) -> Block | None:
    lines = []
    for item in article.related[:RELATED_MAX]:
        url = safe_url(item.url)
        if len(url) > LINKABLE_URL_MAX:
            continue
        label = escape(shorten(item.title, 200))
        provider = f" · {escape(shorten(item.provider, 100))}" if item.provider else ""
        lines.append(f"↪ <{escape(url)}|{label}>{provider}")
    if not lines:
        return None
    return ContextBlock(elements=[MarkdownTextObject(text="\n".join(lines))])


def _image(url: str | None, alt: str) -> ImageElement | None:
    if not url:
        return None
    encoded = safe_url(url)
    path = unquote(encoded.split("?", 1)[0]).lower()
    if len(encoded) > IMAGE_URL_MAX or path.endswith(IMAGE_FORMATS_REJECTED):
        return None
    return ImageElement(image_url=encoded, alt_text=shorten(alt, ALT_TEXT_MAX) or "image")


def _date(moment: datetime) -> str:
    return f"{moment.day} {moment.strftime('%B %Y')}"


def _fallback(heading: str, total: int, articles: Sequence[Article], part: int, parts: int) -> str:
    label = f"{heading}: {total} article{'s' if total != 1 else ''}"
    if parts > 1:
        label += f" (part {part} of {parts})"
    titles = "; ".join(article.title for article in articles)
    return escape(shorten(f"{label}: {titles}", FALLBACK_MAX))


def preview_arguments(channel: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """What `preview --json` shows: each message's chat.postMessage arguments, with
    `"thread": true` marking a continuation, whose thread_ts only exists once posted."""
    return [
        {**message.arguments(channel), **({"thread": True} if message.thread else {})}
        for message in messages
    ]


def render_text(message: Message) -> str:
    """A plain-text rendering of a message, for people reading `preview` in a terminal."""
    lines = []
    for block in message.blocks:
        lines.extend(_render_block(block))
    return "\n".join(lines)


def _render_block(block: dict[str, Any]) -> list[str]:
    kind = block["type"]
    if kind == "header":
        title = block["text"]["text"]
        return [title, "=" * min(len(title), 72)]
    if kind == "divider":
        return [""]
    if kind == "section":
        lines = _plain(block["text"]["text"]).split("\n")
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "image":
            lines.append(f"    [image] {accessory['image_url']}")
        return lines
    if kind == "context":
        parts = [_plain(el["text"]) for el in block["elements"] if el["type"] != "image"]
        return ["    " + line for line in " ".join(parts).split("\n")]
    return [f"[{kind}]"]


def _plain(mrkdwn: str) -> str:
    text = _LINK.sub(lambda m: f"{m.group(2)} <{m.group(1)}>", mrkdwn)
    text = _BOLD_LINE.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def builder_url(message: Message) -> str:
    """A Block Kit Builder link that shows the message as Slack would."""
    payload = json.dumps({"blocks": message.blocks}, separators=(",", ":"), ensure_ascii=False)
    return BUILDER_URL + quote(payload, safe="")
