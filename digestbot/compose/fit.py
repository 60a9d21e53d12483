"""Slack's limits, kept: the documented 50 blocks a message, and the ones real Slack enforces
without saying (`msg_blocks_too_long` past about 13,000 characters of block text, `msg_too_long`
past about 4,000 of top-level text), each with a margin.

A digest gets the most detail that fits one message (`LEVELS`: related links go from 3 to 2 to 1,
then texts get shorter); one that does not fit even so continues in thread replies. A message
Slack refuses anyway is `split` between its articles.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from digestbot.compose.cards import ARTICLE, Block, Detail

MAX_BLOCKS = 50
BLOCK_TEXT_BUDGET = 12_000  # Slack refuses a message past ~13,000 (slack-facts.md)
TEXT_MAX = 3_000  # the top-level text: Slack refuses ~4,000 (msg_too_long)

# Full detail first; each next level gives up a little, until the digest fits one message.
LEVELS = (
    Detail(related=3),
    Detail(related=2),
    Detail(related=1),
    Detail(related=1, related_title=80, excerpt=200),
    Detail(related=1, related_title=60, excerpt=140, title=150),
    Detail(related=0, excerpt=140, title=150),
)
COMPACT_TITLES = (150, 100, 70)  # a compact line's title, shorter until the digest fits


def text_size(blocks: Iterable[Block]) -> int:
    """The characters of every text object in the blocks: what Slack's hidden limit counts."""
    return sum(len(text) for block in blocks for text in _texts(block))


def fits(blocks: list[Block], *, extra_blocks: int = 0) -> bool:
    return len(blocks) + extra_blocks <= MAX_BLOCKS and text_size(blocks) <= BLOCK_TEXT_BUDGET


def split(arguments: dict[str, Any], articles: int) -> list[tuple[dict[str, Any], int]]:
    """A message Slack found too long, carrying `articles` articles, as two messages with
    about half of them each, and how many each carries; its top-level text is halved too (all
    there is to do for a message of one article, or one refused for its text alone)."""
    blocks = arguments.get("blocks") or []
    text = str(arguments.get("text", ""))
    shorter = {**arguments, "text": text[: max(100, len(text) // 2)]}
    starts = [(i, number) for i, block in enumerate(blocks) if (number := _first(block)) >= 0]
    if len(starts) < 2:
        return [(shorter, articles)]
    cut, number = starts[len(starts) // 2]
    before = number - starts[0][1]
    return [
        ({**shorter, "blocks": blocks[:cut]}, before),
        ({**shorter, "blocks": blocks[cut:]}, articles - before),
    ]


def _first(block: Block) -> int:
    """The number of the first article a block starts (-1: it starts none)."""
    block_id = str(block.get("block_id", ""))
    number, _, part = block_id.removeprefix(ARTICLE).partition("-")
    if not block_id.startswith(ARTICLE) or part == "1" or not number.isdigit():
        return -1
    return int(number)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            yield value["text"]
        for inner in value.values():
            if isinstance(inner, dict | list):
                yield from _texts(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _texts(inner)
