"""An article's card as a reader sees it: texts cut with an ellipsis where promised, everything
escaped, every section and the notification text within Slack's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import SEEDS
from fakeslack import validate_blocks
from test_compose import mrkdwn_texts

from digestbot.articles import Article, Related, read_article
from digestbot.compose import Message, Topic, compose, fits, shorten, split, text_size
from digestbot.compose.cards import more

WHEN = datetime(2020, 5, 15, 9, 0, tzinfo=UTC)
SECTION_TEXT_MAX = 3000  # Slack's limit for a section's text
TEXT_MAX = 3000  # what digestbot allows the top-level (notification) text


def story(n: int = 0, **changes: object) -> Article:
    """The Sony seed as another story: its own title and address, with `changes`."""
    path = SEEDS / "000_5d341ca81f4b44a3.txt"
    base = replace(
        read_article(path, path.name)[1], title=f"Story {n}", url=f"https://example.com/{n}"
    )
    return replace(base, **changes)


def one(article: Article, topic: str = "AI", heading: str = "D") -> Message:
    [message] = compose(heading, [Topic(topic, (article,))], WHEN)
    return message


def headline(message: Message) -> tuple[str, str]:
    """The shown title and the excerpt of the first article: `*<url|title>*\\nexcerpt`."""
    [text] = [t for t in mrkdwn_texts(message.blocks) if t.startswith("*<")]
    link, _, excerpt = text.partition("\n")
    return link.rsplit("|", 1)[1].removesuffix(">*"), excerpt


@pytest.mark.parametrize("length", [279, 280])
def test_an_excerpt_that_fits_is_shown_whole(length: int) -> None:
    """An excerpt of up to 280 characters is shown as it is, without an ellipsis."""
    text = ("a" * 9 + " ") * 27 + "b" * (length - 270)
    assert headline(one(story(excerpt=text)))[1] == text


def test_a_long_excerpt_is_cut_to_280_characters_at_a_word() -> None:
    """A 281-character excerpt is cut before the last space within 280, with an ellipsis."""
    text = ("a" * 9 + " ") * 28 + "b"
    assert headline(one(story(excerpt=text)))[1] == ("a" * 9 + " ") * 26 + "a" * 9 + "…"


def test_long_texts_end_with_an_ellipsis_within_their_limits() -> None:
    """Header 150, topic 200, title 300, outlet 100, related title 120 and related outlet 60
    characters: each cut with an ellipsis, never rejected by Slack."""
    related = tuple(Related("x" * 300, f"https://r.example/{n}", "P" * 500) for n in range(3))
    long = story(title="T" * 5000, excerpt="word " * 2000, provider="V" * 500, related=related)
    message = one(long, topic="AI" * 300, heading="H" * 400)
    validate_blocks(message.blocks)
    assert message.blocks[0]["text"]["text"] == "H" * 149 + "…"
    texts = mrkdwn_texts(message.blocks)
    assert "*" + "AI" * 99 + "A…*" in texts
    title, excerpt = headline(message)
    assert title == "T" * 299 + "…"
    assert 250 < len(excerpt) <= 280 and excerpt.endswith("word…")
    [byline] = [t for t in texts if t.startswith("V")]
    assert byline.startswith("V" * 99 + "… · ")
    [links] = [t for t in texts if t.startswith("↪")]
    assert links.split("\n") == [
        f"↪ <https://r.example/{n}|{'x' * 119}…> · {'P' * 59}…" for n in range(3)
    ]


def test_a_headline_is_cut_to_fit_slack_after_escaping() -> None:
    """A title and an excerpt of `&` (five characters each once escaped) and a long address
    would pass Slack's 3,000 characters per section: the section is cut to fit."""
    wide = story(title="&" * 400, excerpt="&" * 400, url="https://a.example/" + "x" * 1400)
    message = one(wide)
    [text] = [t for t in mrkdwn_texts(message.blocks) if t.startswith("*<")]
    assert 2500 < len(text) <= SECTION_TEXT_MAX
    validate_blocks(message.blocks)


def test_the_notification_text_is_capped() -> None:
    """The notification text lists the titles but never passes 3,000 characters."""
    articles = tuple(story(n, title=f"Story {n} " + "word " * 100) for n in range(10))
    [message] = compose("AI daily", [Topic("AI", articles)], WHEN)
    assert message.text.startswith("AI daily, 15 May 2020: 10 articles: Story 0 word")
    assert 2900 < len(message.text) <= TEXT_MAX and message.text.endswith("…")
    assert one(story(1), heading="AI daily").text == "AI daily, 15 May 2020: 1 article: Story 1"


def test_topic_headings_and_related_links_are_escaped() -> None:
    """A topic name, a related title and a related outlet cannot mention or link anyone."""
    related = (Related("<!channel> & more", "https://r.example/1", "<@U024BE7LH> & Co"),)
    message = one(story(related=related), topic="<!here> & AI")
    texts = mrkdwn_texts(message.blocks)
    assert "*&lt;!here&gt; &amp; AI*" in texts
    assert "↪ <https://r.example/1|&lt;!channel&gt; &amp; more> · &lt;@U024BE7LH&gt; &amp; Co" in (
        texts
    )
    for markup in ("<!here>", "<!channel>", "<@U024BE7LH>"):
        assert not any(markup in text for text in [*texts, message.text])


@pytest.mark.parametrize(
    ("text", "limit", "short"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "ab…"),
        ("abcdefghij", 5, "abcd…"),
        ("aaaaaaaa bb ccc dd", 15, "aaaaaaaa bb…"),  # at the last space, not the first
        ("abcde fghijkl", 10, "abcde fgh…"),  # a space at half the limit is too early
        ("abcd efghijkl", 10, "abcd efgh…"),
        ("aaaaaa, bbbbbbbbbb", 12, "aaaaaa…"),  # no dangling punctuation before the ellipsis
        ("Big day for SpaceX launch fans", 25, "Big day for SpaceX…"),
        ("-- leading dashes stay --------", 30, "-- leading dashes stay…"),
    ],
)
def test_shorten_cuts_at_a_word_with_an_ellipsis(text: str, limit: int, short: str) -> None:
    """Within the limit, cut at the last space past half of it, trailing punctuation dropped."""
    assert shorten(text, limit) == short
    assert len(short) <= limit


def test_the_compact_layout_is_a_line_per_article() -> None:
    """layout: compact: under each topic, one line per article (linked title, outlet, date);
    lines go into as few sections as Slack's 3,000 characters allow."""
    bare = story(1, provider=None, published_at=None)
    [message] = compose("D", [Topic("AI", (story(0), bare))], WHEN, layout="compact")
    assert message.blocks[3] == {
        "type": "section",
        "block_id": "article-0-lines",
        "text": {
            "type": "mrkdwn",
            "text": "• <https://example.com/0|Story 0> · The Verge · "
            "<!date^1589449980^{date_short_pretty}|14 May 2020>\n"
            "• <https://example.com/1|Story 1> · ·",
        },
    }
    many = tuple(story(n, title=f"Story {n} " + "word " * 25) for n in range(40))
    [long] = compose("D", [Topic("AI", many)], WHEN, layout="compact")
    sections = [b for b in long.blocks if b.get("block_id", "").endswith("-lines")]
    assert len(sections) > 1
    assert all(len(b["text"]["text"]) <= SECTION_TEXT_MAX for b in sections)
    lines = [line for b in sections for line in b["text"]["text"].split("\n")]
    assert [line.split("|")[0] for line in lines] == [
        f"• <https://example.com/{n}" for n in range(40)
    ]
    assert (
        sections[1]["block_id"]
        == f"article-{len(sections[0]['text']['text'].split(chr(10)))}-lines"
    )


def test_the_first_message_heads_its_topic_plainly_and_counts_one_more() -> None:
    """The first message's topics are never "continued"; one article left over is "1 more
    article"."""
    articles = tuple(story(n, title=f"Story {n} " + "word " * 50) for n in range(30))
    messages = compose("Big", [Topic("AI", articles)], WHEN)
    first = messages[0]
    assert first.blocks[2]["text"]["text"] == "*AI*"
    count = len(articles) - len(first.articles)
    more = first.blocks[-1]["elements"][0]["text"]
    assert more == f"➕ {count} more article{'s' * (count != 1)} in the thread"


def test_what_follows_in_the_thread_is_counted_in_words() -> None:
    """One article: "1 more article"; more: "N more articles"."""
    assert more(1)["elements"][0]["text"] == "➕ 1 more article in the thread"
    assert more(2)["elements"][0]["text"] == "➕ 2 more articles in the thread"


def test_a_digest_in_two_parts_says_so_in_each_text() -> None:
    """Two messages: "(part 1 of 2)" and "(part 2 of 2)" in their notification texts."""
    articles = tuple(story(n, title=f"Story {n} " + "word " * 50) for n in range(24))
    first, second = compose("Big", [Topic("AI", articles)], WHEN)
    assert first.text.startswith(f"Big, 15 May 2020: {len(first.articles)} articles (part 1 of 2)")
    assert second.text.startswith(
        f"Big, 15 May 2020: {len(second.articles)} articles (part 2 of 2)"
    )


def test_a_reply_that_goes_on_with_the_last_article_of_a_topic_says_continued() -> None:
    """A reply opening with the last article of a topic (the next topic after it) heads it
    "(continued)", then the next topic plainly."""
    ai = tuple(story(n, title=f"A{n} " + "word " * 50) for n in range(25))
    cloud = tuple(story(100 + n, title=f"C{n} " + "word " * 50) for n in range(5))
    messages = compose("Big", [Topic("AI", ai), Topic("Cloud", cloud)], WHEN)
    [reply] = [m for m in messages[1:] if m.articles[0] is ai[-1]]
    headings = [
        b["text"]["text"] for b in reply.blocks if b.get("block_id", "").startswith("topic")
    ]
    assert headings == ["*AI (continued)*", "*Cloud*"]


def test_the_notification_text_is_cut_after_escaping_never_inside_an_entity() -> None:
    """Titles of `&` grow five-fold once escaped: the text is cut to exactly 3,000 characters
    with an ellipsis, never in the middle of `&amp;`."""
    articles = tuple(story(n, title="&" * 290) for n in range(3))
    [message] = compose("D", [Topic("AI", articles)], WHEN)
    assert len(message.text) <= TEXT_MAX and message.text.endswith("&amp;…")
    assert len(message.text) > TEXT_MAX - len("&amp;")
    exact = "x" * (TEXT_MAX - len("D, 15 May 2020: 1 article: "))
    assert one(story(title=exact)).text.endswith("x" * 10)  # exactly 3,000: kept whole


def test_text_size_counts_the_text_objects_only() -> None:
    """Slack's hidden limit counts mrkdwn and plain_text texts, in blocks, fields and
    elements, and nothing else (not alt texts, not other objects' text)."""
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Head"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "abc"},
            "fields": [{"type": "plain_text", "text": "f"}],
            "accessory": {"type": "image", "image_url": "https://i.example", "alt_text": "alt"},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "de"}, {"type": "x", "text": "no"}],
        },
    ]
    assert text_size(blocks) == 4 + 3 + 1 + 2


def test_fits_within_50_blocks_and_12000_characters() -> None:
    """50 blocks fit, 51 do not (nor 50 with one more to come); 12,000 characters of text
    fit, 12,001 do not."""
    block = {"type": "divider"}
    assert fits([block] * 50) and not fits([block] * 51)
    assert fits([block] * 49, extra_blocks=1) and not fits([block] * 50, extra_blocks=1)
    text = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}
    assert fits([text] * 4) and not fits(
        [*[text] * 4, {"type": "header", "text": {"type": "plain_text", "text": "y"}}]
    )


def test_split_halves_a_message_between_its_articles_and_its_text() -> None:
    """A refused message of four articles becomes two of two, each with the article blocks
    it had and the text halved (at least 100 characters kept); one article: text only."""
    articles = tuple(story(n) for n in range(4))
    [message] = compose("D", [Topic("AI", articles)], WHEN)
    arguments = {**message.arguments(), "text": "t" * 300}
    (first, a), (second, b) = split(arguments, 4)
    assert (a, b) == (2, 2)
    assert first["text"] == second["text"] == "t" * 150
    assert first["blocks"] + second["blocks"] == message.blocks
    assert second["blocks"][0]["block_id"] == "article-2-0"
    [(alone, count)] = split({**one(story()).arguments(), "text": "t" * 150}, 1)
    assert count == 1 and alone["text"] == "t" * 100
    reply = [b for b in message.blocks if b.get("block_id", "").startswith("article-")]
    (head, c), (tail, d) = split({"blocks": reply[2:]}, 3)  # articles 1 to 3 of a reply
    assert (
        (c, d) == (1, 2) and head["text"] == "" and tail["blocks"][0]["block_id"] == "article-2-0"
    )


def test_compact_lines_fill_a_section_up_to_exactly_3000_characters() -> None:
    """Compact lines share a section while their text, with newlines, is at most 3,000."""
    prefix = len("• <https://example.com/10|> · ·")  # every line but its title
    titles = ["t" * 150] * 17
    total = sum(prefix + len(t) for t in titles) + len(titles) - 1
    titles[-1] = "t" * (150 - (total - SECTION_TEXT_MAX))  # the lines make exactly 3,000
    bare = [story(10 + n, title=t, provider=None, published_at=None) for n, t in enumerate(titles)]
    [message] = compose("D", [Topic("AI", tuple(bare))], WHEN, layout="compact")
    [section] = [b for b in message.blocks if b.get("block_id", "").endswith("-lines")]
    assert len(section["text"]["text"]) == SECTION_TEXT_MAX
    longer = [*bare[:-1], replace(bare[-1], title=bare[-1].title + "t")]
    [message] = compose("D", [Topic("AI", tuple(longer))], WHEN, layout="compact")
    assert len([b for b in message.blocks if b.get("block_id", "").endswith("-lines")]) == 2


def test_compact_dates_are_in_the_digest_timezone() -> None:
    """The compact layout dates an article published at 23:30 UTC on 14 May as 15 May in a
    Berlin digest."""
    late = story(published_at=datetime(2020, 5, 14, 23, 30, tzinfo=UTC))
    berlin = WHEN.astimezone(ZoneInfo("Europe/Berlin"))
    [message] = compose("D", [Topic("AI", (late,))], berlin, layout="compact")
    assert "|15 May 2020>" in message.blocks[3]["text"]["text"]


def test_a_digest_that_fits_is_one_message_not_a_thread_reply() -> None:
    """One message: not a reply, part 1 of 1 (no part in its text)."""
    message = one(story(1))
    assert message.thread is False and "part" not in message.text


def test_the_first_message_of_a_long_digest_keeps_full_detail() -> None:
    """A digest continued in a thread shows its articles with all three related links."""
    related = tuple(Related(f"R{n}", f"https://r.example/{n}", None) for n in range(3))
    articles = tuple(story(n, related=related, title=f"S{n} " + "word " * 50) for n in range(30))
    first, *_ = compose("Big", [Topic("AI", articles)], WHEN)
    links = [t for t in mrkdwn_texts(first.blocks) if t.startswith("↪")]
    assert links and all(text.count("↪") == 3 for text in links)


def test_a_notification_text_cut_among_letters_keeps_exactly_3000_characters() -> None:
    """Cut among plain letters, the notification text is 3,000 characters: no more, no fewer."""
    titles = (story(0, title="R&D & AI"), story(1, title="x" * 2962))  # 3,000 before escaping
    [message] = compose("D", [Topic("AI", titles)], WHEN)
    assert message.text == "D, 15 May 2020: 2 articles: R&amp;D &amp; AI; " + "x" * 2953 + "…"
    last = story(title="x" * 2972 + "&")  # the only entity falls past the cut
    assert one(last).text == "D, 15 May 2020: 1 article: " + "x" * 2972 + "…"


def test_a_refused_message_of_two_articles_is_split_into_one_article_each() -> None:
    """Two articles are enough to split between: each part carries one, with its blocks."""
    [message] = compose("D", [Topic("AI", (story(0), story(1)))], WHEN)
    (first, a), (second, b) = split({**message.arguments(), "text": "t" * 300}, 2)
    assert (a, b) == (1, 1)
    assert [block.get("block_id") for block in second["blocks"]] == ["article-1-0", "article-1-1"]
    assert first["blocks"][-1]["block_id"] == "article-0-1"
    assert first["text"] == second["text"] == "t" * 150
