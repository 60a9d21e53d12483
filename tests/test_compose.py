"""Block Kit composition: the seed digest (golden), escaping, URLs, limits and threads."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import FIXTURES, SEEDS
from fakeslack import validate_blocks

from digestbot.articles import Article, Related, read_article
from digestbot.compose import (
    HEADER_TEXT_MAX,
    MAX_BLOCKS,
    SECTION_TEXT_MAX,
    Topic,
    builder_url,
    compose,
    escape,
    render_text,
    safe_url,
)

WHEN = datetime(2020, 5, 15, 9, 0, tzinfo=UTC)
GOLDEN = FIXTURES / "golden" / "seed-digest.json"


def article(name: Path | str, folder: Path = SEEDS) -> Article:
    path = folder / name
    return read_article(path, path.name)[1]


SONY = "000_5d341ca81f4b44a3.txt"


def test_seed_digest_matches_golden_json() -> None:
    """The Sony seed composes to exactly the reviewed Block Kit JSON."""
    messages = compose("AI daily", [Topic("AI", (article(SONY),))], WHEN)
    actual = [message.arguments("#ai-news") for message in messages]
    assert actual == json.loads(GOLDEN.read_text())


def test_seed_digest_shows_what_a_reader_needs() -> None:
    """Title link, excerpt, image, provider with logo, date and both related links."""
    [message] = compose("AI daily", [Topic("AI", (article(SONY),))], WHEN)
    text = json.dumps(message.blocks, ensure_ascii=False)
    assert "<https://www.theverge.com/2020/5/14/21258403/sony-image-sensor" in text
    assert "|Sony’s first AI image sensor will make cameras everywhere smarter>" in text
    assert "cdn.vox-cdn.com" in text and "theverge.com-50x50.jpg" in text
    assert "The Verge · 14 May 2020" in text
    assert "Engadget" in text and "inews.co.uk" in text
    assert message.text.startswith("AI daily: 1 article: Sony’s first AI image sensor")
    assert message.arguments("#x")["unfurl_links"] is False
    validate_blocks(message.blocks)


def test_hostile_text_cannot_mention_or_link() -> None:
    """<!channel>, <@U…> and fake links in titles, excerpts and providers arrive escaped."""
    hostile = article("hostile-title.md", FIXTURES / "hostile")
    [message] = compose("Hostile <!here>", [Topic("AI", (hostile,))], WHEN)
    text = json.dumps(message.blocks)
    rendered = [message.text, *mrkdwn_texts(message.blocks)]
    for markup in ("<!channel>", "<@U024BE7LH>", "<!here>", "<https://evil.example|", "<MSFT.O>"):
        assert not any(markup in piece for piece in rendered)
    assert message.blocks[0]["text"]["type"] == "plain_text"  # never parsed for mentions
    assert "&lt;!channel&gt; Big &amp; bold *news*" in text
    assert "https://example.com/a%20b%7Cc%3Cd%3E?q=1&amp;r=2|" in text
    assert "https://example.org/x%7Cy|Safe &amp; sound &lt;@U1&gt;>" in text
    assert "javascript:" not in text and "ftp://" not in text
    validate_blocks(message.blocks)


def mrkdwn_texts(node: object) -> list[str]:
    """Every mrkdwn string in a block structure: what Slack parses for markup."""
    if isinstance(node, list):
        return [text for item in node for text in mrkdwn_texts(item)]
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            return [node["text"]]
        return [text for value in node.values() for text in mrkdwn_texts(value)]
    return []


@pytest.mark.parametrize(
    ("url", "encoded"),
    [
        ("https://a.example/x y", "https://a.example/x%20y"),
        ("https://a.example/a|b<c>", "https://a.example/a%7Cb%3Cc%3E"),
        ("https://a.example/é?q=%20", "https://a.example/%C3%A9?q=%20"),
        ("https://a.example/x\u2028", "https://a.example/x%E2%80%A8"),
    ],
)
def test_safe_url(url: str, encoded: str) -> None:
    """URLs are percent-encoded where they would break Slack's link syntax."""
    assert safe_url(url) == encoded


def test_escape_only_the_three_specials() -> None:
    """&, < and > are escaped; styling characters are left alone."""
    assert escape("a & <b> *c* _d_") == "a &amp; &lt;b&gt; *c* _d_"


def many(count: int, **changes: object) -> tuple[Article, ...]:
    base = article(SONY)
    return tuple(
        replace(base, title=f"Story {n}", url=f"https://example.com/{n}", **changes)
        for n in range(count)
    )


def test_long_digest_continues_in_thread_replies() -> None:
    """Past 50 blocks the digest continues in thread replies, each within the limits."""
    topics = [Topic(name, many(12)) for name in ("AI", "Cloud", "Data")]
    messages = compose("Big", topics, WHEN)
    assert len(messages) > 1
    assert [m.thread for m in messages] == [False] + [True] * (len(messages) - 1)
    assert sum(len(m.articles) for m in messages) == 36
    for message in messages:
        assert len(message.blocks) <= MAX_BLOCKS
        validate_blocks(message.blocks)
    continued = json.dumps(messages[1].blocks)
    assert "(continued)" in continued


def test_long_texts_are_cut_within_limits() -> None:
    """Huge titles, excerpts and headers are shortened with an ellipsis, never rejected."""
    long = replace(article(SONY), title="T" * 5000, excerpt="word " * 2000)
    related = tuple(Related(f"R{n} " * 300, f"https://r.example/{n}", "P" * 500) for n in range(3))
    long = replace(long, related=related)
    [message] = compose("H" * 400, [Topic("AI" * 300, (long,))], WHEN)
    header = message.blocks[0]["text"]["text"]
    assert len(header) <= HEADER_TEXT_MAX and header.endswith("…")
    for block in message.blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= SECTION_TEXT_MAX
    validate_blocks(message.blocks)


def test_unusable_images_are_left_out() -> None:
    """WebP and over-long image URLs are not offered to Slack."""
    webp = replace(article(SONY), image="https://img.example/a.webp", provider_logo=None)
    huge = replace(article(SONY), image="https://img.example/" + "x" * 3000)
    [message] = compose("D", [Topic("AI", (webp, replace(huge, url="https://b.example")))], WHEN)
    assert "a.webp" not in json.dumps(message.blocks)
    assert "x" * 3000 not in json.dumps(message.blocks)


def test_nothing_to_show_means_no_message() -> None:
    """A digest whose topics are all empty produces no message."""
    assert compose("D", [Topic("AI", ())], WHEN) == []


def test_render_text_and_builder_link() -> None:
    """The terminal rendering reads as text; the builder link carries the blocks."""
    [message] = compose("AI daily", [Topic("AI", (article(SONY),))], WHEN)
    text = render_text(message)
    assert "AI daily\n========" in text
    assert "Sony’s first AI image sensor will make cameras everywhere smarter <https://" in text
    assert "The Verge · 14 May 2020" in text
    assert builder_url(message).startswith("https://app.slack.com/block-kit-builder/#%7B%22blocks")
