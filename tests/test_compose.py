"""Block Kit composition: the seed digest (golden), escaping, URLs, limits and threads."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest
from conftest import FIXTURES, SEEDS
from fakeslack import validate_blocks

from digestbot.articles import Article, Related, read_article
from digestbot.compose import (
    MAX_BLOCKS,
    Message,
    Topic,
    builder_url,
    compose,
    escape,
    preview_arguments,
    render_text,
    safe_url,
)
from digestbot.compose.cards import HEADER_TEXT_MAX, SECTION_TEXT_MAX

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
    assert "The Verge · <!date^1589449980^{date_short_pretty}|14 May 2020>" in text
    assert "Engadget" in text and "inews.co.uk" in text
    assert message.text.startswith("AI daily, 15 May 2020: 1 article: Sony’s first AI image")
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


def story(n: int = 0, **changes: object) -> Article:
    """The Sony seed as another story: its own title and address, with `changes`."""
    base = replace(article(SONY), title=f"Story {n}", url=f"https://example.com/{n}")
    return replace(base, **changes)


def card_blocks(message: Message, n: int = 0) -> tuple[dict, dict]:
    """The n-th article's two blocks: its headline section and its byline context."""
    blocks = {block.get("block_id"): block for block in message.blocks}
    return blocks[f"article-{n}-0"], blocks[f"article-{n}-1"]


def test_arguments_name_the_channel_only_when_given() -> None:
    """A message's arguments carry a channel only when one is given; links never unfurl."""
    [message] = compose("D", [Topic("AI", (story(),))], WHEN)
    assert "channel" not in message.arguments()
    assert message.arguments("C0000001")["channel"] == "C0000001"
    assert message.arguments()["unfurl_media"] is False


def test_preview_arguments_mark_the_thread_replies() -> None:
    """`preview --json` shows each message's arguments in the channel, replies marked."""
    topics = [Topic(name, tuple(story(n) for n in range(30))) for name in ("AI", "Cloud")]
    messages = compose("Big", topics, WHEN)
    shown = preview_arguments("#news", messages)
    assert [item.get("thread") for item in shown] == [None] + [True] * (len(messages) - 1)
    assert all(item["channel"] == "#news" for item in shown)
    assert shown[0] == messages[0].arguments("#news")


def test_the_fallback_text_counts_articles_and_parts() -> None:
    """The notification text: the heading, the day, how many articles (and which part of
    how many), then the titles."""
    [one] = compose("AI daily", [Topic("AI", (story(1),))], WHEN)
    assert one.text == "AI daily, 15 May 2020: 1 article: Story 1"
    [two] = compose("AI daily", [Topic("AI", (story(1), story(2)))], WHEN)
    assert two.text == "AI daily, 15 May 2020: 2 articles: Story 1; Story 2"
    topics = [Topic(name, tuple(story(n) for n in range(30))) for name in ("AI", "Cloud")]
    first, *rest = compose("Big", topics, WHEN)
    parts = len(rest) + 1
    assert first.text.startswith(f"Big, 15 May 2020: {len(first.articles)} articles (part 1 of ")
    assert f"(part {parts} of {parts}): " in rest[-1].text


def test_a_long_digest_says_what_follows_and_continues_its_topic() -> None:
    """The first message ends with how many articles are in the thread; a reply that goes on
    with a topic heads it "(continued)"."""
    topics = [Topic(name, tuple(story(n) for n in range(30))) for name in ("AI", "Cloud")]
    first, second, *_ = compose("Big", topics, WHEN)
    rest = 60 - len(first.articles)
    assert first.blocks[-1]["elements"][0]["text"] == f"➕ {rest} more articles in the thread"
    assert second.blocks[0]["text"]["text"] == "*AI (continued)*"


def test_dates_are_in_the_digest_timezone() -> None:
    """An article published at 23:30 UTC on 14 May is dated 15 May in a Berlin digest (for
    the clients that cannot show Slack's date in the reader's own timezone)."""
    late = story(published_at=datetime(2020, 5, 14, 23, 30, tzinfo=UTC))
    berlin = WHEN.astimezone(ZoneInfo("Europe/Berlin"))
    [message] = compose("D", [Topic("AI", (late,))], berlin)
    assert "|15 May 2020>" in card_blocks(message)[1]["elements"][1]["text"]
    [utc] = compose("D", [Topic("AI", (late,))], WHEN)
    assert "|14 May 2020>" in card_blocks(utc)[1]["elements"][1]["text"]


def test_the_intro_names_the_day_and_the_topics() -> None:
    """Under the header: the day of the digest, then its topics in order."""
    [message] = compose("D", [Topic("AI", (story(1),)), Topic("Cloud", (story(2),))], WHEN)
    assert message.blocks[1]["elements"][0]["text"] == (
        "<!date^1589533200^{date_long_pretty}|Friday, 15 May 2020> · AI, Cloud"
    )


def test_each_topic_has_one_heading() -> None:
    """A topic's heading comes once, before its first article."""
    [message] = compose("D", [Topic("AI", (story(1), story(2))), Topic("Cloud", (story(3),))], WHEN)
    headings = [t for t in mrkdwn_texts(message.blocks) if t in ("*AI*", "*Cloud*")]
    assert headings == ["*AI*", "*Cloud*"]


def test_an_address_too_long_to_link_leaves_the_title_unlinked() -> None:
    """A title links to its address up to 1,500 characters; past that it is shown unlinked,
    and so is a related title."""
    at_limit = "https://a.example/" + "x" * (1500 - 18)
    over = at_limit + "x"
    related = (Related("Too long", over, None), Related("Kept", at_limit, None))
    [message] = compose(
        "D", [Topic("AI", (story(1, url=at_limit, related=related), story(2, url=over)))], WHEN
    )
    first, second = card_blocks(message, 0)[0], card_blocks(message, 1)[0]
    assert first["text"]["text"].startswith(f"*<{at_limit}|Story 1>*\n")
    assert second["text"]["text"].startswith("*Story 2*\n")
    assert card_blocks(message, 0)[1]["elements"][2]["text"] == f"↪ Too long\n↪ <{at_limit}|Kept>"


def test_a_headline_without_excerpt_is_the_title_alone() -> None:
    """No excerpt: the headline is the linked title, with no empty line after it."""
    [message] = compose("D", [Topic("AI", (story(1, excerpt=""),))], WHEN)
    assert card_blocks(message)[0]["text"]["text"] == "*<https://example.com/1|Story 1>*"


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"provider": None}, "<!date^1589449980^{date_short_pretty}|14 May 2020>"),
        ({"published_at": None}, "The Verge"),
        ({"provider": None, "published_at": None}, "·"),
        (
            {"provider": "P" * 300},
            "P" * 99 + "… · <!date^1589449980^{date_short_pretty}|14 May 2020>",
        ),
    ],
)
def test_the_byline_shows_what_is_known(changes: dict, line: str) -> None:
    """The byline is the outlet (cut at 100) and the date, whichever are known, or a dot."""
    [message] = compose("D", [Topic("AI", (story(**changes),))], WHEN)
    texts = [e["text"] for e in card_blocks(message)[1]["elements"] if e["type"] == "mrkdwn"]
    assert texts[0] == line


def test_a_logo_without_an_outlet_name_is_described_as_the_provider() -> None:
    """The outlet's logo has the outlet's name as its alt text, else "provider"."""
    [named] = compose("D", [Topic("AI", (story(),))], WHEN)
    [unnamed] = compose("D", [Topic("AI", (story(provider=None),))], WHEN)
    assert card_blocks(named)[1]["elements"][0]["alt_text"] == "The Verge"
    assert card_blocks(unnamed)[1]["elements"][0]["alt_text"] == "provider"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://img.example/photo.webp?size=large", False),
        ("https://img.example/photo.webp?a=1?b=2", False),
        ("https://img.example/photo.jpg?format=.webp", True),
        ("https://img.example/" + "x" * (3000 - 24) + ".jpg", True),
        ("https://img.example/" + "x" * (3001 - 24) + ".jpg", False),
    ],
)
def test_images_slack_cannot_show_are_left_out(url: str, shown: bool) -> None:
    """An image is left out when its path (not its query) is a format Slack refuses, or its
    address is longer than 3,000 characters."""
    [message] = compose("D", [Topic("AI", (story(image=url),))], WHEN)
    assert ("accessory" in card_blocks(message)[0]) is shown


def test_render_text_reads_like_the_message() -> None:
    """The terminal rendering: underlined header, unescaped text, links after their label,
    dates as text, images by address."""
    hostile = story(1, title="<b> & co", excerpt="a < b", related=(), provider_logo=None)
    [message] = compose("H" * 100, [Topic("AI", (hostile,))], WHEN)
    assert render_text(message).split("\n") == [
        "H" * 100,
        "=" * 72,
        "    Friday, 15 May 2020 · AI",
        "AI",
        "<b> & co <https://example.com/1>",
        "a < b",
        f"    [image] {hostile.image}",
        "    The Verge · 14 May 2020",
    ]


def test_the_builder_link_is_compact_and_fully_encoded() -> None:
    """The Block Kit Builder link carries the blocks as compact JSON, non-ASCII as is, every
    reserved character (slashes too) percent-encoded."""
    [message] = compose("AI daily", [Topic("AI", (article(SONY),))], WHEN)
    fragment = builder_url(message).removeprefix("https://app.slack.com/block-kit-builder/#")
    assert "/" not in fragment and ":" not in fragment
    payload = unquote(fragment)
    assert json.loads(payload) == {"blocks": message.blocks}
    assert '", "' not in payload and '": ' not in payload and "Sony’s" in payload


def test_render_text_joins_a_context_and_shows_a_divider_as_a_blank_line() -> None:
    """A context's texts are joined by a space (the byline, then the related links, one per
    line); a divider is an empty line."""
    related = (
        Related("One", "https://r.example/1", "Wire"),
        Related("Two", "https://r.example/2", None),
    )
    [message] = compose("D", [Topic("AI", (story(1, related=related, provider_logo=None),))], WHEN)
    lines = render_text(message).split("\n")
    assert lines[-2:] == [
        "    The Verge · 14 May 2020 ↪ One <https://r.example/1> · Wire",
        "    ↪ Two <https://r.example/2>",
    ]
    divided = Message("t", [*message.blocks[:1], {"type": "divider"}], ())
    assert render_text(divided).split("\n") == ["D", "=", ""]
