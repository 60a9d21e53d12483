"""Step 3: turn picked articles into Slack Block Kit messages. Pure: no clock, files or network.

A digest is one message when it can be: it gets the most detail that fits Slack's limits
(`fit`); a larger one continues in thread replies, and its first message says how many more
articles are there. Every piece of article text is mrkdwn-escaped and every address made safe
(`mrkdwn`); the blocks themselves are built in `cards`; `plain` shows messages outside Slack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from digestbot.articles import Article
from digestbot.compose.cards import (
    Block,
    compact_lines,
    full_card,
    header,
    intro,
    more,
    topic_heading,
)
from digestbot.compose.fit import (
    BLOCK_TEXT_BUDGET,
    COMPACT_TITLES,
    LEVELS,
    MAX_BLOCKS,
    TEXT_MAX,
    fits,
    split,
    text_size,
)
from digestbot.compose.mrkdwn import escape, plain_date, safe_url, shorten
from digestbot.compose.plain import builder_url, preview_arguments, render_text

__all__ = [
    "BLOCK_TEXT_BUDGET",
    "MAX_BLOCKS",
    "TEXT_MAX",
    "Message",
    "Topic",
    "builder_url",
    "compose",
    "escape",
    "preview_arguments",
    "render_text",
    "safe_url",
    "shorten",
    "split",
    "text_size",
]


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


# (topic number, topic, article number, article): one article in its place in the digest.
Unit = tuple[int, Topic, int, Article]
Draw = Callable[[list[Unit], bool], list[Block]]


def compose(
    heading: str, topics: Sequence[Topic], when: datetime, *, layout: str = "full"
) -> list[Message]:
    """The messages of one digest (`when` in its timezone): empty when no topic has an
    article; one when the digest fits, with as much detail as fits; else a first message and
    thread replies."""
    topics = [topic for topic in topics if topic.articles]
    if not topics:
        return []
    units: list[Unit] = []
    for topic_number, topic in enumerate(topics):
        units += [(topic_number, topic, len(units) + n, a) for n, a in enumerate(topic.articles)]
    intro_blocks = [header(heading), intro(when, [topic.name for topic in topics])]
    draws = [_drawer(layout, option, when) for option in _options(layout)]
    for draw in draws:
        blocks = [*intro_blocks, *draw(units, False)]
        if fits(blocks):
            return [_message(heading, when, blocks, units, 1, 1)]
    return _paginate(heading, when, intro_blocks, units, draws[0])


def _options(layout: str) -> Sequence[Any]:
    return COMPACT_TITLES if layout == "compact" else LEVELS


def _drawer(layout: str, option: Any, when: datetime) -> Draw:
    """How a run of articles becomes blocks, topic headings included."""

    def draw(units: list[Unit], continued: bool) -> list[Block]:
        blocks: list[Block] = []
        for index, (topic_number, topic, _, _) in enumerate(units):
            if index and units[index - 1][0] == topic_number:
                continue
            same = [unit for unit in units if unit[0] == topic_number]
            blocks.append(
                topic_heading(topic.name, topic_number, continued=continued and not index)
            )
            articles = [(number, article) for _, _, number, article in same]
            if layout == "compact":
                blocks += compact_lines(articles, when.tzinfo, option)
            else:
                for number, article in articles:
                    blocks += full_card(article, number, when.tzinfo, option)
        return blocks

    return draw


def _paginate(
    heading: str, when: datetime, intro_blocks: list[Block], units: list[Unit], draw: Draw
) -> list[Message]:
    """A first message as full as it fits (ending with how many more articles there are), then
    thread replies, each within Slack's limits."""
    pages: list[list[Unit]] = [[]]
    for unit in units:
        trial = [*pages[-1], unit]
        if pages[-1] and not fits(_page(pages, trial, intro_blocks, draw, units)):
            pages.append([unit])
        else:
            pages[-1] = trial
    messages = []
    for number, page in enumerate(pages, 1):
        blocks = _page(pages[: number - 1] + [page], page, intro_blocks, draw, units)
        messages.append(_message(heading, when, blocks, page, number, len(pages)))
    return messages


def _page(
    pages: list[list[Unit]],
    page: list[Unit],
    intro_blocks: list[Block],
    draw: Draw,
    units: list[Unit],
) -> list[Block]:
    if len(pages) == 1:
        return [*intro_blocks, *draw(page, False), more(len(units) - len(page))]
    # A reply that goes on with the topic the message before it ended with says so.
    continued = any(unit[0] == page[0][0] for unit in pages[-2])
    return draw(page, continued)


def _message(
    heading: str, when: datetime, blocks: list[Block], units: list[Unit], part: int, parts: int
) -> Message:
    articles = tuple(unit[3] for unit in units)
    label = f"{heading}, {plain_date(when)}: {len(articles)} article{'s' * (len(articles) != 1)}"
    if parts > 1:
        label += f" (part {part} of {parts})"
    titles = "; ".join(article.title for article in articles)
    return Message(_capped(f"{label}: {titles}"), blocks, articles, thread=part > 1)


def _capped(text: str) -> str:
    """The top-level text, escaped, within TEXT_MAX (never cut inside an entity)."""
    escaped = escape(shorten(text, TEXT_MAX))
    if len(escaped) <= TEXT_MAX:
        return escaped
    cut = escaped[: TEXT_MAX - 1]
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]
    return cut + "…"
